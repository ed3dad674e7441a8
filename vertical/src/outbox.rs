//! The transactional outbox: a domain event is written in the same transaction as the change it
//! describes, so either both happen or neither does. [`record`] takes the tenant's transaction,
//! so writing an event outside one does not compile, and a typed [`Event`], so its name,
//! version, aggregate and payload come from the one contract the engines parse
//! (`infra::events`).

use infra::db::TenantTx;
use infra::events::{Event, EventEnvelope, OUTBOX_NOTIFY_CHANNEL};
use uuid::Uuid;

/// Appends an event to `event_outbox` and schedules a NOTIFY (Postgres delivers it only when the
/// transaction commits, which is exactly when the relay should wake).
pub async fn record(tx: &TenantTx, event: Event) -> Result<EventEnvelope, tokio_postgres::Error> {
    let event = EventEnvelope::from_event(tx.tenant_id(), &event);
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
pub async fn next_number(tx: &TenantTx, series: &str, prefix: &str) -> Result<String, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO tenant_counters (tenant_id, name, value) VALUES ($1, $2, 1) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET value = tenant_counters.value + 1 RETURNING value",
        )
        .await?;
    let tenant_id: Uuid = tx.tenant_id();
    let n: i64 = tx.query_one(&stmt, &[&tenant_id, &series]).await?.get(0);
    Ok(format!("{prefix}-{n:06}"))
}
