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
use infra::events::{Event, EventError, Parsed};
use infra::files::LocalDisk;
use infra::EventEnvelope;

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
    /// The same, found by [`Event::parse`].
    #[error("bad payload: {0}")]
    Event(#[from] EventError),
    /// The stream holds an event no outbox wrote as it reads (another tenant's, or with another
    /// type or payload): whoever put it there is not the relay, so it is refused, not applied.
    #[error("event {event_id} is not in the outbox of tenant {tenant_id} as sent (forged or altered, or older than engines.retention_hours)")]
    NotInOutbox { event_id: uuid::Uuid, tenant_id: uuid::Uuid },
}

impl From<tokio_postgres::Error> for EngineError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(infra::db::describe(&e))
    }
}

impl EngineError {
    /// Permanent failures go to the dead-letter stream at once instead of being retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Payload(_) | Self::Event(_) | Self::NotInOutbox { .. })
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

    pub fn handles(self, event: &Event) -> bool {
        use Event::*;
        match self {
            Self::Stock => matches!(event, SaleRecorded(_) | StockReceived(_) | StockAdjusted(_)),
            Self::Sales => matches!(event, SaleRecorded(_)),
            Self::Replenishment => matches!(event, SaleRecorded(_) | StockReceived(_) | StockAdjusted(_) | SupplierPriceChanged(_)),
            Self::SupplierPrice => matches!(event, SupplierPriceChanged(_)),
            Self::Delivery => matches!(event, OrderStatusChanged(_)),
            Self::Images => matches!(event, ProductImageUploaded(_) | LogoUploaded(_)),
        }
    }

    /// Applies `event` (the typed payload of `envelope`), which this engine [handles](Self::handles).
    async fn apply(self, tx: &Transaction<'_>, envelope: &EventEnvelope, event: &Event, touched: &mut Touched, files: &LocalDisk) -> Result<(), EngineError> {
        match (self, event) {
            (Self::Stock, _) => stock::apply(tx, envelope, event, touched).await,
            (Self::Sales, Event::SaleRecorded(sale)) => sales::apply(tx, envelope, sale).await,
            (Self::Replenishment, _) => {
                replenishment::apply(envelope.tenant_id, event, touched);
                Ok(())
            }
            (Self::SupplierPrice, Event::SupplierPriceChanged(change)) => supplier_price::apply(tx, envelope.tenant_id, change).await,
            (Self::Delivery, Event::OrderStatusChanged(change)) => delivery::apply(tx, envelope, change).await,
            (Self::Images, _) => images::apply(files, envelope.tenant_id, event).await,
            // Not an event this engine handles: nothing to do.
            (Self::Sales | Self::SupplierPrice | Self::Delivery, _) => Ok(()),
        }
    }
}

/// Products whose derived figures must be recomputed before the batch commits. Recomputing
/// once per product per batch instead of once per event is what makes batches cheap: the
/// figures depend only on the final on-hand and sales of the product.
#[derive(Debug, Default)]
pub struct Touched {
    /// Signed on-hand changes (tenant, product, delta), in event order, applied after the events.
    movements: Vec<(uuid::Uuid, uuid::Uuid, rust_decimal::Decimal)>,
    /// (tenant, product) → whether any movement of the batch oversold it.
    stock: std::collections::BTreeMap<(uuid::Uuid, uuid::Uuid), bool>,
    replenishment: std::collections::BTreeSet<(uuid::Uuid, uuid::Uuid)>,
}

