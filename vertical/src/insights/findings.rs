//! What the engines computed from the event stream, read-only here.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{DomainError, DomainResult};
use infra::db::TenantTx;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockAlert {
    pub id: Uuid,
    pub product_id: Uuid,
    pub product_code: String,
    pub product_name: String,
    #[schema(value_type = String)]
    pub on_hand: Decimal,
    #[schema(value_type = String)]
    pub minimum: Decimal,
    pub days_to_rupture: Option<i32>,
    /// `high` (≤ 7 days), `medium` (≤ 14), `low`.
    pub risk: String,
    pub oversold: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Replenishment {
    pub product_id: Uuid,
    pub product_code: String,
    pub product_name: String,
    #[schema(value_type = String)]
    pub suggested_quantity: Decimal,
    pub supplier_id: Option<Uuid>,
    pub supplier_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub unit_cost: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub estimated_cost: Option<Decimal>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Complementary {
    pub product_id: Uuid,
    pub product_name: String,
    pub complementary_id: Uuid,
    pub complementary_name: String,
    #[schema(value_type = String)]
    pub frequency_percent: Decimal,
    pub orders_with_both: i32,
    pub orders_with_product: i32,
    /// `high` (≥ 70 %), `medium` (≥ 40 %), `low`.
    pub priority: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SupplierPriceAlert {
    pub id: Uuid,
    pub supplier_id: Uuid,
    pub supplier_name: String,
    pub product_id: Uuid,
    pub product_name: String,
    /// `price_increase` (≥ 10 % over the previous price) or `above_cheapest` (≥ 15 % over another supplier).
    pub kind: String,
    #[schema(value_type = Option<String>)]
    pub previous_price: Option<Decimal>,
    #[schema(value_type = String)]
    pub new_price: Decimal,
    #[schema(value_type = Option<String>)]
    pub change_percent: Option<Decimal>,
    pub alternative_supplier_id: Option<Uuid>,
    pub alternative_supplier_name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub alternative_price: Option<Decimal>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryRoute {
    pub id: Uuid,
    pub delivery_date: NaiveDate,
    pub region: String,
    pub stops: Vec<DeliveryStop>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryStop {
    pub order_id: Uuid,
    pub order_number: Option<String>,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub status: String,
}

pub async fn stock_alerts(tx: &TenantTx) -> DomainResult<Vec<StockAlert>> {
    let rows = tx
        .query(
            "SELECT a.id, a.product_id, p.code, p.name, a.on_hand, a.minimum, a.days_to_rupture, a.risk, a.oversold, a.created_at, a.updated_at \
             FROM stock_alerts a JOIN products p ON p.id = a.product_id AND p.tenant_id = a.tenant_id \
             WHERE a.tenant_id = $1 AND a.status = 'active' \
             ORDER BY CASE a.risk WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, a.days_to_rupture NULLS LAST LIMIT 500",
            &[&tx.tenant_id()],
        )
        .await?;
    let items: Vec<StockAlert> = rows
        .iter()
        .map(|r| StockAlert {
            id: r.get(0),
            product_id: r.get(1),
            product_code: r.get(2),
            product_name: r.get(3),
            on_hand: r.get(4),
            minimum: r.get(5),
            days_to_rupture: r.get(6),
            risk: r.get(7),
            oversold: r.get(8),
            created_at: r.get(9),
            updated_at: r.get(10),
        })
        .collect();
    Ok(items)
}

pub async fn replenishment(tx: &TenantTx) -> DomainResult<Vec<Replenishment>> {
    let rows = tx
        .query(
            "SELECT r.product_id, p.code, p.name, r.suggested_quantity, r.supplier_id, s.name, r.unit_cost, r.estimated_cost, r.updated_at \
             FROM replenishment_suggestions r JOIN products p ON p.id = r.product_id AND p.tenant_id = r.tenant_id \
             LEFT JOIN suppliers s ON s.id = r.supplier_id AND s.tenant_id = r.tenant_id \
             WHERE r.tenant_id = $1 ORDER BY p.code LIMIT 500",
            &[&tx.tenant_id()],
        )
        .await?;
    let items: Vec<Replenishment> = rows
        .iter()
        .map(|r| Replenishment {
            product_id: r.get(0),
            product_code: r.get(1),
            product_name: r.get(2),
            suggested_quantity: r.get(3),
            supplier_id: r.get(4),
            supplier_name: r.get(5),
            unit_cost: r.get(6),
            estimated_cost: r.get(7),
            updated_at: r.get(8),
        })
        .collect();
    Ok(items)
}

/// Products bought together, for one product or all (404 for a product not of this tenant).
pub async fn complementary(tx: &TenantTx, product: Option<Uuid>) -> DomainResult<Vec<Complementary>> {
    // A product of another tenant (or none) is "not found", like everywhere else: an empty list
    // would tell a prober nothing, but it would answer differently from every other endpoint.
    if let Some(id) = product {
        tx.query_opt("SELECT 1 FROM products WHERE id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()])
            .await?
            .ok_or_else(|| DomainError::not_found("product"))?;
    }
    let rows = tx
        .query(
            "SELECT c.product_id, p.name, c.complementary_id, q.name, c.frequency_percent, c.orders_with_both, c.orders_with_product, c.priority \
             FROM complementary_suggestions c JOIN products p ON p.id = c.product_id AND p.tenant_id = c.tenant_id \
             JOIN products q ON q.id = c.complementary_id AND q.tenant_id = c.tenant_id \
             WHERE c.tenant_id = $1 AND ($2::uuid IS NULL OR c.product_id = $2) \
             ORDER BY c.frequency_percent DESC, p.name LIMIT 500",
            &[&tx.tenant_id(), &product],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Complementary {
            product_id: r.get(0),
            product_name: r.get(1),
            complementary_id: r.get(2),
            complementary_name: r.get(3),
            frequency_percent: r.get(4),
            orders_with_both: r.get(5),
            orders_with_product: r.get(6),
            priority: r.get(7),
        })
        .collect())
}

pub async fn supplier_price_alerts(tx: &TenantTx) -> DomainResult<Vec<SupplierPriceAlert>> {
    let rows = tx
        .query(
            "SELECT a.id, a.supplier_id, s.name, a.product_id, p.name, a.kind, a.previous_price, a.new_price, a.change_percent, \
                    a.alternative_supplier_id, alt.name, a.alternative_price, a.created_at \
             FROM supplier_price_alerts a JOIN suppliers s ON s.id = a.supplier_id AND s.tenant_id = a.tenant_id \
             JOIN products p ON p.id = a.product_id AND p.tenant_id = a.tenant_id \
             LEFT JOIN suppliers alt ON alt.id = a.alternative_supplier_id AND alt.tenant_id = a.tenant_id \
             WHERE a.tenant_id = $1 ORDER BY a.created_at DESC LIMIT 200",
            &[&tx.tenant_id()],
        )
        .await?;
    let items: Vec<SupplierPriceAlert> = rows
        .iter()
        .map(|r| SupplierPriceAlert {
            id: r.get(0),
            supplier_id: r.get(1),
            supplier_name: r.get(2),
            product_id: r.get(3),
            product_name: r.get(4),
            kind: r.get(5),
            previous_price: r.get(6),
            new_price: r.get(7),
            change_percent: r.get(8),
            alternative_supplier_id: r.get(9),
            alternative_supplier_name: r.get(10),
            alternative_price: r.get(11),
            created_at: r.get(12),
        })
        .collect();
    Ok(items)
}

pub async fn delivery_routes(tx: &TenantTx) -> DomainResult<Vec<DeliveryRoute>> {
    let rows = tx
        .query(
            "SELECT r.id, r.delivery_date, r.region, s.order_id, o.number, s.postal_code, s.address, s.status \
             FROM delivery_routes r JOIN delivery_stops s ON s.route_id = r.id AND s.tenant_id = r.tenant_id \
             LEFT JOIN orders o ON o.id = s.order_id AND o.tenant_id = s.tenant_id \
             WHERE r.tenant_id = $1 ORDER BY r.delivery_date, r.region, s.postal_code NULLS LAST, o.number LIMIT 2000",
            &[&tx.tenant_id()],
        )
        .await?;
    let mut routes: Vec<DeliveryRoute> = Vec::new();
    for r in &rows {
        let id: Uuid = r.get(0);
        if routes.last().map(|x| x.id) != Some(id) {
            routes.push(DeliveryRoute { id, delivery_date: r.get(1), region: r.get(2), stops: Vec::new() });
        }
        if let Some(route) = routes.last_mut() {
            route.stops.push(DeliveryStop { order_id: r.get(3), order_number: r.get(4), postal_code: r.get(5), address: r.get(6), status: r.get(7) });
        }
    }
    Ok(routes)
}
