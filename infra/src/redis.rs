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

/// Follows the tenant-change channel for a cache, reconnecting forever (backing off to 5 s)
/// until `shutdown` resolves. `on_change(Some(slug))` for each announced change;
/// `on_change(None)` after every (re)subscription, because messages sent while unsubscribed
/// are lost and the cache must then forget everything.
pub async fn follow_tenant_changes<F, Fut>(url: Secret, mut on_change: F, shutdown: impl std::future::Future<Output = ()>)
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::StreamExt;
    use std::time::Duration;
    tokio::pin!(shutdown);
    let mut delay = Duration::from_millis(200);
    loop {
        let subscribed = async {
            let client = redis::Client::open(url.expose())?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(TENANT_CHANGES_CHANNEL).await?;
            Ok::<_, redis::RedisError>(pubsub)
        }
        .await;
        match subscribed {
            Ok(mut pubsub) => {
                delay = Duration::from_millis(200);
                on_change(None).await;
                tracing::info!("following tenant changes on redis");
                let mut messages = pubsub.on_message();
                loop {
                    tokio::select! {
                        m = messages.next() => match m {
                            Some(msg) => {
                                let slug: String = msg.get_payload().unwrap_or_default();
                                tracing::info!(tenant = %slug, "tenant changed: cache entry dropped");
                                on_change(Some(slug)).await;
                            }
                            None => break,
                        },
                        _ = &mut shutdown => return,
                    }
                }
                tracing::warn!("tenant-change subscription lost; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to tenant changes yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = &mut shutdown => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
