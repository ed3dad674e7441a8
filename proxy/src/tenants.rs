//! Tenant existence and status for the edge, cached so the steady state costs no database
//! query: positive entries live `tenant_cache_ttl_secs`, negative ones (unknown hosts) only
//! `negative_cache_ttl_secs` so random subdomains cannot hammer the database yet new tenants
//! appear quickly. Concurrent misses for one key share one query. A tenant change announced on
//! Redis drops the entry at once.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use moka::future::Cache;

use infra::TenantSlug;

/// What the edge needs to know about a host's tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantState {
    Active(TenantSlug),
    Suspended(TenantSlug),
    Unknown,
}

/// Lookup failures (the database is down): the edge answers 503 rather than guessing.
#[derive(Debug, Clone, thiserror::Error)]
#[error("tenant lookup failed: {0}")]
pub struct LookupError(pub String);

/// Cached tenant lookups by slug and by custom domain.
pub struct TenantResolver {
    pool: Pool,
    by_slug: Cache<String, TenantState>,
    by_domain: Cache<String, TenantState>,
    unknown: Cache<String, ()>,
    pub metrics: crate::metrics::CacheMetrics,
}

impl TenantResolver {
    pub fn new(pool: Pool, ttl: Duration, negative_ttl: Duration, capacity: u64) -> Arc<Self> {
        Arc::new(Self {
            pool,
            by_slug: Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
            by_domain: Cache::builder().max_capacity(capacity).time_to_live(ttl).build(),
            unknown: Cache::builder().max_capacity(capacity).time_to_live(negative_ttl).build(),
            metrics: crate::metrics::CacheMetrics::default(),
        })
    }

    /// The state of tenant `slug`.
    pub async fn by_slug(&self, slug: &TenantSlug) -> Result<TenantState, LookupError> {
        self.cached(&self.by_slug, 's', slug.as_str(), "SELECT slug, status FROM tenants WHERE slug = $1").await
    }

    /// The tenant of a verified custom domain.
    pub async fn by_domain(&self, host: &str) -> Result<TenantState, LookupError> {
        self.cached(
            &self.by_domain,
            'd',
            host,
            "SELECT t.slug, t.status FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id WHERE d.domain = $1 AND d.verified",
        )
        .await
    }

    async fn cached(&self, cache: &Cache<String, TenantState>, kind: char, key: &str, sql: &'static str) -> Result<TenantState, LookupError> {
        // Known tenants are nearly every request: look there first, so the steady state neither
        // formats the negative key nor touches the negative cache.
        if let Some(state) = cache.get(key).await {
            self.metrics.hit();
            return Ok(state);
        }
        let negative_key = format!("{kind}:{key}");
        if self.unknown.contains_key(&negative_key) {
            self.metrics.hit();
            return Ok(TenantState::Unknown);
        }
        self.metrics.miss();
        let pool = self.pool.clone();
        let owned = key.to_owned();
        let state = cache.try_get_with(key.to_owned(), async move { lookup(&pool, sql, &owned).await }).await.map_err(|e: Arc<LookupError>| (*e).clone())?;
        if state == TenantState::Unknown {
            // Unknown hosts get the short negative TTL instead.
            cache.invalidate(key).await;
            self.unknown.insert(negative_key, ()).await;
        }
        Ok(state)
    }

    /// Forgets everything known about `slug` (and every custom domain: they are few, and the
    /// message does not say which ones belong to the tenant).
    pub async fn invalidate(&self, slug: &str) {
        self.by_slug.invalidate(slug).await;
        self.by_domain.invalidate_all();
        self.unknown.invalidate_all();
    }

    /// Forgets everything (after a Redis reconnect, when messages may have been missed).
    pub fn invalidate_all(&self) {
        self.by_slug.invalidate_all();
        self.by_domain.invalidate_all();
        self.unknown.invalidate_all();
    }

    /// Keeps the cache in step with tenant changes announced on Redis, reconnecting forever.
    pub async fn follow_changes(self: Arc<Self>, redis_url: infra::Secret, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let on_change = |slug: Option<String>| {
            let me = self.clone();
            async move {
                match slug {
                    Some(slug) => me.invalidate(&slug).await,
                    None => me.invalidate_all(),
                }
            }
        };
        infra::redis::follow_tenant_changes(redis_url, on_change, async move {
            let _ = shutdown.changed().await;
        })
        .await;
    }
}

async fn lookup(pool: &Pool, sql: &str, key: &str) -> Result<TenantState, LookupError> {
    let client = pool.get().await.map_err(|e| LookupError(e.to_string()))?;
    let stmt = client.prepare_cached(sql).await.map_err(|e| LookupError(infra::db::describe(&e)))?;
    let row = client.query_opt(&stmt, &[&key]).await.map_err(|e| LookupError(infra::db::describe(&e)))?;
    Ok(match row {
        None => TenantState::Unknown,
        Some(r) => {
            let slug: String = r.get(0);
            let status: String = r.get(1);
            match TenantSlug::parse(&slug) {
                Err(_) => TenantState::Unknown,
                Ok(slug) if status == "active" => TenantState::Active(slug),
                Ok(slug) => TenantState::Suspended(slug),
            }
        }
    })
}
