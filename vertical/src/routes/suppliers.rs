//! `/api/v1/suppliers`: who the dealer buys from, their lead times and their prices. Every price
//! change is appended to the price history and emits `supplier_price_changed`.

use chrono::{DateTime, NaiveDate, Utc};
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
use crate::routes::stock::require_supplier;
use crate::sql::Patch;
use crate::state::AppState;
use crate::validate::{self, double_option};
use infra::db::tenant_transaction;

#[derive(Debug, Serialize, ToSchema)]
pub struct Supplier {
    pub id: Uuid,
    pub name: String,
    pub document: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lead_time_days: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, document, email, phone, lead_time_days, active, created_at, updated_at";

fn from_row(r: &tokio_postgres::Row) -> Supplier {
    Supplier {
        id: r.get(0),
        name: r.get(1),
        document: r.get(2),
        email: r.get(3),
        phone: r.get(4),
        lead_time_days: r.get(5),
        active: r.get(6),
        created_at: r.get(7),
        updated_at: r.get(8),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSupplier {
    pub name: String,
    pub document: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Days from order to delivery (default 7); drives minimum stock and replenishment.
    pub lead_time_days: Option<i32>,
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierChanges {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub document: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub lead_time_days: Option<i32>,
    pub active: Option<bool>,
}

fn lead_time(v: i32) -> ApiResult<i32> {
    if (0..=365).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::invalid("lead_time_days", "lead_time_days must be between 0 and 365"))
    }
}

#[utoipa::path(get, path = "/api/v1/suppliers", tag = "suppliers",
    params(("search" = Option<String>, Query), ("active" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<Supplier>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let search = validate::search_pattern(&q);
    let active = validate::query_bool(&q, "active")?;
    let (t, id) = params.keyset();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM suppliers WHERE tenant_id = $1 AND ($2::text IS NULL OR name ILIKE $2 OR document ILIKE $2) \
                 AND ($3::bool IS NULL OR active = $3) AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) \
                 ORDER BY created_at DESC, id DESC LIMIT $6"
            ),
            &[&tenant.id, &search, &active, &t, &id, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let items = rows.iter().map(from_row).collect();
    Ok(json(StatusCode::OK, &params.page(items, |s: &Supplier| Cursor { t: s.created_at, id: s.id })))
}

#[utoipa::path(post, path = "/api/v1/suppliers", tag = "suppliers", request_body = NewSupplier,
    responses((status = 201, body = Supplier), (status = 403, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let b: NewSupplier = req.json()?;
    let name = validate::text("name", &b.name, 200)?;
    let document = validate::opt_text("document", b.document.as_deref(), 32)?;
    let email = validate::opt_email("email", b.email.as_deref())?;
    let phone = validate::opt_text("phone", b.phone.as_deref(), 40)?;
    let lead = lead_time(b.lead_time_days.unwrap_or(7))?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO suppliers (tenant_id, name, document, email, phone, lead_time_days, active) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
            ),
            &[&tenant.id, &name, &document, &email, &phone, &lead, &b.active.unwrap_or(true)],
        )
        .await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &from_row(&row)))
}

