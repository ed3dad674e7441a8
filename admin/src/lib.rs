//! Appliance operation, apart from the services it operates: the `basecommerce` CLI's migrations,
//! tenants and users ([`Admin`]), `doctor`, backups and `status`. It reuses the vertical's domain
//! types (so a slug, an e-mail or a role is parsed by the same rules everywhere) but never serves
//! a request.

pub mod backup;
pub mod doctor;
pub mod ops;
pub mod status;

pub use ops::{Admin, AdminError, TenantChange};
