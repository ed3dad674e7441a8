//! The engines (five that compute insights, one that makes image variants). Each event is applied in one Postgres transaction bound to the event's
//! tenant: for every engine that handles the event type, a `processed_events` row (engine,
//! event_id) is inserted first, and the effect is applied only if that row is new — so a
//! redelivered event changes nothing, and effect and dedupe record commit together.

pub mod delivery;
pub mod facts;
pub mod images;
pub mod replenishment;
pub mod sales;
pub mod stock;
pub mod supplier_price;

use infra::db::Transaction;
use infra::files::LocalDisk;
use infra::EventEnvelope;
use serde::de::DeserializeOwned;

/// The newest payload version these engines understand; newer events are skipped, not failed.
pub const SUPPORTED_VERSION: i32 = 1;

/// Every event type the vertical emits (others are unknown: skipped and logged).
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    "quote_created", "quote_sent", "quote_approved", "quote_converted", "order_created", "order_status_changed",
    "sale_recorded", "stock_received", "stock_adjusted", "supplier_price_changed", "product_price_changed",
    "product_image_uploaded", "logo_uploaded",
];

/// Why applying an event failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// With the server's code and message (tokio-postgres's own Display says only "db error").
    #[error("database: {0}")]
    Db(String),
    #[error("database: {0}")]
    Infra(#[from] infra::db::DbError),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// The payload cannot be what the event type promises: retrying will not help.
    #[error("bad payload: {0}")]
    Payload(String),
}

impl From<tokio_postgres::Error> for EngineError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(infra::db::describe(&e))
    }
}

impl EngineError {
    /// Permanent failures go to the dead-letter stream at once instead of being retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Payload(_))
    }
}

/// The engines, applied in this order (stock first: it records the sale facts the others read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Stock,
    Sales,
    Replenishment,
    SupplierPrice,
    Delivery,
    Images,
}

pub const ALL: [Engine; 6] = [Engine::Stock, Engine::Sales, Engine::Replenishment, Engine::SupplierPrice, Engine::Delivery, Engine::Images];

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Sales => "sales",
            Self::Replenishment => "replenishment",
            Self::SupplierPrice => "supplier_price",
            Self::Delivery => "delivery",
            Self::Images => "images",
        }
    }

    pub fn handles(self, event_type: &str) -> bool {
        match self {
            Self::Stock => matches!(event_type, "sale_recorded" | "stock_received" | "stock_adjusted"),
            Self::Sales => event_type == "sale_recorded",
            Self::Replenishment => matches!(event_type, "sale_recorded" | "stock_received" | "stock_adjusted" | "supplier_price_changed"),
            Self::SupplierPrice => event_type == "supplier_price_changed",
            Self::Delivery => event_type == "order_status_changed",
            Self::Images => matches!(event_type, "product_image_uploaded" | "logo_uploaded"),
        }
    }

    async fn apply(self, tx: &Transaction<'_>, event: &EventEnvelope, touched: &mut Touched, files: &LocalDisk) -> Result<(), EngineError> {
        match self {
            Self::Stock => stock::apply(tx, event, touched).await,
            Self::Sales => sales::apply(tx, event).await,
            Self::Replenishment => replenishment::apply(event, touched).await,
            Self::SupplierPrice => supplier_price::apply(tx, event).await,
            Self::Delivery => delivery::apply(tx, event).await,
            Self::Images => images::apply(files, event).await,
        }
    }
}

/// Products whose derived figures must be recomputed before the batch commits. Recomputing
/// once per product per batch instead of once per event is what makes batches cheap: the
/// figures depend only on the final on-hand and sales of the product.
#[derive(Debug, Default)]
pub struct Touched {
    /// (tenant, product) → whether any movement of the batch oversold it.
    stock: std::collections::BTreeMap<(uuid::Uuid, uuid::Uuid), bool>,
    replenishment: std::collections::BTreeSet<(uuid::Uuid, uuid::Uuid)>,
}

impl Touched {
    fn stock(&mut self, tenant: uuid::Uuid, product: uuid::Uuid, oversold: bool) {
        *self.stock.entry((tenant, product)).or_default() |= oversold;
    }
    fn replenishment(&mut self, tenant: uuid::Uuid, product: uuid::Uuid) {
        self.replenishment.insert((tenant, product));
    }
}