#[utoipa::path(get, path = "/api/v1/suppliers/{id}", tag = "suppliers", params(("id" = Uuid, Path)),
    responses((status = 200, body = Supplier), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let row = crate::sql::one_row(state, tenant, &format!("SELECT {COLUMNS} FROM suppliers WHERE id = $1 AND tenant_id = $2"), id, "supplier").await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

#[utoipa::path(patch, path = "/api/v1/suppliers/{id}", tag = "suppliers", params(("id" = Uuid, Path)), request_body = SupplierChanges,
    responses((status = 200, body = Supplier), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let b: SupplierChanges = req.json()?;
    let mut patch = Patch::new();
    patch.set("name", b.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("document", b.document.map(|v| validate::opt_text("document", v.as_deref(), 32)).transpose()?);
    patch.set("email", b.email.map(|v| validate::opt_email("email", v.as_deref())).transpose()?);
    patch.set("phone", b.phone.map(|v| validate::opt_text("phone", v.as_deref(), 40)).transpose()?);
    patch.set("lead_time_days", b.lead_time_days.map(lead_time).transpose()?);
    patch.set("active", b.active);
    let row = patch.run(state, tenant, "suppliers", id, COLUMNS, "supplier").await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

/// Deactivates the supplier; its prices and history stay for the record.
#[utoipa::path(delete, path = "/api/v1/suppliers/{id}", tag = "suppliers", params(("id" = Uuid, Path)),
    responses((status = 200, body = Supplier), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn deactivate(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let row = crate::sql::one_row(
        state,
        tenant,
        &format!("UPDATE suppliers SET active = false, updated_at = now() WHERE id = $1 AND tenant_id = $2 RETURNING {COLUMNS}"),
        id,
        "supplier",
    )
    .await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierPrice {
    pub supplier_id: Uuid,
    pub product_id: Uuid,
    pub product_code: String,
    pub product_name: String,
    #[schema(value_type = String)]
    pub price: Decimal,
    /// The supplier's previous price for the product, if any.
    #[schema(value_type = Option<String>)]
    pub previous_price: Option<Decimal>,
    pub valid_from: NaiveDate,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSupplierPrice {
    pub product_id: Uuid,
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Defaults to today.
    pub valid_from: Option<NaiveDate>,
}

/// Sets the supplier's price for a product.
#[utoipa::path(post, path = "/api/v1/suppliers/{id}/prices", tag = "suppliers", params(("id" = Uuid, Path)), request_body = NewSupplierPrice,
    responses((status = 201, body = SupplierPrice), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn set_price(state: &AppState, tenant: &Tenant, who: &Principal, supplier_id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let b: NewSupplierPrice = req.json()?;
    let price = validate::price("price", b.price)?;
    let valid_from = b.valid_from.unwrap_or_else(|| Utc::now().date_naive());
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    require_supplier(&tx, tenant.id, supplier_id).await?;
    let product = tx
        .query_opt("SELECT code, name FROM products WHERE id = $1 AND tenant_id = $2", &[&b.product_id, &tenant.id])
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("product_id: product {} not found", b.product_id)))?;
    // Create-or-lock the row first, so concurrent first prices queue and each sees its predecessor.
    let created = tx
        .execute(
            "INSERT INTO supplier_prices (tenant_id, supplier_id, product_id, price, valid_from) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, supplier_id, product_id) DO NOTHING",
            &[&tenant.id, &supplier_id, &b.product_id, &price, &valid_from],
        )
        .await?
        == 1;
    let old: Option<Decimal> = if created {
        None
    } else {
        let old: Decimal = tx
            .query_one(
                "SELECT price FROM supplier_prices WHERE tenant_id = $1 AND supplier_id = $2 AND product_id = $3 FOR UPDATE",
                &[&tenant.id, &supplier_id, &b.product_id],
            )
            .await?
            .get(0);
        tx.execute(
            "UPDATE supplier_prices SET price = $4, valid_from = $5, updated_at = now() WHERE tenant_id = $1 AND supplier_id = $2 AND product_id = $3",
            &[&tenant.id, &supplier_id, &b.product_id, &price, &valid_from],
        )
        .await?;
        Some(old)
    };
    let updated_at: DateTime<Utc> = tx
        .query_one(
            "SELECT updated_at FROM supplier_prices WHERE tenant_id = $1 AND supplier_id = $2 AND product_id = $3",
            &[&tenant.id, &supplier_id, &b.product_id],
        )
        .await?
        .get(0);
    // Only a change is history (and news for the engines).
    if old != Some(price) {
        tx.execute(
            "INSERT INTO price_history (tenant_id, product_id, supplier_id, old_price, new_price, valid_from) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&tenant.id, &b.product_id, &supplier_id, &old, &price, &valid_from],
        )
        .await?;
        outbox::record(
            &tx,
            tenant.id,
            Aggregate::Supplier,
            supplier_id,
            "supplier_price_changed",
            j!({ "supplier_id": supplier_id, "product_id": b.product_id, "old_price": old, "new_price": price, "valid_from": valid_from }),
        )
        .await?;
    }
    tx.commit().await?;
    let view = SupplierPrice {
        supplier_id,
        product_id: b.product_id,
        product_code: product.get(0),
        product_name: product.get(1),
        price,
        previous_price: old,
        valid_from,
        updated_at,
    };
    Ok(json(StatusCode::CREATED, &view))
}

/// The supplier's current prices.
#[utoipa::path(get, path = "/api/v1/suppliers/{id}/prices", tag = "suppliers", params(("id" = Uuid, Path)),
    responses((status = 200, body = crate::http::Page<SupplierPrice>), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn prices(state: &AppState, tenant: &Tenant, supplier_id: Uuid) -> ApiResult<HttpResponse> {
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    require_supplier(&tx, tenant.id, supplier_id).await.map_err(|_| ApiError::not_found("supplier"))?;
    let rows = tx
        .query(
            "SELECT sp.product_id, p.code, p.name, sp.price, sp.valid_from, sp.updated_at, \
                    (SELECT h.old_price FROM price_history h WHERE h.tenant_id = sp.tenant_id AND h.supplier_id = sp.supplier_id \
                       AND h.product_id = sp.product_id ORDER BY h.id DESC LIMIT 1) \
             FROM supplier_prices sp JOIN products p ON p.id = sp.product_id AND p.tenant_id = sp.tenant_id \
             WHERE sp.tenant_id = $1 AND sp.supplier_id = $2 ORDER BY p.code",
            &[&tenant.id, &supplier_id],
        )
        .await?;
    tx.commit().await?;
    let items: Vec<SupplierPrice> = rows
        .iter()
        .map(|r| SupplierPrice {
            supplier_id,
            product_id: r.get(0),
            product_code: r.get(1),
            product_name: r.get(2),
            price: r.get(3),
            valid_from: r.get(4),
            updated_at: r.get(5),
            previous_price: r.get(6),
        })
        .collect();
    Ok(json(StatusCode::OK, &crate::http::Page { items, next_cursor: None }))
}
