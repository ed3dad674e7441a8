//! Stock engine: keeps on-hand quantities from receipts, adjustments and sales, the sales facts,
//! the minimum and days to rupture, and one active rupture alert per product below its minimum
//! (resolved by itself when stock recovers). Stock never silently goes negative: a sale beyond
//! what is on hand leaves 0 on hand, adds the excess to `oversold`, and flags the alert.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::facts::ProductFacts;
#[allow(unused_imports)]
use super::Cached;
use super::EngineError;
use infra::db::Transaction;
use infra::events::{Event, SaleRecorded};
use infra::EventEnvelope;

pub async fn apply(tx: &Transaction<'_>, envelope: &EventEnvelope, event: &Event, touched: &mut super::Touched) -> Result<(), EngineError> {
    let tenant = envelope.tenant_id;
    match event {
        Event::StockReceived(m) => touched.movement(tenant, m.product_id, m.quantity),
        Event::StockAdjusted(m) => touched.movement(tenant, m.product_id, m.quantity),
        Event::SaleRecorded(sale) => {
            record_sale_facts(tx, tenant, sale, envelope.occurred_at).await?;
            for item in &sale.items {
                touched.movement(tenant, item.product_id, -item.quantity);
            }
        }
        _ => {}
    }
    Ok(())
}

/// One row per product of a delivered order (idempotent: several engines call it).
pub async fn record_sale_facts(tx: &Transaction<'_>, tenant: Uuid, sale: &SaleRecorded, occurred_at: DateTime<Utc>) -> Result<(), EngineError> {
    let sold_at = sale.delivered_at.unwrap_or(occurred_at);
    for item in &sale.items {
        tx.exec(
            "INSERT INTO sale_facts (tenant_id, order_id, product_id, quantity, unit_price, total, sold_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, order_id, product_id) DO NOTHING",
            &[&tenant, &sale.order_id, &item.product_id, &item.quantity, &item.unit_price, &item.total, &sold_at],
        )
        .await?;
    }
    Ok(())
}

/// Applies the batch's movements, tenant by tenant, in three statements each: create missing
/// stock rows, lock and read the touched rows (in product order, so concurrent workers cannot
/// deadlock), then write the results computed here in event order. Each movement is applied as
/// if alone: a sale beyond what is on hand leaves 0, adds the excess to `oversold` and flags it.
pub async fn apply_movements(
    tx: &Transaction<'_>,
    bind: &tokio_postgres::Statement,
    rebind: &mut impl FnMut(Uuid) -> bool,
    touched: &mut super::Touched,
) -> Result<(), EngineError> {
    use std::collections::BTreeMap;
    let movements = std::mem::take(&mut touched.movements);
    let mut tenants: Vec<Uuid> = Vec::new();
    for (t, _, _) in &movements {
        if !tenants.contains(t) {
            tenants.push(*t);
        }
    }
    for tenant in tenants {
        if rebind(tenant) {
            tx.execute(bind, &[&tenant.to_string()]).await?;
        }
        let mine: Vec<(Uuid, Decimal)> = movements.iter().filter(|(t, _, _)| *t == tenant).map(|(_, p, d)| (*p, *d)).collect();
        let mut products: Vec<Uuid> = mine.iter().map(|(p, _)| *p).collect();
        products.sort_unstable();
        products.dedup();
        tx.exec("INSERT INTO stock_levels (tenant_id, product_id) SELECT $1, p FROM unnest($2::uuid[]) AS p ON CONFLICT DO NOTHING", &[&tenant, &products])
            .await?;
        let rows = tx
            .all(
                "SELECT product_id, on_hand FROM stock_levels WHERE tenant_id = $1 AND product_id = ANY($2) ORDER BY product_id FOR UPDATE",
                &[&tenant, &products],
            )
            .await?;
        // product → (on hand, excess this batch, oversold by some movement)
        let mut state: BTreeMap<Uuid, (Decimal, Decimal, bool)> = rows.iter().map(|r| (r.get(0), (r.get(1), Decimal::ZERO, false))).collect();
        for (product, delta) in &mine {
            let entry = state.entry(*product).or_insert((Decimal::ZERO, Decimal::ZERO, false));
            let next = entry.0 + delta;
            if next < Decimal::ZERO {
                tracing::warn!(tenant = %tenant, product = %product, excess = %(-next), "oversold: sale exceeded stock on hand");
                *entry = (Decimal::ZERO, entry.1 - next, true);
            } else {
                entry.0 = next;
            }
        }
        let ids: Vec<Uuid> = state.keys().copied().collect();
        let on_hand: Vec<Decimal> = state.values().map(|v| v.0).collect();
        let excess: Vec<Decimal> = state.values().map(|v| v.1).collect();
        tx.exec(
            "UPDATE stock_levels s SET on_hand = u.on_hand, oversold = s.oversold + u.excess, updated_at = now() \
             FROM unnest($2::uuid[], $3::numeric[], $4::numeric[]) AS u(product_id, on_hand, excess) \
             WHERE s.tenant_id = $1 AND s.product_id = u.product_id",
            &[&tenant, &ids, &on_hand, &excess],
        )
        .await?;
        for (product, (_, _, oversold)) in state {
            touched.stock(tenant, product, oversold);
        }
    }
    Ok(())
}

/// Recomputes the product's figures and its rupture alert (once per touched product per batch).
pub async fn refresh(tx: &Transaction<'_>, tenant: Uuid, product: Uuid, oversold: bool) -> Result<(), EngineError> {
    let facts = ProductFacts::load(tx, tenant, product).await?;
    let m = facts.metrics();
    let days = m.days_to_rupture.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
    let avg = (facts.sold_90d > Decimal::ZERO).then_some(m.avg_daily_sales);
    let minimum = (facts.sold_90d > Decimal::ZERO).then_some(m.minimum);
    tx.exec(
        "UPDATE stock_levels SET avg_daily_sales = $3, minimum = $4, days_to_rupture = $5, updated_at = now() WHERE tenant_id = $1 AND product_id = $2",
        &[&tenant, &product, &avg, &minimum, &days],
    )
    .await?;
    match m.risk {
        Some(risk) => {
            tx.exec(
                "INSERT INTO stock_alerts (tenant_id, product_id, on_hand, minimum, days_to_rupture, risk, oversold) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant_id, product_id) WHERE status = 'active' DO UPDATE SET on_hand = excluded.on_hand, \
                   minimum = excluded.minimum, days_to_rupture = excluded.days_to_rupture, risk = excluded.risk, \
                   oversold = stock_alerts.oversold OR excluded.oversold, updated_at = now()",
                &[&tenant, &product, &facts.on_hand, &m.minimum, &days, &risk.as_str(), &oversold],
            )
            .await?;
        }
        None => {
            tx.exec(
                "UPDATE stock_alerts SET status = 'resolved', resolved_at = now(), updated_at = now() \
                 WHERE tenant_id = $1 AND product_id = $2 AND status = 'active'",
                &[&tenant, &product],
            )
            .await?;
        }
    }
    Ok(())
}
