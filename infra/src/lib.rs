//! Shared plumbing for every basecommerce service: configuration, telemetry, the Postgres pool
//! and tenant transactions, migrations, Redis, the domain-event envelope, health probes and the
//! `TenantSlug` type. Business logic lives in the service crates, not here.

pub mod bus;
pub mod config;
pub mod db;
pub mod edge;
pub mod events;
pub mod files;
pub mod health;
#[cfg(feature = "image")]
pub mod images;
pub mod migrations;
pub mod paths;
pub mod redis;
pub mod shutdown;
pub mod slug;
pub mod systemd;
pub mod telemetry;

pub use config::{ConfigError, Secret, Settings};
pub use events::{Event, EventEnvelope};
pub use slug::{SlugError, TenantSlug};
