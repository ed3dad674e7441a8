//! The business vocabulary every service shares: errors, validated values (roles, e-mails,
//! prices, addresses), PATCH fields and keyset pages. Types here cannot hold invalid values:
//! once parsed, they are trusted everywhere.
//!
//! The services themselves are one module per business concept: [`crate::people`] (clients,
//! sites, users), [`crate::catalog`] (products, suppliers, stock), [`crate::sales`] (quotes,
//! orders) and [`crate::insights`] (dashboard, the engines' findings). Each owns its SQL, its
//! rules and its outbox events, and takes a [`infra::db::TenantTx`]; the JSON API
//! (`crate::routes`) and the browser UI (`crate::ui`) are adapters over them.

pub mod address;
pub mod error;
pub mod nullable;
pub mod page;
pub mod pricing;
pub mod tenant;
pub mod user;
pub mod validate;

pub use address::Address;
pub use error::{DomainError, DomainResult};
pub use nullable::Nullable;
pub use page::{Cursor, Page, PageRequest};

use crate::auth::Principal;
use user::Role;

/// Refuses (403) a principal that is not an admin: admins manage users, products, suppliers
/// and stock.
pub fn require_admin(who: &Principal) -> DomainResult<()> {
    if who.role == Role::Admin {
        Ok(())
    } else {
        Err(DomainError::forbidden("forbidden", "this action needs the admin role"))
    }
}