/// What happened to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// At least one engine applied its effect.
    Applied,
    /// Every engine had already processed it (a redelivery).
    Duplicate,
    /// Known type that no engine needs, e.g. `quote_sent`.
    Ignored,
    /// Unknown type or a newer version: acknowledged without effect.
    Skipped,
}

/// Applies one event exactly once per engine.
pub async fn process(pool: &deadpool_postgres::Pool, files: &LocalDisk, event: &EventEnvelope) -> Result<Outcome, EngineError> {
    Ok(process_batch(pool, files, std::slice::from_ref(event)).await?[0])
}

/// Applies several events in one transaction (one commit, one WAL flush, instead of one per
/// event), in order, each bound to its own tenant and deduplicated per engine. All or nothing:
/// on an error nothing is committed and the caller retries the events one by one, so one bad
/// event cannot hold back the others.
pub async fn process_batch(pool: &deadpool_postgres::Pool, files: &LocalDisk, events: &[EventEnvelope]) -> Result<Vec<Outcome>, EngineError> {
    let mut outcomes = Vec::with_capacity(events.len());
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let bind = tx.prepare_cached("SELECT set_config('app.tenant_id', $1, true)").await?;
    let mark = tx
        .prepare_cached("INSERT INTO processed_events (tenant_id, engine, event_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .await?;
    let mut bound: Option<uuid::Uuid> = None;
    let mut touched = Touched::default();
    for event in events {
        if event.version > SUPPORTED_VERSION || !KNOWN_EVENT_TYPES.contains(&event.event_type.as_str()) {
            outcomes.push(Outcome::Skipped);
            continue;
        }
        let engines: Vec<Engine> = ALL.into_iter().filter(|e| e.handles(&event.event_type)).collect();
        if engines.is_empty() {
            outcomes.push(Outcome::Ignored);
            continue;
        }
        if bound != Some(event.tenant_id) {
            // Transaction-local, like every tenant transaction: row-level security follows it.
            tx.execute(&bind, &[&event.tenant_id.to_string()]).await?;
            bound = Some(event.tenant_id);
        }
        let mut applied = false;
        for engine in engines {
            if tx.execute(&mark, &[&event.tenant_id, &engine.name(), &event.event_id]).await? == 1 {
                engine.apply(&tx, event, &mut touched, files).await?;
                applied = true;
            }
        }
        outcomes.push(if applied { Outcome::Applied } else { Outcome::Duplicate });
    }
    // Stock figures first: replenishment reads the minimum they imply.
    for (&(tenant, product), &oversold) in &touched.stock {
        if bound != Some(tenant) {
            tx.execute(&bind, &[&tenant.to_string()]).await?;
            bound = Some(tenant);
        }
        stock::refresh(&tx, tenant, product, oversold).await?;
    }
    for &(tenant, product) in &touched.replenishment {
        if bound != Some(tenant) {
            tx.execute(&bind, &[&tenant.to_string()]).await?;
            bound = Some(tenant);
        }
        replenishment::refresh(&tx, tenant, product).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Statements through the connection's statement cache: the engines run the same few queries
/// for every event, and an uncached `query(&str)` costs an extra round trip to prepare.
#[allow(async_fn_in_trait)]
pub trait Cached {
    async fn exec(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<u64, tokio_postgres::Error>;
    async fn one(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<tokio_postgres::Row, tokio_postgres::Error>;
    async fn opt(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error>;
    async fn all(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>;
}

impl Cached for Transaction<'_> {
    async fn exec(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<u64, tokio_postgres::Error> {
        let stmt = self.prepare_cached(sql).await?;
        self.execute(&stmt, params).await
    }
    async fn one(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        let stmt = self.prepare_cached(sql).await?;
        self.query_one(&stmt, params).await
    }
    async fn opt(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
        let stmt = self.prepare_cached(sql).await?;
        self.query_opt(&stmt, params).await
    }
    async fn all(&self, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        let stmt = self.prepare_cached(sql).await?;
        self.query(&stmt, params).await
    }
}

/// Reads a typed payload; a mismatch is a permanent error.
pub fn payload<T: DeserializeOwned>(event: &EventEnvelope) -> Result<T, EngineError> {
    serde_json::from_value(event.payload.clone()).map_err(|e| EngineError::Payload(format!("{} payload: {e}", event.event_type)))
}
