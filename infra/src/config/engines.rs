//! `[engines]`: the outbox relay and the consumer-group worker.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::database::validate_postgres_url;
use super::{ConfigError, Secret};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnginesSettings {
    /// Redis stream the relay publishes to and the worker reads.
    pub stream: String,
    /// Where events that failed `max_deliveries` times go, with the reason.
    pub dlq_stream: String,
    /// Consumer group shared by all workers.
    pub group: String,
    /// `XADD … MAXLEN ~` ceiling: a memory safety valve only. Normal trimming never drops an
    /// entry the group has not acknowledged.
    pub stream_maxlen: usize,
    /// Connection URL for the engines (a member of basecommerce_relay, which may read the whole
    /// outbox); defaults to `database.url`.
    pub database_url: Option<Secret>,
    /// Fallback poll when no NOTIFY arrives (a lost notification costs at most this).
    pub poll_interval_ms: u64,
    /// Outbox rows per relay batch.
    pub batch_size: i64,
    /// Published outbox rows are deleted after this many hours.
    pub retention_hours: i64,
    /// A pending message idle this long is reclaimed by another worker (longer than the
    /// slowest handler).
    pub claim_idle_ms: u64,
    /// Deliveries after which a message goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// Loopback HTTP endpoints for health and Prometheus metrics.
    pub worker_health_listen: SocketAddr,
    pub relay_health_listen: SocketAddr,
    /// How long SIGTERM waits for in-flight events.
    pub shutdown_timeout_secs: u64,
    /// This worker's consumer name in the group. Stable across restarts (the units set it to
    /// `<host>-worker[-<instance>]`), so a restarted worker finishes its own pending entries at
    /// once instead of leaving them to `claim_idle_ms`. Unset: `<host>-<pid>`.
    pub consumer_name: Option<String>,
}

impl Default for EnginesSettings {
    fn default() -> Self {
        Self {
            stream: "events:construction".into(),
            dlq_stream: "events:dlq".into(),
            group: "engines".into(),
            stream_maxlen: 1_000_000,
            database_url: None,
            poll_interval_ms: 1000,
            batch_size: 500,
            retention_hours: 168,
            claim_idle_ms: 30_000,
            max_deliveries: 5,
            worker_health_listen: ([127, 0, 0, 1], 9101).into(),
            relay_health_listen: ([127, 0, 0, 1], 9102).into(),
            shutdown_timeout_secs: 20,
            consumer_name: None,
        }
    }
}

impl EnginesSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.consumer_name {
            if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b)) {
                return Err(ConfigError::new("engines.consumer_name", "must be 1-128 characters of letters, digits and - _ . @ :"));
            }
        }
        if self.stream.trim().is_empty() {
            return Err(ConfigError::new("engines.stream", "must not be empty"));
        }
        if self.dlq_stream == self.stream {
            return Err(ConfigError::new("engines.dlq_stream", "must differ from engines.stream"));
        }
        if let Some(u) = &self.database_url {
            validate_postgres_url("engines.database_url", u.expose())?;
        }
        if self.max_deliveries == 0 || self.batch_size < 1 || self.poll_interval_ms == 0 {
            return Err(ConfigError::new("engines", "max_deliveries, batch_size and poll_interval_ms must be at least 1"));
        }
        Ok(())
    }
}
