//! Redis: one reconnecting connection per process (`ConnectionManager`), `redis://` or
//! `rediss://` (TLS through rustls), and the tenant-change channel caches listen on.

pub mod acl;

use redis::aio::ConnectionManager;

use crate::config::Secret;
use crate::slug::TenantSlug;

/// Pub/sub channel on which admin tools announce that a tenant changed (created, suspended,
/// resumed, renamed); the message is the slug. Caches (the proxy's) drop that entry at once.
pub const TENANT_CHANGES_CHANNEL: &str = "basecommerce:tenant-changes";

/// Pub/sub channel on which the vertical announces that a user changed (deactivated, role or
/// password changed); the message is `<tenant id>:<user id>`. Every vertical drops its cached
/// state of that user, so the user's tokens stop working on the next request.
pub const USER_CHANGES_CHANNEL: &str = "basecommerce:user-changes";

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

/// Announces a user change; returns how many subscribers heard it.
pub async fn publish_user_change(conn: &mut ConnectionManager, tenant_id: uuid::Uuid, user_id: uuid::Uuid) -> redis::RedisResult<i64> {
    redis::cmd("PUBLISH").arg(USER_CHANGES_CHANNEL).arg(format!("{tenant_id}:{user_id}")).query_async(conn).await
}

/// Follows the tenant-change channel for a cache, reconnecting forever (backing off to 5 s)
/// until `shutdown` resolves. `on_change(Some(slug))` for each announced change;
/// `on_change(None)` after every (re)subscription, because messages sent while unsubscribed
/// are lost and the cache must then forget everything.
pub async fn follow_tenant_changes<F, Fut>(url: Secret, on_change: F, shutdown: impl std::future::Future<Output = ()>)
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    follow_changes(url, TENANT_CHANGES_CHANNEL, on_change, shutdown).await
}

/// [`follow_tenant_changes`] for any announcement channel (the message is passed as is).
pub async fn follow_changes<F, Fut>(url: Secret, channel: &str, mut on_change: F, shutdown: impl std::future::Future<Output = ()>)
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
            pubsub.subscribe(channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        }
        .await;
        match subscribed {
            Ok(mut pubsub) => {
                delay = Duration::from_millis(200);
                on_change(None).await;
                tracing::info!(channel, "following changes on redis");
                let mut messages = pubsub.on_message();
                loop {
                    tokio::select! {
                        m = messages.next() => match m {
                            Some(msg) => {
                                let key: String = msg.get_payload().unwrap_or_default();
                                tracing::info!(channel, key = %key, "change announced: cache entry dropped");
                                on_change(Some(key)).await;
                            }
                            None => break,
                        },
                        _ = &mut shutdown => return,
                    }
                }
                tracing::warn!(channel, "change subscription lost; reconnecting");
            }
            Err(e) => tracing::warn!(channel, error = %e, "cannot subscribe to changes yet"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = &mut shutdown => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
