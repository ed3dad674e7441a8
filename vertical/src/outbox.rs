//! The transactional outbox: a domain event is written in the same transaction as the change it
//! describes, so either both happen or neither does. The function takes a `Transaction`, so
//! writing an event outside one does not compile.

use infra::db::Transaction;
use infra::events::{EventEnvelope, OUTBOX_NOTIFY_CHANNEL};
use uuid::Uuid;

use crate::error::ApiResult;

/// Kinds of aggregate that emit events.
#[derive(Debug, Clone, Copy)]
pub enum Aggregate {
    Quote,
    Order,
    Product,
    Stock,
    Supplier,
    Tenant,
}

impl Aggregate {
    fn as_str(self) -> &'static str {
        match self {
            Self::Quote => "quote",
            Self::Order => "order",
            Self::Product => "product",
            Self::Stock => "stock",
            Self::Supplier => "supplier",
            Self::Tenant => "tenant",
        }
    }
}

/// Appends an event to `event_outbox` and schedules a NOTIFY (Postgres delivers it only when the
/// transaction commits, which is exactly when the relay should wake).
pub async fn record(
    tx: &Transaction<'_>,
    tenant_id: Uuid,
    aggregate: Aggregate,
    aggregate_id: Uuid,
    event_type: &str,
    payload: serde_json::Value,
) -> ApiResult<EventEnvelope> {
    let event = EventEnvelope::new(tenant_id, aggregate.as_str(), aggregate_id, event_type, payload);
    let insert = tx
        .prepare_cached(
            "INSERT INTO event_outbox (event_id, tenant_id, aggregate_type, aggregate_id, event_type, version, occurred_at, payload) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &event.event_id,
            &event.tenant_id,
            &event.aggregate_type,
            &event.aggregate_id,
            &event.event_type,
            &event.version,
            &event.occurred_at,
            &tokio_postgres::types::Json(&event.payload),
        ],
    )
    .await?;
    let notify = tx.prepare_cached("SELECT pg_notify($1, '')").await?;
    tx.execute(&notify, &[&OUTBOX_NOTIFY_CHANNEL]).await?;
    Ok(event)
}

/// Next number of a per-tenant series (`Q-000001`, `O-000001`). The counter row is locked until
/// the transaction ends, so concurrent creators queue and a rollback returns the number: the
/// series has no gaps and no duplicates.
pub async fn next_number(tx: &Transaction<'_>, tenant_id: Uuid, series: &str, prefix: &str) -> ApiResult<String> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO tenant_counters (tenant_id, name, value) VALUES ($1, $2, 1) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_counters.value + 1 RETURNING value",
        )
        .await?;
    let n: i64 = tx.query_one(&stmt, &[&tenant_id, &series]).await?.get(0);
    Ok(format!("{prefix}-{n:06}"))
}
