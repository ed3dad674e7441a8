//! What every request handler shares, built once at start-up.

use std::sync::Arc;

use deadpool_postgres::Pool;
use infra::Settings;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use crate::auth::tokens::TokenKeys;

/// Shared, immutable-after-start application state.
pub struct AppState {
    pub settings: Settings,
    pub pool: Pool,
    /// Filled by a background task once Redis answers, so the vertical starts (and reports
    /// not-ready) while Redis is still coming up instead of crash-looping.
    pub redis: Arc<OnceCell<ConnectionManager>>,
    pub tokens: TokenKeys,
    /// SHA-256 of the edge secret: compared in constant time with the header's digest.
    pub edge_secret_digest: [u8; 32],
    /// See [`crate::auth::password::dummy_hash`].
    pub dummy_password_hash: String,
    /// Tenant files (uploads in, variants out).
    pub files: infra::files::LocalDisk,
    /// Uploads per user in the current minute: see [`crate::routes::files::take_upload_slot`].
    pub upload_slots: std::sync::Mutex<std::collections::HashMap<uuid::Uuid, (std::time::Instant, u32)>>,
    /// Tenant rows by slug, so a request does not spend a database round trip on its tenant:
    /// see [`crate::edge::resolve_tenant`]. `None` when `vertical.tenant_cache_ttl_ms` is 0.
    pub tenants: Option<moka::sync::Cache<String, crate::domain::tenant::Tenant>>,
    /// Users' current standing, for revocation on the next request: see
    /// [`crate::auth::revocation`]. `None` when `vertical.tenant_cache_ttl_ms` is 0.
    pub standings: Option<crate::auth::revocation::StandingCache>,
    /// Request-body bytes the vertical holds at once, over all requests (one permit a byte).
    pub body_budget: tokio::sync::Semaphore,
    /// Request, login and pool figures for `/metrics` (see [`crate::metrics`]).
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// A transaction bound to `tenant` on a pooled connection: the one way request code reaches
    /// tenant data (row-level security confines everything inside to that tenant).
    pub async fn tenant_tx(&self, tenant: &crate::domain::tenant::Tenant) -> crate::domain::DomainResult<infra::db::TenantTx> {
        Ok(infra::db::TenantTx::begin(self.pool.get().await?, tenant.id).await?)
    }

    /// A pooled connection for pipelined read-only work ([`infra::db::tenant_read`]).
    pub async fn db(&self) -> crate::domain::DomainResult<infra::db::PooledClient> {
        Ok(self.pool.get().await?)
    }
}
