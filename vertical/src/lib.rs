//! The construction vertical: a construction-materials dealer's JSON API per tenant, behind the
//! basecommerce proxy. Also the library behind the admin CLI (`basecommerce`).

pub mod admin;
pub mod auth;
pub mod backup;
pub mod compress;
pub mod docs;
pub mod doctor;
pub mod domain;
pub mod edge;
pub mod error;
pub mod http;
pub mod metrics;
pub mod outbox;
pub mod routes;
pub mod sql;
pub mod startup;
pub mod state;
pub mod status;
pub mod ui;
pub mod validate;
