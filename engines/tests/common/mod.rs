//! Relay and workers for tests: in-process (library) or as the real binary (for SIGKILL).
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use engines::metrics::Metrics;
use engines::relay::OutboxRelay;
use engines::worker::EventWorker;
use stack::Stack;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// In-process relay and worker(s) sharing one stop switch.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub async fn start(stack: &Stack, workers: usize, relay: bool) -> Self {
        let settings = Arc::new(stack.settings.clone());
        let (stop, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let url = settings.redis.url.clone().unwrap();
        if relay {
            let redis = infra::redis::connect(&url).await.unwrap();
            tasks.push(tokio::spawn(OutboxRelay::new(settings.clone(), redis, Metrics::new()).run(rx.clone())));
        }
        for _ in 0..workers {
            let pool = infra::db::pool(settings.require_engines_database_url().unwrap(), &settings.database, 4).unwrap();
            let redis = infra::redis::connect(&url).await.unwrap();
            let reader = infra::redis::connect(&url).await.unwrap();
            let mut w = EventWorker::new(settings.clone(), pool, redis, reader, Metrics::new());
            // Several in-process workers share a pid: give each its own consumer name.
            w.rename(&format!("{}-{}", w.consumer(), uuid::Uuid::new_v4().simple()));
            tasks.push(tokio::spawn(w.run(rx.clone())));
        }
        Self { stop, tasks }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// The real `basecommerce-engines` binary.
pub struct Process {
    pub child: Child,
}

impl Process {
    pub fn spawn(stack: &Stack, role: &str) -> Self {
        Self::spawn_with(stack, role, &[])
    }

    /// With extra environment (e.g. `BASECOMMERCE_ENGINES__CONSUMER_NAME`).
    pub fn spawn_with(stack: &Stack, role: &str, env: &[(&str, &str)]) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_basecommerce-engines"))
            .arg(role)
            .envs(stack.env())
            .envs(env.iter().copied())
            .env("BASECOMMERCE_LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill9(&mut self) {
        let _ = Command::new("kill").args(["-9", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    /// SIGTERM and the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Count of a query's single bigint result.
pub async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

pub async fn xadd_raw(stack: &Stack, fields: &[(&str, &str)]) -> String {
    let mut conn = infra::redis::connect(stack.settings.redis.url.as_ref().unwrap()).await.unwrap();
    let mut cmd = redis::cmd("XADD");
    cmd.arg(&stack.settings.engines.stream).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query_async(&mut conn).await.unwrap()
}

/// What the vertical and the relay do for one event: the outbox row (already published) and
/// its stream entry. Returns the stream id.
pub async fn publish(stack: &Stack, event: &infra::EventEnvelope) -> String {
    record_in_outbox(stack, event).await;
    xadd_raw(stack, &[("event", &serde_json::to_string(event).unwrap()), ("type", &event.event_type)]).await
}

/// The outbox row of `event`, marked published (so no relay sends it again).
pub async fn record_in_outbox(stack: &Stack, event: &infra::EventEnvelope) {
    let db = stack.superuser().await;
    db.execute(
        "INSERT INTO event_outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type, version, occurred_at, payload, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())",
        &[&event.event_id, &event.tenant_id, &event.aggregate_type, &event.aggregate_id, &event.event_type, &event.version, &event.occurred_at, &event.payload],
    )
    .await
    .unwrap();
}

pub async fn redis_conn(stack: &Stack) -> redis::aio::ConnectionManager {
    infra::redis::connect(stack.settings.redis.url.as_ref().unwrap()).await.unwrap()
}

/// Inserts `n` receipt events of 1 unit straight into the outbox, as n committed API calls would.
pub async fn outbox_receipts(db: &tokio_postgres::Client, tenant: uuid::Uuid, product: &str, n: i64) {
    db.execute(
        "INSERT INTO event_outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type, version, occurred_at, payload) \
         SELECT gen_random_uuid(), $1, 'stock', $2::text::uuid, 'stock_received', 1, now(), \
                jsonb_build_object('movement_id', gen_random_uuid(), 'product_id', $2::text, 'quantity', '1') \
         FROM generate_series(1, $3::int8)",
        &[&tenant, &product, &n],
    )
    .await
    .unwrap();
}

/// The group's consumers: (name, pending).
pub async fn consumers(stack: &Stack) -> Vec<(String, u64)> {
    let e = &stack.settings.engines;
    let rows: Vec<std::collections::HashMap<String, redis::Value>> =
        redis::cmd("XINFO").arg("CONSUMERS").arg(&e.stream).arg(&e.group).query_async(&mut redis_conn(stack).await).await.unwrap_or_default();
    rows.iter()
        .map(|c| {
            let name = c.get("name").and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or_default();
            let pending = c.get("pending").and_then(|v| redis::from_redis_value_ref(v).ok()).unwrap_or(0);
            (name, pending)
        })
        .collect()
}
