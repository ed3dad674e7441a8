//! The catalogue. Admins manage it; only active products can be quoted. Deactivation keeps the
//! product on existing quotes and orders; every base-price change is history and an event.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::page::keyset_clause;
use crate::domain::{require_admin, validate, Cursor, DomainError, DomainResult, Nullable, Page, PageRequest};
use crate::outbox;
use crate::sql::Patch;
use infra::db::TenantTx;
use infra::events::{Event, ProductPriceChanged};

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
    pub const ALL: [Unit; 5] = [Self::Un, Self::Kg, Self::M, Self::M2, Self::M3];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Un => "UN",
            Self::Kg => "KG",
            Self::M => "M",
            Self::M2 => "M2",
            Self::M3 => "M3",
        }
    }
    pub fn parse(s: &str) -> Self {
        Self::ALL.into_iter().find(|u| u.as_str() == s).unwrap_or(Self::Un)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductChanges {
    pub code: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Nullable<String>,
    pub unit: Option<Unit>,
    #[schema(value_type = Option<String>)]
    pub base_price: Option<Decimal>,
    pub active: Option<bool>,
}

/// Which products to list.
#[derive(Debug, Default)]
pub struct ProductFilter {
    /// `ILIKE` pattern matched against code and name.
    pub search: Option<String>,
    pub active: Option<bool>,
}

fn code(v: &str) -> DomainResult<String> {
    let c = validate::text("code", v, 64)?;
    if c.chars().any(char::is_whitespace) {
        return Err(DomainError::invalid("code", "code must not contain spaces"));
    }
    Ok(c)
}

fn list_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM products WHERE tenant_id = $1 AND ($2::text IS NULL OR code ILIKE $2 OR name ILIKE $2) AND ($3::bool IS NULL OR active = $3) {}",
        keyset_clause("", 4)
    )
}

/// The products list is the busiest read: prepared, and sent with its transaction in one round
/// trip ([`infra::db::tenant_read`]), on a connection of its own rather than a [`TenantTx`].
pub async fn list(db: &infra::db::PooledClient, tenant_id: Uuid, filter: &ProductFilter, page: &PageRequest) -> DomainResult<Page<Product>> {
    let (t, id) = page.keyset();
    let stmt = db.prepare_cached(&list_sql()).await?;
    let limit = page.fetch();
    let rows =
        infra::db::tenant_read(db, tenant_id, &[(&stmt, &[&tenant_id, &filter.search, &filter.active, &t, &id, &limit])]).await?.pop().unwrap_or_default();
    Ok(page.page(rows.iter().map(from_row).collect(), |p: &Product| Cursor { t: p.created_at, id: p.id }))
}

pub async fn create(tx: &TenantTx, who: &Principal, input: NewProduct) -> DomainResult<Product> {
    require_admin(who)?;
    let code = code(&input.code)?;
    let name = validate::text("name", &input.name, 200)?;
    let description = validate::opt_text("description", input.description.as_deref(), 2000)?;
    let price = validate::price("base_price", input.base_price)?;
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO products (tenant_id, code, name, description, unit, base_price, active) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (tenant_id, code) DO NOTHING RETURNING {COLUMNS}"
            ),
            &[&tx.tenant_id(), &code, &name, &description, &input.unit.as_str(), &price, &input.active.unwrap_or(true)],
        )
        .await?
        .ok_or_else(|| DomainError::conflict("duplicate_code", format!("a product with code {code} already exists")))?;
    let product = from_row(&row);
    record_price(tx, product.id, None, price).await?;
    Ok(product)
}

pub async fn get(tx: &TenantTx, id: Uuid) -> DomainResult<Product> {
    let row = crate::sql::row_by_id(tx, &format!("SELECT {COLUMNS} FROM products WHERE id = $1 AND tenant_id = $2"), id).await?;
    row.map(|r| from_row(&r)).ok_or_else(|| DomainError::not_found("product"))
}

/// Updates a product; a base-price change is appended to the price history and emits
/// `product_price_changed`.
pub async fn update(tx: &TenantTx, who: &Principal, id: Uuid, changes: ProductChanges) -> DomainResult<Product> {
    require_admin(who)?;
    let c = changes;
    let new_price = c.base_price.map(|p| validate::price("base_price", p)).transpose()?;
    let mut patch = Patch::new();
    patch.set("code", c.code.as_deref().map(code).transpose()?);
    patch.set("name", c.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("description", validate::opt_text_change("description", c.description, 2000)?);
    patch.set("unit", c.unit.map(Unit::as_str));
    patch.set("base_price", new_price);
    patch.set("active", c.active);
    let old: Decimal = tx
        .query_opt("SELECT base_price FROM products WHERE id = $1 AND tenant_id = $2 FOR UPDATE", &[&id, &tx.tenant_id()])
        .await?
        .ok_or_else(|| DomainError::not_found("product"))?
        .get(0);
    let row = patch.apply(tx, "products", id, COLUMNS).await?.ok_or_else(|| DomainError::not_found("product"))?;
    if let Some(new) = new_price.filter(|n| *n != old) {
        record_price(tx, id, Some(old), new).await?;
        outbox::record(tx, Event::ProductPriceChanged(ProductPriceChanged { product_id: id, old_price: old, new_price: new })).await?;
    }
    Ok(from_row(&row))
}

/// Deactivates the product (it stays on existing quotes and orders).
pub async fn deactivate(tx: &TenantTx, who: &Principal, id: Uuid) -> DomainResult<Product> {
    require_admin(who)?;
    let sql = format!("UPDATE products SET active = false, updated_at = now() WHERE id = $1 AND tenant_id = $2 RETURNING {COLUMNS}");
    let row = crate::sql::row_by_id(tx, &sql, id).await?;
    row.map(|r| from_row(&r)).ok_or_else(|| DomainError::not_found("product"))
}

/// Appends a base-price change to the price history.
async fn record_price(tx: &TenantTx, product_id: Uuid, old: Option<Decimal>, new: Decimal) -> DomainResult<()> {
    tx.execute("INSERT INTO price_history (tenant_id, product_id, old_price, new_price) VALUES ($1, $2, $3, $4)", &[&tx.tenant_id(), &product_id, &old, &new])
        .await?;
    Ok(())
}

/// Checks that `product_id` (an input field) is one of this tenant's products.
pub async fn require(tx: &TenantTx, id: Uuid) -> DomainResult<()> {
    tx.query_opt("SELECT 1 FROM products WHERE id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()])
        .await?
        .map(|_| ())
        .ok_or_else(|| DomainError::missing_reference("product_id", "product", id))
}

/// The product's code and name, for views that show a product by reference.
pub async fn code_and_name(tx: &TenantTx, id: Uuid) -> DomainResult<(String, String)> {
    let row = tx
        .query_opt("SELECT code, name FROM products WHERE id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()])
        .await?
        .ok_or_else(|| DomainError::missing_reference("product_id", "product", id))?;
    Ok((row.get(0), row.get(1)))
}
