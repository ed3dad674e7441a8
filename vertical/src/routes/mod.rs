//! The JSON API's handlers: each parses its request, calls one service (`crate::people`,
//! `crate::catalog`, `crate::sales`, `crate::insights`) and serialises the answer. No SQL and
//! no business rules live here; [`crate::router`] dispatches to them.

pub mod auth;
pub mod clients;
pub mod cors;
pub mod dashboard;
pub mod files;
pub mod health;
pub mod insights;
pub mod orders;
pub mod products;
pub mod quotes;
pub mod sites;
pub mod stock;
pub mod suppliers;
pub mod tenant;
pub mod users;
