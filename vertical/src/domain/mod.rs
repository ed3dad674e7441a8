//! Domain types that cannot hold invalid values: once parsed, they are trusted everywhere.

pub mod pricing;
pub mod tenant;
pub mod user;
