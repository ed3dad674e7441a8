//! The construction vertical: a construction-materials dealer's JSON API and browser UI per
//! tenant, behind the basecommerce proxy. The admin CLI (`basecommerce`, crate `admin/`) uses its
//! domain types and services.
//!
//! Layers, outside in: [`router`] dispatches a request to a JSON handler ([`routes`]) or a page
//! ([`ui`]); both are thin adapters over the services — [`people`], [`catalog`], [`sales`],
//! [`insights`] — which own the SQL, the rules and the outbox events, over the shared
//! vocabulary in [`domain`].

pub mod auth;
pub mod catalog;
pub mod compress;
pub mod docs;
pub mod domain;
pub mod edge;
pub mod error;
pub mod http;
pub mod insights;
pub mod metrics;
pub mod outbox;
pub mod people;
pub mod router;
pub mod routes;
pub mod sales;
pub mod sql;
pub mod startup;
pub mod state;
pub mod ui;
