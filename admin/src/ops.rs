//! Operations behind the admin CLI (`basecommerce`): migrations, tenants, users. They run as the
//! schema owner (`database.migrate_url`), and announce tenant changes on Redis so edge caches
//! drop stale entries at once.

use deadpool_postgres::Pool;
use infra::{Settings, TenantSlug};
use serde::Serialize;
use uuid::Uuid;

use basecommerce_vertical::domain::tenant::{Tenant, TenantStatus, TENANT_COLUMNS};
use basecommerce_vertical::domain::user::{Email, NewPassword, Role};
use basecommerce_vertical::error::ApiError;
use basecommerce_vertical::people::users::{self, UserView};

/// Why an admin command failed; each kind has its own exit code.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Config(#[from] infra::ConfigError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

impl AdminError {
    /// sysexits-style codes: scripts can tell a typo from an outage.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid(_) => 65,     // EX_DATAERR
            Self::NotFound(_) => 66,    // EX_NOINPUT
            Self::Conflict(_) => 73,    // EX_CANTCREAT
            Self::Unavailable(_) => 69, // EX_UNAVAILABLE
            Self::Config(_) => 78,      // EX_CONFIG
            Self::Failed(_) => 70,      // EX_SOFTWARE
        }
    }
}

impl From<infra::db::DbError> for AdminError {
    fn from(e: infra::db::DbError) -> Self {
        match e {
            infra::db::DbError::Config(c) => Self::Config(c),
            infra::db::DbError::Pool(p) => Self::Unavailable(p.to_string()),
            infra::db::DbError::Postgres(pg) => pg.into(),
            infra::db::DbError::Migration(m) => Self::Failed(m),
        }
    }
}

