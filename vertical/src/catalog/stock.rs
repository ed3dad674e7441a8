//! Stock: receipts and adjustments are recorded here as movements with their events; on-hand
//! levels are kept by the stock engine from those events (and from deliveries), so a level may
//! trail a movement by the engines' latency.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::catalog::{products, suppliers};
use crate::domain::page::keyset_clause;
use crate::domain::{require_admin, validate, Cursor, DomainResult, Page, PageRequest};
use crate::outbox;
use infra::db::TenantTx;
use infra::events::{Event, StockAdjusted, StockReceived};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StockLevel {
    pub product_id: Uuid,
    pub code: String,
    pub name: String,
    pub unit: String,
    #[schema(value_type = String)]
    pub on_hand: Decimal,
    /// Units sold beyond what was on hand (recorded, never hidden by a negative level).
    #[schema(value_type = String)]
    pub oversold: Decimal,
    #[schema(value_type = Option<String>)]
    pub minimum: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub avg_daily_sales: Option<Decimal>,
    pub days_to_rupture: Option<i32>,
    #[serde(skip)]
    created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Movement {
    pub id: Uuid,
    pub product_id: Uuid,
    pub kind: String,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub supplier_id: Option<Uuid>,
    #[schema(value_type = Option<String>)]
    pub unit_cost: Option<Decimal>,
    pub reason: Option<String>,
    pub order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const MOVEMENT_COLUMNS: &str = "id, product_id, kind, quantity, supplier_id, unit_cost, reason, order_id, created_at";

fn movement(r: &tokio_postgres::Row) -> Movement {
    Movement {
        id: r.get(0),
        product_id: r.get(1),
        kind: r.get(2),
        quantity: r.get(3),
        supplier_id: r.get(4),
        unit_cost: r.get(5),
        reason: r.get(6),
        order_id: r.get(7),
        created_at: r.get(8),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReceipt {
    pub product_id: Uuid,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub supplier_id: Option<Uuid>,
    #[schema(value_type = Option<String>)]
    pub unit_cost: Option<Decimal>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdjustment {
    pub product_id: Uuid,
    /// Signed: negative for losses and breakage, positive for found stock.
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub reason: String,
}

/// Which stock levels to list.
#[derive(Debug, Default)]
pub struct StockFilter {
    /// `ILIKE` pattern matched against the product's code and name.
    pub search: Option<String>,
}

/// Which movements to list.
#[derive(Debug, Default)]
pub struct MovementFilter {
    pub product_id: Option<Uuid>,
}

pub async fn receive(tx: &TenantTx, who: &Principal, input: NewReceipt) -> DomainResult<Movement> {
    require_admin(who)?;
    let quantity = validate::quantity("quantity", input.quantity)?;
    let unit_cost = input.unit_cost.map(|c| validate::price("unit_cost", c)).transpose()?;
    let reason = validate::opt_text("reason", input.reason.as_deref(), 500)?;
    products::require(tx, input.product_id).await?;
    if let Some(s) = input.supplier_id {
        suppliers::require(tx, s).await?;
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO stock_movements (tenant_id, product_id, kind, quantity, supplier_id, unit_cost, reason, created_by) \
                 VALUES ($1, $2, 'receipt', $3, $4, $5, $6, $7) RETURNING {MOVEMENT_COLUMNS}"
            ),
            &[&tx.tenant_id(), &input.product_id, &quantity, &input.supplier_id, &unit_cost, &reason, &who.user_id],
        )
        .await?;
    let m = movement(&row);
    let event = StockReceived { movement_id: m.id, product_id: m.product_id, quantity, supplier_id: input.supplier_id, unit_cost };
    outbox::record(tx, Event::StockReceived(event)).await?;
    Ok(m)
}

pub async fn adjust(tx: &TenantTx, who: &Principal, input: NewAdjustment) -> DomainResult<Movement> {
    require_admin(who)?;
    let quantity = validate::signed_quantity("quantity", input.quantity)?;
    let reason = validate::text("reason", &input.reason, 500)?;
    products::require(tx, input.product_id).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO stock_movements (tenant_id, product_id, kind, quantity, reason, created_by) \
                 VALUES ($1, $2, 'adjustment', $3, $4, $5) RETURNING {MOVEMENT_COLUMNS}"
            ),
            &[&tx.tenant_id(), &input.product_id, &quantity, &reason, &who.user_id],
        )
        .await?;
    let m = movement(&row);
    outbox::record(tx, Event::StockAdjusted(StockAdjusted { movement_id: m.id, product_id: m.product_id, quantity, reason })).await?;
    Ok(m)
}

/// Stock levels of every product, with the engines' minimum and days to rupture when known.
pub async fn levels(tx: &TenantTx, filter: &StockFilter, page: &PageRequest) -> DomainResult<Page<StockLevel>> {
    let (t, id) = page.keyset();
    let sql = format!(
        "SELECT p.id, p.code, p.name, p.unit, coalesce(l.on_hand, 0), coalesce(l.oversold, 0), l.minimum, l.avg_daily_sales, l.days_to_rupture, p.created_at \
         FROM products p LEFT JOIN stock_levels l ON l.product_id = p.id AND l.tenant_id = p.tenant_id \
         WHERE p.tenant_id = $1 AND ($2::text IS NULL OR p.code ILIKE $2 OR p.name ILIKE $2) {}",
        keyset_clause("p", 3)
    );
    let rows = tx.query(&sql, &[&tx.tenant_id(), &filter.search, &t, &id, &page.fetch()]).await?;
    let items = rows
        .iter()
        .map(|r| StockLevel {
            product_id: r.get(0),
            code: r.get(1),
            name: r.get(2),
            unit: r.get(3),
            on_hand: r.get(4),
            oversold: r.get(5),
            minimum: r.get(6),
            avg_daily_sales: r.get(7),
            days_to_rupture: r.get(8),
            created_at: r.get(9),
        })
        .collect();
    Ok(page.page(items, |s: &StockLevel| Cursor { t: s.created_at, id: s.product_id }))
}

pub async fn movements(tx: &TenantTx, filter: &MovementFilter, page: &PageRequest) -> DomainResult<Page<Movement>> {
    let (t, id) = page.keyset();
    let sql = format!("SELECT {MOVEMENT_COLUMNS} FROM stock_movements WHERE tenant_id = $1 AND ($2::uuid IS NULL OR product_id = $2) {}", keyset_clause("", 3));
    let rows = tx.query(&sql, &[&tx.tenant_id(), &filter.product_id, &t, &id, &page.fetch()]).await?;
    Ok(page.page(rows.iter().map(movement).collect(), |m: &Movement| Cursor { t: m.created_at, id: m.id }))
}
