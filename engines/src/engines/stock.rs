//! Stock engine: keeps on-hand quantities from receipts, adjustments and sales, the sales facts,
//! the minimum and days to rupture, and one active rupture alert per product below its minimum
//! (resolved by itself when stock recovers). Stock never silently goes negative: a sale beyond
//! what is on hand leaves 0 on hand, adds the excess to `oversold`, and flags the alert.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::facts::ProductFacts;
use super::{payload, EngineError};
use infra::db::Transaction;
#[allow(unused_imports)]
use super::Cached;
use infra::EventEnvelope;

#[derive(Deserialize)]
struct Movement {
    product_id: Uuid,
    #[serde(with = "rust_decimal::serde::str")]
    quantity: Decimal,
}

#[derive(Deserialize)]
pub struct SaleItem {
    pub product_id: Uuid,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub unit_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
}

#[derive(Deserialize)]
pub struct Sale {
    pub order_id: Uuid,
    pub delivered_at: Option<DateTime<Utc>>,
    pub items: Vec<SaleItem>,
}

pub async fn apply(tx: &Transaction<'_>, event: &EventEnvelope, touched: &mut super::Touched) -> Result<(), EngineError> {
    let tenant = event.tenant_id;
    match event.event_type.as_str() {
        "stock_received" | "stock_adjusted" => {
            let m: Movement = payload(event)?;
            let oversold = adjust(tx, tenant, m.product_id, m.quantity).await?;
            touched.stock(tenant, m.product_id, oversold);
            Ok(())
        }
        "sale_recorded" => {
            let sale: Sale = payload(event)?;
            record_sale_facts(tx, tenant, &sale, event.occurred_at).await?;
            for item in &sale.items {
                let oversold = adjust(tx, tenant, item.product_id, -item.quantity).await?;
                touched.stock(tenant, item.product_id, oversold);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One row per product of a delivered order (idempotent: several engines call it).
pub async fn record_sale_facts(tx: &Transaction<'_>, tenant: Uuid, sale: &Sale, occurred_at: DateTime<Utc>) -> Result<(), EngineError> {
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

/// Applies a signed change to on-hand; returns whether this change oversold (sold more than
/// was on hand — the excess is recorded, on-hand stops at 0).
async fn adjust(tx: &Transaction<'_>, tenant: Uuid, product: Uuid, delta: Decimal) -> Result<bool, EngineError> {
    tx.exec("INSERT INTO stock_levels (tenant_id, product_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&tenant, &product]).await?;
    let on_hand: Decimal = tx
        .query_one("SELECT on_hand FROM stock_levels WHERE tenant_id = $1 AND product_id = $2 FOR UPDATE", &[&tenant, &product])
        .await?
        .get(0);
    let next = on_hand + delta;
    let (next, excess) = if next < Decimal::ZERO { (Decimal::ZERO, -next) } else { (next, Decimal::ZERO) };
    tx.exec(
        "UPDATE stock_levels SET on_hand = $3, oversold = oversold + $4, updated_at = now() WHERE tenant_id = $1 AND product_id = $2",
        &[&tenant, &product, &next, &excess],
    )
    .await?;
    if excess > Decimal::ZERO {
        tracing::warn!(tenant = %tenant, product = %product, %excess, "oversold: sale exceeded stock on hand");
    }
    Ok(excess > Decimal::ZERO)
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