impl From<tokio_postgres::Error> for AdminError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<deadpool_postgres::PoolError> for AdminError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<basecommerce_vertical::domain::DomainError> for AdminError {
    fn from(e: basecommerce_vertical::domain::DomainError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Conflict { message, .. } => Self::Conflict(message),
            ApiError::NotFound(m) => Self::NotFound(m),
            ApiError::Unavailable(m) => Self::Unavailable(m),
            ApiError::BadRequest { message, .. } | ApiError::Unprocessable { message, .. } => Self::Invalid(message),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// A tenant as the CLI prints it.
#[derive(Debug, Serialize)]
pub struct TenantSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: &'static str,
    pub users: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// One certificate of the edge as `basecommerce cert status` prints it.
#[derive(Debug, Serialize)]
pub struct CertificateStatus {
    pub name: String,
    pub issuer: Option<String>,
    pub not_after: Option<chrono::DateTime<chrono::Utc>>,
    pub failures: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `basecommerce events status`.
#[derive(Debug, Serialize)]
pub struct EventsStatus {
    pub stream: infra::bus::StreamStatus,
    pub relay_leader: Option<RelayLeader>,
    /// Outbox rows the relay has not published yet (-1 when unknown).
    pub outbox_unpublished: i64,
}

#[derive(Debug, Serialize)]
pub struct RelayLeader {
    pub name: Option<String>,
    /// Visible only to roles allowed to see other sessions (pg_read_all_stats).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

/// One entry of the dead-letter stream.
#[derive(Debug, Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub event_type: String,
    pub reason: String,
    pub source_id: String,
    pub deliveries: String,
    pub event: serde_json::Value,
}

impl DeadLetter {
    fn from_entry(e: &redis::streams::StreamId) -> Self {
        let field = |k: &str| e.get::<String>(k).unwrap_or_default();
        Self {
            id: e.id.clone(),
            event_type: field(infra::bus::FIELD_TYPE),
            reason: field(infra::bus::FIELD_REASON),
            source_id: field(infra::bus::FIELD_SOURCE_ID),
            deliveries: field(infra::bus::FIELD_DELIVERIES),
            event: serde_json::from_str(&field(infra::bus::FIELD_EVENT)).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The result of a tenant change: the tenant, and whether caches were told.
#[derive(Debug, Serialize)]
pub struct TenantChange {
    pub tenant: Tenant,
    pub admin: Option<UserView>,
    pub invalidation_published: bool,
}

/// Admin operations over the owner connection.
pub struct Admin {
    pool: Pool,
    settings: Settings,
}

impl Admin {
    pub fn new(settings: Settings) -> Result<Self, AdminError> {
        let pool = infra::db::pool(settings.require_migrate_url()?, &settings.database, 2)?;
        Ok(Self { pool, settings })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<infra::migrations::MigrationReport, AdminError> {
        let mut client = self.pool.get().await?;
        Ok(infra::migrations::run(&mut client).await?)
    }

    /// Creates a tenant and, optionally, its first admin in one transaction.
    pub async fn create_tenant(&self, slug: &TenantSlug, name: &str, admin: Option<(Email, NewPassword)>) -> Result<TenantChange, AdminError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(AdminError::Invalid("--name must be 1 to 200 characters".into()));
        }
        // The id is chosen here so the one transaction can be bound to the new tenant from its
        // first statement (the tenant row itself is not under row-level security).
        let id = Uuid::new_v4();
        let tx = infra::db::TenantTx::begin(self.pool.get().await?, id).await?;
        let row = tx
            .query_opt(
                &format!("INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING RETURNING {TENANT_COLUMNS}"),
                &[&id, &slug.as_str(), &name],
            )
            .await?
            .ok_or_else(|| AdminError::Conflict(format!("tenant {slug} already exists")))?;
        let tenant = Tenant::from_row(&row).map_err(AdminError::Failed)?;
        let admin = match admin {
            Some((email, password)) => Some(users::insert(&tx, &email, "Administrator", &password, Role::Admin).await?),
            None => None,
        };
        tx.commit().await?;
        let invalidation_published = self.announce(slug).await;
        Ok(TenantChange { tenant, admin, invalidation_published })
    }

    /// All tenants with their user counts.
    pub async fn list_tenants(&self) -> Result<Vec<TenantSummary>, AdminError> {
        let client = self.pool.get().await?;
        // users is under forced RLS even for the owner, so count through a per-tenant setting.
        let rows = client.query("SELECT id, slug, name, status, created_at FROM tenants ORDER BY slug", &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        drop(client);
        for r in rows {
            let id: Uuid = r.get(0);
            let tx = infra::db::TenantTx::begin_read_only(self.pool.get().await?, id).await?;
            let users: i64 = tx.query_one("SELECT count(*) FROM users", &[]).await?.get(0);
            tx.commit().await?;
            let status: String = r.get(3);
            out.push(TenantSummary {
                id,
                slug: r.get(1),
                name: r.get(2),
                status: TenantStatus::parse(&status).map(TenantStatus::as_str).unwrap_or("unknown"),
                users,
                created_at: r.get(4),
            });
        }
        Ok(out)
    }

    /// The edge's certificates (issued by its ACME client) and the names still failing.
    pub async fn cert_status(&self) -> Result<Vec<CertificateStatus>, AdminError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT coalesce(c.name, s.name), c.issuer, c.not_after, coalesce(s.failures, 0), s.last_error, s.next_attempt_at \
                 FROM acme_certificates c FULL JOIN acme_status s ON s.name = c.name ORDER BY 1",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| CertificateStatus {
                name: r.get(0),
                issuer: r.get(1),
                not_after: r.get(2),
                failures: r.get(3),
                last_error: r.get(4),
                next_attempt_at: r.get(5),
            })
            .collect())
    }

    /// Suspends or resumes a tenant and announces the change.
    pub async fn set_status(&self, slug: &TenantSlug, status: TenantStatus) -> Result<TenantChange, AdminError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                &format!("UPDATE tenants SET status = $2, updated_at = now() WHERE slug = $1 RETURNING {TENANT_COLUMNS}"),
                &[&slug.as_str(), &status.as_str()],
            )
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no tenant {slug}")))?;
        let tenant = Tenant::from_row(&row).map_err(AdminError::Failed)?;
        let invalidation_published = self.announce(slug).await;
        Ok(TenantChange { tenant, admin: None, invalidation_published })
    }

