//! Replenishment engine: for each product under its minimum, how much to order
//! (⌈avg × (lead + 14) × 1.2 − on_hand⌉), from the cheapest current supplier, at what cost.
//! A product back above its minimum loses its suggestion.

use rust_decimal::Decimal;
use uuid::Uuid;

use super::facts::ProductFacts;
#[allow(unused_imports)]
use super::Cached;
use super::EngineError;
use infra::db::Transaction;
use infra::events::Event;

/// Marks the products whose suggestion the event can change (recomputed once per batch).
pub fn apply(tenant: Uuid, event: &Event, touched: &mut super::Touched) {
    let products: Vec<Uuid> = match event {
        Event::SaleRecorded(sale) => sale.items.iter().map(|i| i.product_id).collect(),
        Event::StockReceived(m) => vec![m.product_id],
        Event::StockAdjusted(m) => vec![m.product_id],
        Event::SupplierPriceChanged(c) => vec![c.product_id],
        _ => Vec::new(),
    };
    for product in products {
        touched.replenishment(tenant, product);
    }
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
