//! Replenishment engine: for each product under its minimum, how much to order
//! (⌈avg × (lead + 14) × 1.2 − on_hand⌉), from the cheapest current supplier, at what cost.
//! A product back above its minimum loses its suggestion.

use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::facts::ProductFacts;
use super::stock::Sale;
#[allow(unused_imports)]
use super::Cached;
use super::{payload, EngineError};
use infra::db::Transaction;
use infra::EventEnvelope;

#[derive(Deserialize)]
struct ProductRef {
    product_id: Uuid,
}

pub async fn apply(event: &EventEnvelope, touched: &mut super::Touched) -> Result<(), EngineError> {
    let products: Vec<Uuid> = match event.event_type.as_str() {
        "sale_recorded" => payload::<Sale>(event)?.items.iter().map(|i| i.product_id).collect(),
        _ => vec![payload::<ProductRef>(event)?.product_id],
    };
    for product in products {
        touched.replenishment(event.tenant_id, product);
    }
    Ok(())
}

/// Recomputes the product's suggestion (once per touched product per batch, after stock).
pub async fn refresh(tx: &Transaction<'_>, tenant: Uuid, product: Uuid) -> Result<(), EngineError> {
    let facts = ProductFacts::load(tx, tenant, product).await?;
    match facts.suggested_quantity() {
        Some(quantity) => {
            let (supplier, cost) = match &facts.cheapest {
                Some(o) => (Some(o.supplier_id), Some(o.price)),
                None => (None, None),
            };
            let estimated: Option<Decimal> = cost.map(|c| (c * quantity).round_dp(2));
            tx.exec(
                "INSERT INTO replenishment_suggestions (tenant_id, product_id, suggested_quantity, supplier_id, unit_cost, estimated_cost) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, product_id) DO UPDATE SET \
                   suggested_quantity = excluded.suggested_quantity, supplier_id = excluded.supplier_id, unit_cost = excluded.unit_cost, \
                   estimated_cost = excluded.estimated_cost, updated_at = now()",
                &[&tenant, &product, &quantity, &supplier, &cost, &estimated],
            )
            .await?;
        }
        None => {
            tx.exec("DELETE FROM replenishment_suggestions WHERE tenant_id = $1 AND product_id = $2", &[&tenant, &product]).await?;
        }
    }
    Ok(())
}
