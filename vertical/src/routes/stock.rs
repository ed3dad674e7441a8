//! `/api/v1/stock`: receipts and adjustments are recorded here as movements with their events;
//! on-hand levels are kept by the stock engine from those events (and from deliveries), so a
//! level may trail a movement by the engines' latency.

use chrono::{DateTime, Utc};
use http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json as j;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, Cursor, HttpResponse, ListParams, Req};
use crate::outbox::{self, Aggregate};
use crate::state::AppState;
use crate::validate;
use infra::db::{tenant_transaction, Transaction};

#[derive(Debug, Serialize, ToSchema)]
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

#[derive(Debug, Serialize, ToSchema)]
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

async fn require_product(tx: &Transaction<'_>, tenant_id: Uuid, id: Uuid) -> ApiResult<()> {
    tx.query_opt("SELECT 1 FROM products WHERE id = $1 AND tenant_id = $2", &[&id, &tenant_id])
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("product_id: product {id} not found")))
}

/// Checks that `supplier_id` is one of this tenant's suppliers.
pub async fn require_supplier(tx: &Transaction<'_>, tenant_id: Uuid, id: Uuid) -> ApiResult<()> {
    tx.query_opt("SELECT 1 FROM suppliers WHERE id = $1 AND tenant_id = $2", &[&id, &tenant_id])
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("supplier_id: supplier {id} not found")))
}

#[utoipa::path(post, path = "/api/v1/stock/receipts", tag = "stock", request_body = NewReceipt,
    responses((status = 201, body = Movement), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn receipt(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let b: NewReceipt = req.json()?;
    let quantity = validate::quantity("quantity", b.quantity)?;
    let unit_cost = b.unit_cost.map(|c| validate::price("unit_cost", c)).transpose()?;
    let reason = validate::opt_text("reason", b.reason.as_deref(), 500)?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    require_product(&tx, tenant.id, b.product_id).await?;
    if let Some(s) = b.supplier_id {
        require_supplier(&tx, tenant.id, s).await?;
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO stock_movements (tenant_id, product_id, kind, quantity, supplier_id, unit_cost, reason, created_by) \
                 VALUES ($1, $2, 'receipt', $3, $4, $5, $6, $7) RETURNING {MOVEMENT_COLUMNS}"
            ),
            &[&tenant.id, &b.product_id, &quantity, &b.supplier_id, &unit_cost, &reason, &who.user_id],
        )
        .await?;
    let m = movement(&row);
    outbox::record(
        &tx,
        tenant.id,
        Aggregate::Stock,
        m.product_id,
        "stock_received",
        j!({ "movement_id": m.id, "product_id": m.product_id, "quantity": quantity, "supplier_id": b.supplier_id, "unit_cost": unit_cost }),
    )
    .await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &m))
}

#[utoipa::path(post, path = "/api/v1/stock/adjustments", tag = "stock", request_body = NewAdjustment,
    responses((status = 201, body = Movement), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn adjustment(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let b: NewAdjustment = req.json()?;
    let quantity = validate::signed_quantity("quantity", b.quantity)?;
    let reason = validate::text("reason", &b.reason, 500)?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    require_product(&tx, tenant.id, b.product_id).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO stock_movements (tenant_id, product_id, kind, quantity, reason, created_by) \
                 VALUES ($1, $2, 'adjustment', $3, $4, $5) RETURNING {MOVEMENT_COLUMNS}"
            ),
            &[&tenant.id, &b.product_id, &quantity, &reason, &who.user_id],
        )
        .await?;
    let m = movement(&row);
    outbox::record(
        &tx,
        tenant.id,
        Aggregate::Stock,
        m.product_id,
        "stock_adjusted",
        j!({ "movement_id": m.id, "product_id": m.product_id, "quantity": quantity, "reason": reason }),
    )
    .await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &m))
}

/// Stock levels of every product, with the engines' minimum and days to rupture when known.
#[utoipa::path(get, path = "/api/v1/stock", tag = "stock",
    params(("search" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<StockLevel>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn levels(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let search = validate::search_pattern(&q);
    let (t, id) = params.keyset();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let rows = tx
        .query(
            "SELECT p.id, p.code, p.name, p.unit, coalesce(l.on_hand, 0), coalesce(l.oversold, 0), l.minimum, l.avg_daily_sales, l.days_to_rupture, p.created_at \
             FROM products p LEFT JOIN stock_levels l ON l.product_id = p.id AND l.tenant_id = p.tenant_id \
             WHERE p.tenant_id = $1 AND ($2::text IS NULL OR p.code ILIKE $2 OR p.name ILIKE $2) \
             AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3, $4)) ORDER BY p.created_at DESC, p.id DESC LIMIT $5",
            &[&tenant.id, &search, &t, &id, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
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
    Ok(json(StatusCode::OK, &params.page(items, |s: &StockLevel| Cursor { t: s.created_at, id: s.product_id })))
}

#[utoipa::path(get, path = "/api/v1/stock/movements", tag = "stock",
    params(("product_id" = Option<Uuid>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<Movement>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn movements(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let product_id = validate::query_uuid(&q, "product_id")?;
    let (t, id) = params.keyset();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {MOVEMENT_COLUMNS} FROM stock_movements WHERE tenant_id = $1 AND ($2::uuid IS NULL OR product_id = $2) \
                 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
            ),
            &[&tenant.id, &product_id, &t, &id, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let items = rows.iter().map(movement).collect();
    Ok(json(StatusCode::OK, &params.page(items, |m: &Movement| Cursor { t: m.created_at, id: m.id })))
}
