//! The outbox relay: moves committed `event_outbox` rows to the Redis stream.
//!
//! Exactly one relay leads (a session-level Postgres advisory lock on a dedicated connection);
//! others wait as hot standby and take over within about a second when the leader's session
//! ends. The leader wakes on NOTIFY (sent by the vertical's commit) and also polls every
//! `poll_interval_ms`, reads unpublished rows in insertion order, XADDs them, then marks them
//! published — at-least-once: a crash between the two republishes, and the worker deduplicates
//! on `event_id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use tokio::sync::watch;

use crate::metrics::Metrics;
use infra::bus::{safe_trim_id, FIELD_EVENT, FIELD_TYPE, RELAY_LOCK_KEY};
use infra::events::OUTBOX_NOTIFY_CHANNEL;
use infra::{EventEnvelope, Settings};

/// Why a leadership term ended (the relay then reconnects and competes again).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Db(#[from] infra::db::DbError),
    #[error("database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the listening connection was lost")]
    ConnectionLost,
}

/// Publishes the outbox to the stream while it holds the leader lock.
pub struct OutboxRelay {
    settings: Arc<Settings>,
    redis: ConnectionManager,
    metrics: Arc<Metrics>,
    name: String,
}

impl OutboxRelay {
    pub fn new(settings: Arc<Settings>, redis: ConnectionManager, metrics: Arc<Metrics>) -> Self {
        let name = format!("basecommerce-relay@{}", crate::instance_name());
        Self { settings, redis, metrics, name }
    }

    /// Runs until `shutdown` flips to true; errors end a term, never the relay.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        while !*shutdown.borrow() {
            let term = self.lead(&mut shutdown).await;
            self.metrics.is_leader.set(0);
            match term {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "relay term ended; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::info!("relay stopped");
    }

    async fn lead(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<(), RelayError> {
        let url = self.settings.require_engines_database_url().map_err(infra::db::DbError::from)?.clone();
        let (client, mut notifications) = infra::db::listen(&url, &self.settings.database, &self.name, OUTBOX_NOTIFY_CHANNEL).await?;
        let mut announced = false;
        loop {
            let leader: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&RELAY_LOCK_KEY]).await?.get(0);
            if leader {
                break;
            }
            if !announced {
                tracing::info!("another relay leads; standing by");
                announced = true;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.changed() => return Ok(()),
            }
            if client.is_closed() {
                return Err(RelayError::ConnectionLost);
            }
        }
        self.metrics.is_leader.set(1);
        tracing::info!(relay = %self.name, "relay is the leader");
        crate::systemd::ready();

        let select = client
            .prepare(
                "SELECT id, event_id, tenant_id, aggregate_type, aggregate_id, event_type, version, occurred_at, payload \
                 FROM event_outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            )
            .await?;
        let mark = client.prepare("UPDATE event_outbox SET published_at = now() WHERE id = ANY($1)").await?;
        let poll = Duration::from_millis(self.settings.engines.poll_interval_ms);
        let mut housekeeping = Instant::now();
        let mut watchdog = crate::systemd::Watchdog::from_env();
        loop {
            watchdog.tick();
            let rows = client.query(&select, &[&self.settings.engines.batch_size]).await?;
            if !rows.is_empty() {
                let mut pipe = redis::pipe();
                let mut ids = Vec::with_capacity(rows.len());
                for r in &rows {
                    ids.push(r.get::<_, i64>(0));
                    let event = EventEnvelope {
                        event_id: r.get(1),
                        tenant_id: r.get(2),
                        aggregate_type: r.get(3),
                        aggregate_id: r.get(4),
                        event_type: r.get(5),
                        version: r.get(6),
                        occurred_at: r.get(7),
                        payload: r.get(8),
                    };
                    let json = serde_json::to_string(&event).unwrap_or_default();
                    pipe.cmd("XADD")
                        .arg(&self.settings.engines.stream)
                        .arg("MAXLEN")
                        .arg("~")
                        .arg(self.settings.engines.stream_maxlen)
                        .arg("*")
                        .arg(FIELD_EVENT)
                        .arg(json)
                        .arg(FIELD_TYPE)
                        .arg(&event.event_type)
                        .ignore();
                }
                pipe.query_async::<()>(&mut self.redis).await?;
                client.execute(&mark, &[&ids]).await?;
                self.metrics.published.inc_by(ids.len() as u64);
                tracing::debug!(count = ids.len(), "published");
            }
            if housekeeping.elapsed() >= Duration::from_secs(30) {
                self.housekeeping(&client).await;
                housekeeping = Instant::now();
            }
            if rows.len() as i64 >= self.settings.engines.batch_size {
                continue;
            }
            tokio::select! {
                n = notifications.recv() => if n.is_none() { return Err(RelayError::ConnectionLost) },
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Prunes published rows past retention and trims the stream below what every group has
    /// acknowledged. Failures are logged: they only delay cleanup.
    async fn housekeeping(&mut self, client: &tokio_postgres::Client) {
        let hours = self.settings.engines.retention_hours as i32;
        match client.execute("DELETE FROM event_outbox WHERE published_at < now() - make_interval(hours => $1)", &[&hours]).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "pruned published outbox rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox pruning failed"),
        }
        match safe_trim_id(&mut self.redis, &self.settings.engines.stream).await {
            Ok(Some(min_id)) => {
                let trimmed: redis::RedisResult<u64> =
                    redis::cmd("XTRIM").arg(&self.settings.engines.stream).arg("MINID").arg("~").arg(&min_id).query_async(&mut self.redis).await;
                if let Err(e) = trimmed {
                    tracing::warn!(error = %e, "stream trim failed");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "stream trim check failed"),
        }
    }
}

/// What waits in the outbox: the relay's backlog, read by the health probes of the relay *and*
/// the worker (so it stays visible while no relay runs).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct OutboxBacklog {
    pub unpublished: i64,
    /// Age of the oldest unpublished row; 0 when there is none.
    pub oldest_seconds: f64,
}

/// Reads the [`OutboxBacklog`] (both through the partial index of unpublished rows).
pub async fn outbox_backlog(client: &tokio_postgres::Client) -> Result<OutboxBacklog, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT count(*), COALESCE((SELECT EXTRACT(EPOCH FROM now() - occurred_at)::float8 FROM event_outbox \
                                        WHERE published_at IS NULL ORDER BY id LIMIT 1), 0) \
             FROM event_outbox WHERE published_at IS NULL",
            &[],
        )
        .await?;
    Ok(OutboxBacklog { unpublished: row.get(0), oldest_seconds: row.get::<_, f64>(1).max(0.0) })
}
