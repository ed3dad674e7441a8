//! Revocation that takes effect on the next request. An access token names the user's
//! `token_version`; a migration's trigger moves the version whenever the user is deactivated
//! or their role or password changes. Every request with a valid token compares the token's
//! version and role with the user's current ones, read from a short-lived cache that the user
//! update path drops at once — here and, through the Redis announcement, on every vertical.

use std::time::Duration;

use uuid::Uuid;

use crate::auth::tokens::Claims;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What a token must still agree with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserStanding {
    pub active: bool,
    pub role: Role,
    pub version: i32,
}

/// Cached standings by (tenant, user).
pub type StandingCache = moka::sync::Cache<(Uuid, Uuid), Option<UserStanding>>;

/// A cache for standings; entries also expire on their own after `ttl` (the safety net for a
/// missed announcement), `None` when caching is off.
pub fn cache(ttl_ms: u64) -> Option<StandingCache> {
    (ttl_ms > 0).then(|| moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_millis(ttl_ms)).build())
}

/// Whether the token still speaks for its user: the user exists, is active, and has the
/// token's role and version.
pub async fn still_valid(state: &AppState, claims: &Claims) -> ApiResult<bool> {
    let standing = standing(state, claims.tid, claims.sub).await?;
    Ok(standing.is_some_and(|s| s.active && s.role == claims.role && s.version == claims.ver))
}

async fn standing(state: &AppState, tenant_id: Uuid, user_id: Uuid) -> ApiResult<Option<UserStanding>> {
    if let Some(hit) = state.standings.as_ref().and_then(|c| c.get(&(tenant_id, user_id))) {
        return Ok(hit);
    }
    let tx = infra::db::TenantTx::begin_read_only(state.pool.get().await?, tenant_id).await?;
    let row = tx.query_opt("SELECT active, role, token_version FROM users WHERE id = $1 AND tenant_id = $2", &[&user_id, &tenant_id]).await?;
    tx.commit().await?;
    let standing = match row {
        Some(r) => {
            let role = Role::parse(r.get(1)).ok_or_else(|| ApiError::Internal("stored role".into()))?;
            Some(UserStanding { active: r.get(0), role, version: r.get(2) })
        }
        None => None,
    };
    if let Some(cache) = &state.standings {
        cache.insert((tenant_id, user_id), standing);
    }
    Ok(standing)
}

/// Call after a user's active flag, role or password changed (after the commit): drops the
/// cached standing here and announces the change to the other verticals. An announcement that
/// cannot be sent is logged; the other verticals' entries then expire within the cache TTL.
pub async fn user_changed(state: &AppState, tenant_id: Uuid, user_id: Uuid) {
    if let Some(cache) = &state.standings {
        cache.invalidate(&(tenant_id, user_id));
    }
    let Some(conn) = state.redis.get() else {
        tracing::warn!(user = %user_id, "user change not announced: redis not connected yet");
        return;
    };
    if let Err(e) = infra::redis::publish_user_change(&mut conn.clone(), tenant_id, user_id).await {
        tracing::warn!(user = %user_id, error = %e, "user change not announced on redis");
    }
}

/// Keeps `cache` in step with announced user changes (everything is dropped after a
/// reconnect, when announcements may have been missed). Lives as long as the runtime.
pub async fn follow_user_changes(url: infra::Secret, cache: StandingCache) {
    let on_change = |key: Option<String>| {
        match key.as_deref().map(parse_key) {
            Some(Some(key)) => cache.invalidate(&key),
            Some(None) => {}
            None => cache.invalidate_all(),
        }
        std::future::ready(())
    };
    infra::redis::follow_changes(url, infra::redis::USER_CHANGES_CHANNEL, on_change, std::future::pending()).await;
}

fn parse_key(text: &str) -> Option<(Uuid, Uuid)> {
    let (tenant, user) = text.split_once(':')?;
    Some((Uuid::parse_str(tenant).ok()?, Uuid::parse_str(user).ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn announcement_keys() {
        let (t, u) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        assert_eq!(super::parse_key(&format!("{t}:{u}")), Some((t, u)));
        assert_eq!(super::parse_key("acme"), None);
        assert_eq!(super::parse_key(&format!("{t}:x")), None);
    }
}
