//! The worker: a member of the `engines` consumer group that applies each event exactly once in
//! effect (see [`crate::engines::process`]), acknowledges it after the commit, reclaims messages
//! other workers left pending, and dead-letters what keeps failing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamRangeReply, StreamReadReply};
use tokio::sync::watch;

use crate::engines::{self, Outcome};
use crate::metrics::Metrics;
use infra::bus::{ensure_group, envelope, FIELD_DELIVERIES, FIELD_EVENT, FIELD_REASON, FIELD_SOURCE_ID, FIELD_TYPE};
use infra::Settings;

/// Entries per read.
const READ_COUNT: usize = 256;

pub struct EventWorker {
    settings: Arc<Settings>,
    pool: deadpool_postgres::Pool,
    /// For acks, claims and dead letters.
    redis: ConnectionManager,
    /// Only for the blocking XREADGROUP, which would hold up other commands on a shared
    /// multiplexed connection.
    reader: ConnectionManager,
    metrics: Arc<Metrics>,
    /// Tenant files: image originals in, WebP variants out.
    files: infra::files::LocalDisk,
    consumer: String,
    /// Last failure per entry, so a dead letter says why.
    last_errors: HashMap<String, String>,
}

impl EventWorker {
    pub fn new(settings: Arc<Settings>, pool: deadpool_postgres::Pool, redis: ConnectionManager, reader: ConnectionManager, metrics: Arc<Metrics>) -> Self {
        let files = infra::files::LocalDisk::new(&settings.files.dir);
        crate::metrics::init_engines(engines::ALL.iter().map(|e| e.name()));
        let consumer = settings.engines.consumer_name.clone().unwrap_or_else(crate::instance_name);
        Self { settings, pool, redis, reader, metrics, files, consumer, last_errors: HashMap::new() }
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Overrides the consumer name (`engines.consumer_name`, else `<host>-<pid>`; in-process
    /// tests run several).
    pub fn rename(&mut self, consumer: &str) {
        self.consumer = consumer.to_owned();
    }

    /// Reads and applies events until `shutdown`; entries already read are finished and
    /// acknowledged before it returns.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let engines = &self.settings.engines;
        let claim_every = Duration::from_millis((engines.claim_idle_ms / 2).clamp(50, 5000));
        let mut last_claim = Instant::now() - claim_every;
        let mut watchdog = crate::systemd::Watchdog::from_env();
        let mut ready = false;
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            watchdog.tick();
            if !ready {
                match ensure_group(&mut self.redis, &self.settings.engines).await {
                    Ok(()) => {
                        ready = true;
                        crate::systemd::ready();
                        tracing::info!(consumer = %self.consumer, stream = %self.settings.engines.stream, "worker ready");
                        if let Err(e) = self.resume_own_pending().await {
                            tracing::warn!(error = %e, "reading this consumer's pending entries failed; they are reclaimed after claim_idle_ms");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot create the consumer group yet");
                        tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = shutdown.changed() => break }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                }
            }
            if last_claim.elapsed() >= claim_every {
                if let Err(e) = self.reclaim().await {
                    tracing::warn!(error = %e, "reclaiming pending messages failed");
                }
                if let Err(e) = self.remove_gone_consumers().await {
                    tracing::warn!(error = %e, "removing gone consumers failed");
                }
                last_claim = Instant::now();
            }
            let read = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.settings.engines.group)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("BLOCK")
                .arg(1000)
                .arg("STREAMS")
                .arg(&self.settings.engines.stream)
                .arg(">")
                .to_owned();
            let reply: redis::RedisResult<Option<StreamReadReply>> = tokio::select! {
                r = read.query_async(&mut self.reader) => r,
                _ = shutdown.changed() => break,
            };
            match reply {
                Ok(Some(reply)) => {
                    backoff = Duration::from_millis(100);
                    let entries: Vec<StreamId> = reply.keys.into_iter().flat_map(|k| k.ids).collect();
                    self.handle_batch(entries).await;
                }
                Ok(None) => {}
                Err(e) => {
                    if e.code() == Some("NOGROUP") {
                        ready = false; // the stream was deleted: recreate the group
                    }
                    tracing::warn!(error = %e, "reading the stream failed; retrying");
                    tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = shutdown.changed() => break }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        crate::systemd::stopping();
        tracing::info!(consumer = %self.consumer, "worker stopped");
    }

    /// Applies what one read returned in a single transaction and acknowledges it with one
    /// XACK; if the batch fails, falls back to one entry at a time (which isolates the culprit).
    async fn handle_batch(&mut self, entries: Vec<StreamId>) {
        let mut batch = Vec::with_capacity(entries.len());
        for entry in entries {
            match envelope(&entry) {
                Ok(event) => batch.push((entry, event)),
                Err(reason) => {
                    tracing::error!(id = %entry.id, %reason, "malformed entry: dead-lettering");
                    self.dead_letter(&entry, &reason, 1).await;
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        let events: Vec<infra::EventEnvelope> = batch.iter().map(|(_, e)| e.clone()).collect();
        let started = Instant::now();
        match engines::process_batch(&self.pool, &self.files, &events).await {
            Ok(outcomes) => {
                self.metrics.event_seconds.observe(started.elapsed().as_secs_f64() / events.len() as f64);
                for (outcome, event) in outcomes.iter().zip(&events) {
                    self.count(*outcome, event);
                }
                let ids: Vec<&str> = batch.iter().map(|(e, _)| e.id.as_str()).collect();
                let acked: redis::RedisResult<u64> =
                    redis::cmd("XACK").arg(&self.settings.engines.stream).arg(&self.settings.engines.group).arg(&ids).query_async(&mut self.redis).await;
                if let Err(e) = acked {
                    tracing::warn!(error = %e, "ack failed; the entries will be redelivered as no-ops");
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "batch failed; applying its events one by one");
                for (entry, _) in batch {
                    self.handle(&entry, 1).await;
                }
            }
        }
    }

    fn count(&self, outcome: Outcome, event: &infra::EventEnvelope) {
        let label = match outcome {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
            Outcome::Skipped => {
                tracing::warn!(event_type = %event.event_type, version = event.version, event_id = %event.event_id, "unknown event type or newer version: skipped");
                "skipped"
            }
        };
        self.metrics.events.with_label_values(&[label]).inc();
    }

    /// Applies one entry; acknowledges it unless it failed transiently.
    async fn handle(&mut self, entry: &StreamId, deliveries: usize) {
        let event = match envelope(entry) {
            Ok(e) => e,
            Err(reason) => {
                tracing::error!(id = %entry.id, %reason, "malformed entry: dead-lettering");
                self.dead_letter(entry, &reason, deliveries).await;
                return;
            }
        };
        let started = Instant::now();
        let span = tracing::info_span!("event", tenant = %event.tenant_id, request_id = %event.event_id, event_type = %event.event_type);
        let _guard = span.enter();
        let result = engines::process(&self.pool, &self.files, &event).await;
        self.metrics.event_seconds.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(outcome) => {
                self.count(outcome, &event);
                self.ack(&entry.id).await;
            }
            Err(e) if e.is_permanent() => {
                tracing::error!(error = %e, "event can never apply: dead-lettering");
                self.dead_letter(entry, &e.to_string(), deliveries).await;
            }
            Err(e) => {
                self.metrics.events.with_label_values(&["failed"]).inc();
                tracing::warn!(error = %e, "event failed; it stays pending and will be retried");
                self.last_errors.insert(entry.id.clone(), e.to_string());
            }
        }
    }

    async fn ack(&mut self, id: &str) {
        let acked: redis::RedisResult<u64> =
            redis::cmd("XACK").arg(&self.settings.engines.stream).arg(&self.settings.engines.group).arg(id).query_async(&mut self.redis).await;
        if let Err(e) = acked {
            // Unacknowledged means redelivered later: a duplicate, which is a no-op.
            tracing::warn!(id, error = %e, "ack failed");
        }
        self.last_errors.remove(id);
    }

    /// Copies the entry to the dead-letter stream *then* acknowledges it: a crash in between
    /// duplicates the dead letter instead of losing the event.
    async fn dead_letter(&mut self, entry: &StreamId, reason: &str, deliveries: usize) {
        let raw: String = entry.get(FIELD_EVENT).unwrap_or_default();
        let event_type: String = entry.get(FIELD_TYPE).unwrap_or_default();
        let added: redis::RedisResult<String> = redis::cmd("XADD")
            .arg(&self.settings.engines.dlq_stream)
            .arg("*")
            .arg(FIELD_EVENT)
            .arg(raw)
            .arg(FIELD_TYPE)
            .arg(event_type)
            .arg(FIELD_REASON)
            .arg(reason)
            .arg(FIELD_SOURCE_ID)
            .arg(&entry.id)
            .arg(FIELD_DELIVERIES)
            .arg(deliveries)
            .query_async(&mut self.redis)
            .await;
        match added {
            Ok(_) => {
                self.metrics.events.with_label_values(&["dead_lettered"]).inc();
                self.ack(&entry.id).await;
            }
            Err(e) => tracing::error!(id = %entry.id, error = %e, "dead-lettering failed; the entry stays pending"),
        }
    }

    /// Finishes what this consumer had read but not acknowledged when it last stopped (a
    /// SIGKILL, a crash): `XREADGROUP … 0` returns its own pending entries at once, where
    /// another worker would wait `claim_idle_ms` to claim them. Effects already committed are
    /// deduplicated as for any redelivery.
    async fn resume_own_pending(&mut self) -> redis::RedisResult<()> {
        let mut after = "0-0".to_owned();
        let mut resumed = 0usize;
        loop {
            let reply: StreamReadReply = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.settings.engines.group)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("STREAMS")
                .arg(&self.settings.engines.stream)
                .arg(&after)
                .query_async(&mut self.redis)
                .await?;
            let entries: Vec<StreamId> = reply.keys.into_iter().flat_map(|k| k.ids).collect();
            let Some(last) = entries.last() else { break };
            after = last.id.clone();
            resumed += entries.len();
            // An entry trimmed away since comes back without fields: nothing is left to apply.
            let (gone, entries): (Vec<StreamId>, Vec<StreamId>) = entries.into_iter().partition(|e| e.map.is_empty());
            for entry in gone {
                self.ack(&entry.id).await;
            }
            self.handle_batch(entries).await;
        }
        if resumed > 0 {
            tracing::info!(count = resumed, consumer = %self.consumer, "resumed this consumer's pending entries");
        }
        Ok(())
    }

    /// Deletes the group's consumers that hold no pending entry and have not read for
    /// `claim_idle_ms` (a worker renamed or stopped for good; its leftovers were claimed
    /// first), so the consumer list does not grow with every restart. Check and delete run as
    /// one script: a consumer that reads in between would otherwise lose its entries.
    async fn remove_gone_consumers(&mut self) -> redis::RedisResult<()> {
        const SCRIPT: &str = r#"
            local removed = 0
            for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
                local f = {}
                for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
                if f['name'] ~= ARGV[2] and f['pending'] == 0 and f['idle'] > tonumber(ARGV[3]) then
                    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
                    removed = removed + 1
                end
            end
            return removed"#;
        let e = &self.settings.engines;
        let removed: u64 =
            redis::cmd("EVAL").arg(SCRIPT).arg(1).arg(&e.stream).arg(&e.group).arg(&self.consumer).arg(e.claim_idle_ms).query_async(&mut self.redis).await?;
        if removed > 0 {
            tracing::info!(count = removed, "removed consumers that are gone");
        }
        Ok(())
    }

    /// Dead-letters entries delivered `max_deliveries` times, then claims the rest of the
    /// entries idle longer than `claim_idle_ms` (their worker died or failed) and retries them.
    async fn reclaim(&mut self) -> redis::RedisResult<()> {
        let e = &self.settings.engines;
        let (stream, group, idle, max) = (e.stream.clone(), e.group.clone(), e.claim_idle_ms, e.max_deliveries as usize);
        let pending: StreamPendingCountReply =
            redis::cmd("XPENDING").arg(&stream).arg(&group).arg("IDLE").arg(idle).arg("-").arg("+").arg(100).query_async(&mut self.redis).await?;
        for p in pending.ids.iter().filter(|p| p.times_delivered >= max) {
            let range: StreamRangeReply = redis::cmd("XRANGE").arg(&stream).arg(&p.id).arg(&p.id).query_async(&mut self.redis).await?;
            let reason = self.last_errors.get(&p.id).cloned().unwrap_or_else(|| "failed on another worker".into());
            let reason = format!("failed {} deliveries; last error: {reason}", p.times_delivered);
            match range.ids.first() {
                Some(entry) => {
                    tracing::error!(id = %p.id, %reason, "dead-lettering");
                    let entry = entry.clone();
                    self.dead_letter(&entry, &reason, p.times_delivered).await;
                }
                None => self.ack(&p.id).await, // trimmed away: nothing left to retry
            }
        }
        let claimed: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&stream)
            .arg(&group)
            .arg(&self.consumer)
            .arg(idle)
            .arg("0-0")
            .arg("COUNT")
            .arg(100)
            .query_async(&mut self.redis)
            .await?;
        if !claimed.claimed.is_empty() {
            tracing::info!(count = claimed.claimed.len(), "reclaimed pending entries");
        }
        for entry in claimed.claimed {
            let deliveries = pending.ids.iter().find(|p| p.id == entry.id).map_or(2, |p| p.times_delivered + 1);
            self.handle(&entry, deliveries).await;
        }
        Ok(())
    }
}