impl Touched {
    fn movement(&mut self, tenant: uuid::Uuid, product: uuid::Uuid, delta: rust_decimal::Decimal) {
        self.movements.push((tenant, product, delta));
    }
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
///
/// Round trips, not SQL, bound the engines' throughput, so the batch is shaped around them: the
/// dedupe records of every (event, engine) go out as one insert per tenant run, pipelined, stock movements
/// are applied per tenant in three statements whatever their number, and derived figures are
/// recomputed once per touched product.
pub async fn process_batch(pool: &deadpool_postgres::Pool, files: &LocalDisk, events: &[EventEnvelope]) -> Result<Vec<Outcome>, EngineError> {
    // Parsed once, before any database work: a malformed payload fails the batch at once.
    let parsed: Vec<Option<Event>> = events
        .iter()
        .map(|e| match Event::parse(e)? {
            Parsed::Known(event) => Ok(Some(event)),
            Parsed::Skipped { .. } => Ok(None),
        })
        .collect::<Result<_, EngineError>>()?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let bind = tx.prepare_cached(infra::db::BIND_TENANT_SQL).await?;
    let mark = tx
        .prepare_cached(
            "INSERT INTO processed_events (tenant_id, engine, event_id) \
             SELECT $1, e, id FROM unnest($2::text[], $3::uuid[]) AS u(e, id) \
             ON CONFLICT DO NOTHING RETURNING engine, event_id",
        )
        .await?;
    let recorded = tx
        .prepare_cached(
            "SELECT o.event_id FROM event_outbox o \
             JOIN unnest($2::uuid[], $3::text[], $4::jsonb[]) AS u(id, type, payload) \
               ON o.event_id = u.id AND o.event_type = u.type AND o.payload = u.payload \
             WHERE o.tenant_id = $1",
        )
        .await?;

    let mut outcomes = vec![Outcome::Skipped; events.len()];
    let mut claims: Vec<(usize, Engine)> = Vec::new();
    for (i, event) in parsed.iter().enumerate() {
        let Some(event) = event else { continue };
        let before = claims.len();
        claims.extend(ALL.into_iter().filter(|e| e.handles(event)).map(|e| (i, e)));
        outcomes[i] = if claims.len() == before { Outcome::Ignored } else { Outcome::Duplicate };
    }
    let (claimed, mut bound) = mark_all(&tx, [&bind, &recorded, &mark], events, &claims).await?;

    let mut touched = Touched::default();
    for (&(i, engine), _) in claims.iter().zip(&claimed).filter(|(_, &new)| new) {
        let (envelope, Some(event)) = (&events[i], &parsed[i]) else { continue };
        if bound != Some(envelope.tenant_id) {
            // Transaction-local, like every tenant transaction: row-level security follows it.
            tx.execute(&bind, &[&envelope.tenant_id.to_string()]).await?;
            bound = Some(envelope.tenant_id);
        }
        crate::metrics::engine_step(engine.name(), engine.apply(&tx, envelope, event, &mut touched, files)).await?;
        outcomes[i] = Outcome::Applied;
    }
    let mut rebind = |tenant: uuid::Uuid| {
        let needed = bound != Some(tenant);
        bound = Some(tenant);
        needed
    };
    crate::metrics::engine_step("stock", stock::apply_movements(&tx, &bind, &mut rebind, &mut touched)).await?;
    // Stock figures first: replenishment reads the minimum they imply.
    for (&(tenant, product), &oversold) in &touched.stock {
        if rebind(tenant) {
            tx.execute(&bind, &[&tenant.to_string()]).await?;
        }
        crate::metrics::engine_step("stock", stock::refresh(&tx, tenant, product, oversold)).await?;
    }
    for &(tenant, product) in &touched.replenishment {
        if rebind(tenant) {
            tx.execute(&bind, &[&tenant.to_string()]).await?;
        }
        crate::metrics::engine_step("replenishment", replenishment::refresh(&tx, tenant, product)).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Inserts the dedupe records of every claim: one multi-row insert per run of same-tenant
/// events, each after its tenant binding, all pipelined (tokio-postgres sends concurrent requests
/// back to back, PostgreSQL runs them in order). A pair inserted now is new; a pair that existed
/// (or came twice in the batch, after its first) is a duplicate. Returns which claims are new, and
/// the tenant bound at the end.
///
/// In the same pipeline, each run's events are looked up in that tenant's outbox with their type
/// and payload: only what the vertical committed is applied, as it committed it, whatever else
/// reaches the stream ([`EngineError::NotInOutbox`]).
async fn mark_all(
    tx: &Transaction<'_>,
    [bind, recorded, mark]: [&tokio_postgres::Statement; 3],
    events: &[EventEnvelope],
    claims: &[(usize, Engine)],
) -> Result<(Vec<bool>, Option<uuid::Uuid>), EngineError> {
    use std::collections::HashMap;
    use tokio_postgres::types::ToSql;
    struct Run<'a> {
        tenant: uuid::Uuid,
        key: String,
        engines: Vec<&'static str>,
        ids: Vec<uuid::Uuid>,
        types: Vec<&'a str>,
        payloads: Vec<&'a serde_json::Value>,
        claims: Vec<usize>,
    }
    let mut runs: Vec<Run> = Vec::new();
    for (k, &(i, engine)) in claims.iter().enumerate() {
        let event = &events[i];
        if runs.last().is_none_or(|r| r.tenant != event.tenant_id) {
            runs.push(Run {
                tenant: event.tenant_id,
                key: event.tenant_id.to_string(),
                engines: Vec::new(),
                ids: Vec::new(),
                types: Vec::new(),
                payloads: Vec::new(),
                claims: Vec::new(),
            });
        }
        let run = runs.last_mut().expect("just pushed");
        run.engines.push(engine.name());
        run.ids.push(event.event_id);
        run.types.push(&event.event_type);
        run.payloads.push(&event.payload);
        run.claims.push(k);
    }
    type Params<'a> = Vec<&'a (dyn ToSql + Sync)>;
    let params: Vec<(Params, Params)> =
        runs.iter().map(|r| (vec![&r.key as &(dyn ToSql + Sync)], vec![&r.tenant as &(dyn ToSql + Sync), &r.engines, &r.ids])).collect();
    let lookups: Vec<Params> = runs.iter().map(|r| vec![&r.tenant as &(dyn ToSql + Sync), &r.ids, &r.types, &r.payloads]).collect();
    let pending = params.iter().zip(&lookups).flat_map(|((b, m), l)| [tx.query(bind, b), tx.query(recorded, l), tx.query(mark, m)]);
    let results = futures_util::future::try_join_all(pending).await?;
    for (run, rows) in runs.iter().zip(results.chunks(3).map(|triple| &triple[1])) {
        let found: std::collections::HashSet<uuid::Uuid> = rows.iter().map(|r| r.get(0)).collect();
        if let Some(&event_id) = run.ids.iter().find(|id| !found.contains(id)) {
            return Err(EngineError::NotInOutbox { event_id, tenant_id: run.tenant });
        }
    }
    let mut claimed = vec![false; claims.len()];
    for (run, rows) in runs.iter().zip(results.chunks(3).map(|triple| &triple[2])) {
        let mut inserted: HashMap<(String, uuid::Uuid), usize> = HashMap::new();
        for row in rows {
            *inserted.entry((row.get(0), row.get(1))).or_default() += 1;
        }
        for (j, &k) in run.claims.iter().enumerate() {
            if let Some(n) = inserted.get_mut(&(run.engines[j].to_owned(), run.ids[j])).filter(|n| **n > 0) {
                *n -= 1;
                claimed[k] = true;
            }
        }
    }
    Ok((claimed, runs.last().map(|r| r.tenant)))
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