    /// Adds a user to a tenant.
    pub async fn create_user(&self, slug: &TenantSlug, email: &Email, name: &str, role: Role, password: &NewPassword) -> Result<UserView, AdminError> {
        let client = self.pool.get().await?;
        let tenant_id: Uuid = client
            .query_opt("SELECT id FROM tenants WHERE slug = $1", &[&slug.as_str()])
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("no tenant {slug}")))?
            .get(0);
        let tx = infra::db::TenantTx::begin(client, tenant_id).await?;
        let user = users::insert(&tx, email, name, password, role).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn redis(&self) -> Result<redis::aio::ConnectionManager, AdminError> {
        let url = self.settings.require_redis_url()?;
        infra::redis::connect(url).await.map_err(|e| AdminError::Unavailable(format!("redis: {e}")))
    }

    /// The event bus at a glance: stream length, group lag, pending, dead letters, relay leader.
    pub async fn events_status(&self) -> Result<EventsStatus, AdminError> {
        let mut redis = self.redis().await?;
        let stream = infra::bus::status(&mut redis, &self.settings.engines).await.map_err(|e| AdminError::Unavailable(format!("redis: {e}")))?;
        let client = self.pool.get().await?;
        let leader = client
            .query_opt(
                "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::int8 << 32) | l.objid::int8) = $1 \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&infra::bus::RELAY_LOCK_KEY],
            )
            .await?
            .map(|r| RelayLeader { name: r.get(0), since: r.get(1) });
        let unpublished: i64 = client.query_one("SELECT count(*) FROM event_outbox WHERE published_at IS NULL", &[]).await.map(|r| r.get(0)).unwrap_or(-1);
        Ok(EventsStatus { stream, relay_leader: leader, outbox_unpublished: unpublished })
    }

    /// Dead letters, oldest first.
    pub async fn dlq_list(&self, limit: usize) -> Result<Vec<DeadLetter>, AdminError> {
        let mut redis = self.redis().await?;
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&self.settings.engines.dlq_stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut redis)
            .await
            .map_err(|e| AdminError::Unavailable(format!("redis: {e}")))?;
        Ok(reply.ids.iter().map(DeadLetter::from_entry).collect())
    }

    /// Puts dead letters back on the main stream (after the cause was fixed) and removes them
    /// from the dead-letter stream. Added before deleted: a crash replays twice, never zero times
    /// (the engines deduplicate).
    pub async fn dlq_replay(&self, id: Option<&str>) -> Result<Vec<String>, AdminError> {
        let mut redis = self.redis().await?;
        let e = &self.settings.engines;
        let (start, end) = match id {
            Some(id) => (id.to_owned(), id.to_owned()),
            None => ("-".to_owned(), "+".to_owned()),
        };
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&e.dlq_stream)
            .arg(&start)
            .arg(&end)
            .query_async(&mut redis)
            .await
            .map_err(|e| AdminError::Unavailable(format!("redis: {e}")))?;
        if reply.ids.is_empty() {
            return Err(AdminError::NotFound(match id {
                Some(id) => format!("no dead letter {id}"),
                None => "the dead-letter stream is empty".into(),
            }));
        }
        let mut replayed = Vec::new();
        for entry in &reply.ids {
            let event: String = entry.get(infra::bus::FIELD_EVENT).unwrap_or_default();
            let event_type: String = entry.get(infra::bus::FIELD_TYPE).unwrap_or_default();
            let result: redis::RedisResult<()> = async {
                redis::cmd("XADD")
                    .arg(&e.stream)
                    .arg("*")
                    .arg(infra::bus::FIELD_EVENT)
                    .arg(&event)
                    .arg(infra::bus::FIELD_TYPE)
                    .arg(&event_type)
                    .query_async::<String>(&mut redis)
                    .await?;
                redis::cmd("XDEL").arg(&e.dlq_stream).arg(&entry.id).query_async::<u64>(&mut redis).await?;
                Ok(())
            }
            .await;
            result.map_err(|err| AdminError::Unavailable(format!("redis: {err}")))?;
            replayed.push(entry.id.clone());
        }
        Ok(replayed)
    }

    /// Publishes the tenant change; a Redis outage is reported, not fatal (caches expire anyway).
    async fn announce(&self, slug: &TenantSlug) -> bool {
        let Some(url) = self.settings.redis.url.as_ref() else { return false };
        let result = async {
            let mut conn = infra::redis::connect(url).await?;
            infra::redis::publish_tenant_change(&mut conn, slug).await
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), result).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not publish the tenant change on Redis");
                false
            }
            Err(_) => {
                tracing::warn!("timed out publishing the tenant change on Redis");
                false
            }
        }
    }
}
