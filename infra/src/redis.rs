//! Redis: one reconnecting connection per process (`ConnectionManager`), `redis://` or
//! `rediss://` (TLS through rustls), and the tenant-change channel caches listen on.

use redis::aio::ConnectionManager;

use crate::config::Secret;
use crate::slug::TenantSlug;

/// Pub/sub channel on which admin tools announce that a tenant changed (created, suspended,
/// resumed, renamed); the message is the slug. Caches (the proxy's) drop that entry at once.
pub const TENANT_CHANGES_CHANNEL: &str = "basecommerce:tenant-changes";

/// Opens a connection manager that reconnects by itself after Redis restarts.
pub async fn connect(url: &Secret) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url.expose())?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
        .set_response_timeout(Some(std::time::Duration::from_secs(5)));
    ConnectionManager::new_with_config(client, config).await
}

/// Announces a tenant change; returns how many subscribers heard it.
pub async fn publish_tenant_change(conn: &mut ConnectionManager, slug: &TenantSlug) -> redis::RedisResult<i64> {
    redis::cmd("PUBLISH").arg(TENANT_CHANGES_CHANNEL).arg(slug.as_str()).query_async(conn).await
}
