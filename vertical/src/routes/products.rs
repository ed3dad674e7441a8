//! `/api/v1/products`: the catalogue. Admins manage it; only active products can be quoted.
//! DELETE deactivates (quotes and orders keep pointing at the product).

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
use crate::sql::Patch;
use crate::state::AppState;
use crate::validate::{self, double_option};
use infra::db::tenant_transaction;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub enum Unit {
    #[serde(rename = "UN")]
    Un,
    #[serde(rename = "KG")]
    Kg,
    #[serde(rename = "M")]
    M,
    #[serde(rename = "M2")]
    M2,
    #[serde(rename = "M3")]
    M3,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Un => "UN",
            Self::Kg => "KG",
            Self::M => "M",
            Self::M2 => "M2",
            Self::M3 => "M3",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "KG" => Self::Kg,
            "M" => Self::M,
            "M2" => Self::M2,
            "M3" => Self::M3,
            _ => Self::Un,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub unit: Unit,
    #[schema(value_type = String, example = "32.90")]
    pub base_price: Decimal,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, code, name, description, unit, base_price, active, created_at, updated_at";

fn from_row(r: &tokio_postgres::Row) -> Product {
    Product {
        id: r.get(0),
        code: r.get(1),
        name: r.get(2),
        description: r.get(3),
        unit: Unit::parse(r.get(4)),
        base_price: r.get(5),
        active: r.get(6),
        created_at: r.get(7),
        updated_at: r.get(8),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub unit: Unit,
    #[schema(value_type = String, example = "32.90")]
    pub base_price: Decimal,
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductChanges {
    pub code: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub unit: Option<Unit>,
    #[schema(value_type = Option<String>)]
    pub base_price: Option<Decimal>,
    pub active: Option<bool>,
}

fn code(v: &str) -> ApiResult<String> {
    let c = validate::text("code", v, 64)?;
    if c.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid("code", "code must not contain spaces"));
    }
    Ok(c)
}

#[utoipa::path(get, path = "/api/v1/products", tag = "products",
    params(("search" = Option<String>, Query), ("active" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<Product>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let search = validate::search_pattern(&q);
    let active = validate::query_bool(&q, "active")?;
    let (t, id) = params.keyset();
    let client = state.pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM products WHERE tenant_id = $1 \
             AND ($2::text IS NULL OR code ILIKE $2 OR name ILIKE $2) AND ($3::bool IS NULL OR active = $3) \
             AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) ORDER BY created_at DESC, id DESC LIMIT $6"
        ))
        .await?;
    let limit = params.limit + 1;
    let rows = infra::db::tenant_read(&client, tenant.id, &[(&stmt, &[&tenant.id, &search, &active, &t, &id, &limit])]).await?.pop().unwrap_or_default();
    let items = rows.iter().map(from_row).collect();
    Ok(json(StatusCode::OK, &params.page(items, |p: &Product| Cursor { t: p.created_at, id: p.id })))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "products", request_body = NewProduct,
    responses((status = 201, body = Product), (status = 403, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let b: NewProduct = req.json()?;
    let code = code(&b.code)?;
    let name = validate::text("name", &b.name, 200)?;
    let description = validate::opt_text("description", b.description.as_deref(), 2000)?;
    let price = validate::price("base_price", b.base_price)?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO products (tenant_id, code, name, description, unit, base_price, active) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant_id, code) DO NOTHING RETURNING {COLUMNS}"
            ),
            &[&tenant.id, &code, &name, &description, &b.unit.as_str(), &price, &b.active.unwrap_or(true)],
        )
        .await?
        .ok_or_else(|| ApiError::conflict("duplicate_code", format!("a product with code {code} already exists")))?;
    let product = from_row(&row);
    tx.execute("INSERT INTO price_history (tenant_id, product_id, old_price, new_price) VALUES ($1, $2, NULL, $3)", &[&tenant.id, &product.id, &price]).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &product))
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products", params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let row = crate::sql::one_row(state, tenant, &format!("SELECT {COLUMNS} FROM products WHERE id = $1 AND tenant_id = $2"), id, "product").await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

/// Updates a product; a base-price change is appended to the price history and emits
/// `product_price_changed`.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "products", params(("id" = Uuid, Path)), request_body = ProductChanges,
    responses((status = 200, body = Product), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let b: ProductChanges = req.json()?;
    let new_price = b.base_price.map(|p| validate::price("base_price", p)).transpose()?;
    let mut patch = Patch::new();
    patch.set("code", b.code.as_deref().map(code).transpose()?);
    patch.set("name", b.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("description", b.description.map(|v| validate::opt_text("description", v.as_deref(), 2000)).transpose()?);
    patch.set("unit", b.unit.map(Unit::as_str));
    patch.set("base_price", new_price);
    patch.set("active", b.active);
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let old: Decimal = tx
        .query_opt("SELECT base_price FROM products WHERE id = $1 AND tenant_id = $2 FOR UPDATE", &[&id, &tenant.id])
        .await?
        .ok_or_else(|| ApiError::not_found("product"))?
        .get(0);
    let row = patch.apply(&tx, "products", id, tenant.id, COLUMNS).await?.ok_or_else(|| ApiError::not_found("product"))?;
    if let Some(new) = new_price.filter(|n| *n != old) {
        tx.execute("INSERT INTO price_history (tenant_id, product_id, old_price, new_price) VALUES ($1, $2, $3, $4)", &[&tenant.id, &id, &old, &new]).await?;
        outbox::record(&tx, tenant.id, Aggregate::Product, id, "product_price_changed", j!({ "product_id": id, "old_price": old, "new_price": new })).await?;
    }
    tx.commit().await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

/// Deactivates the product (it stays on existing quotes and orders).
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "products", params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn deactivate(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let row = crate::sql::one_row(
        state,
        tenant,
        &format!("UPDATE products SET active = false, updated_at = now() WHERE id = $1 AND tenant_id = $2 RETURNING {COLUMNS}"),
        id,
        "product",
    )
    .await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}
