//! Suppliers: who the dealer buys from, their lead times and their prices. Every price change
//! is appended to the price history and emits `supplier_price_changed`.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::catalog::products;
use crate::domain::page::keyset_clause;
use crate::domain::{require_admin, validate, Cursor, DomainError, DomainResult, Nullable, Page, PageRequest};
use crate::outbox;
use crate::sql::Patch;
use infra::db::TenantTx;
use infra::events::{Event, SupplierPriceChanged};

#[derive(Debug, Clone, Serialize, ToSchema)]
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierChanges {
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub document: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Nullable<String>,
    pub lead_time_days: Option<i32>,
    pub active: Option<bool>,
}

/// Which suppliers to list.
#[derive(Debug, Default)]
pub struct SupplierFilter {
    /// `ILIKE` pattern matched against name and document.
    pub search: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

fn lead_time(v: i32) -> DomainResult<i32> {
    if (0..=365).contains(&v) {
        Ok(v)
    } else {
        Err(DomainError::invalid("lead_time_days", "lead_time_days must be between 0 and 365"))
    }
}

const DOCUMENT_MAX: usize = 32;
const PHONE_MAX: usize = 40;

pub async fn list(tx: &TenantTx, filter: &SupplierFilter, page: &PageRequest) -> DomainResult<Page<Supplier>> {
    let (t, id) = page.keyset();
    let sql = format!(
        "SELECT {COLUMNS} FROM suppliers WHERE tenant_id = $1 AND ($2::text IS NULL OR name ILIKE $2 OR document ILIKE $2) AND ($3::bool IS NULL OR active = $3) {}",
        keyset_clause("", 4)
    );
    let rows = tx.query(&sql, &[&tx.tenant_id(), &filter.search, &filter.active, &t, &id, &page.fetch()]).await?;
    Ok(page.page(rows.iter().map(from_row).collect(), |s: &Supplier| Cursor { t: s.created_at, id: s.id }))
}

pub async fn create(tx: &TenantTx, who: &Principal, input: NewSupplier) -> DomainResult<Supplier> {
    require_admin(who)?;
    let name = validate::text("name", &input.name, 200)?;
    let document = validate::opt_text("document", input.document.as_deref(), DOCUMENT_MAX)?;
    let email = validate::opt_email("email", input.email.as_deref())?;
    let phone = validate::opt_text("phone", input.phone.as_deref(), PHONE_MAX)?;
    let lead = lead_time(input.lead_time_days.unwrap_or(7))?;
    let row = tx
        .query_one(
            &format!("INSERT INTO suppliers (tenant_id, name, document, email, phone, lead_time_days, active) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"),
            &[&tx.tenant_id(), &name, &document, &email, &phone, &lead, &input.active.unwrap_or(true)],
        )
        .await?;
    Ok(from_row(&row))
}

pub async fn get(tx: &TenantTx, id: Uuid) -> DomainResult<Supplier> {
    let row = crate::sql::row_by_id(tx, &format!("SELECT {COLUMNS} FROM suppliers WHERE id = $1 AND tenant_id = $2"), id).await?;
    row.map(|r| from_row(&r)).ok_or_else(|| DomainError::not_found("supplier"))
}

pub async fn update(tx: &TenantTx, who: &Principal, id: Uuid, changes: SupplierChanges) -> DomainResult<Supplier> {
    require_admin(who)?;
    let c = changes;
    let mut patch = Patch::new();
    patch.set("name", c.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("document", validate::opt_text_change("document", c.document, DOCUMENT_MAX)?);
    patch.set("email", validate::opt_email_change("email", c.email)?);
    patch.set("phone", validate::opt_text_change("phone", c.phone, PHONE_MAX)?);
    patch.set("lead_time_days", c.lead_time_days.map(lead_time).transpose()?);
    patch.set("active", c.active);
    let row = patch.apply(tx, "suppliers", id, COLUMNS).await?.ok_or_else(|| DomainError::not_found("supplier"))?;
    Ok(from_row(&row))
}

/// Deactivates the supplier; its prices and history stay for the record.
pub async fn deactivate(tx: &TenantTx, who: &Principal, id: Uuid) -> DomainResult<Supplier> {
    require_admin(who)?;
    let sql = format!("UPDATE suppliers SET active = false, updated_at = now() WHERE id = $1 AND tenant_id = $2 RETURNING {COLUMNS}");
    let row = crate::sql::row_by_id(tx, &sql, id).await?;
    row.map(|r| from_row(&r)).ok_or_else(|| DomainError::not_found("supplier"))
}

/// Sets the supplier's price for a product. Only a change is history and an event.
pub async fn set_price(tx: &TenantTx, who: &Principal, supplier_id: Uuid, input: NewSupplierPrice) -> DomainResult<SupplierPrice> {
    require_admin(who)?;
    let price = validate::price("price", input.price)?;
    let valid_from = input.valid_from.unwrap_or_else(|| Utc::now().date_naive());
    let tenant_id = tx.tenant_id();
    require(tx, supplier_id).await?;
    let (product_code, product_name) = products::code_and_name(tx, input.product_id).await?;
    // Create-or-lock the row first, so concurrent first prices queue and each sees its predecessor.
    let created = tx
        .execute(
            "INSERT INTO supplier_prices (tenant_id, supplier_id, product_id, price, valid_from) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, supplier_id, product_id) DO NOTHING",
            &[&tenant_id, &supplier_id, &input.product_id, &price, &valid_from],
        )
        .await?
        == 1;
    let old: Option<Decimal> = if created {
        None
    } else {
        let old: Decimal = tx
            .query_one(
                "SELECT price FROM supplier_prices WHERE tenant_id = $1 AND supplier_id = $2 AND product_id = $3 FOR UPDATE",
                &[&tenant_id, &supplier_id, &input.product_id],
            )
            .await?
            .get(0);
        tx.execute(
            "UPDATE supplier_prices SET price = $4, valid_from = $5, updated_at = now() WHERE tenant_id = $1 AND supplier_id = $2 AND product_id = $3",
            &[&tenant_id, &supplier_id, &input.product_id, &price, &valid_from],
        )
        .await?;
        Some(old)
    };
    let updated_at: DateTime<Utc> = tx
        .query_one(
            "SELECT updated_at FROM supplier_prices WHERE tenant_id = $1 AND supplier_id = $2 AND product_id = $3",
            &[&tenant_id, &supplier_id, &input.product_id],
        )
        .await?
        .get(0);
    if old != Some(price) {
        tx.execute(
            "INSERT INTO price_history (tenant_id, product_id, supplier_id, old_price, new_price, valid_from) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&tenant_id, &input.product_id, &supplier_id, &old, &price, &valid_from],
        )
        .await?;
        let event = SupplierPriceChanged { supplier_id, product_id: input.product_id, old_price: old, new_price: price, valid_from };
        outbox::record(tx, Event::SupplierPriceChanged(event)).await?;
    }
    Ok(SupplierPrice { supplier_id, product_id: input.product_id, product_code, product_name, price, previous_price: old, valid_from, updated_at })
}

/// The supplier's current prices (404 if the supplier is not this tenant's).
pub async fn prices(tx: &TenantTx, supplier_id: Uuid) -> DomainResult<Vec<SupplierPrice>> {
    require(tx, supplier_id).await.map_err(|_| DomainError::not_found("supplier"))?;
    let rows = tx
        .query(
            "SELECT sp.product_id, p.code, p.name, sp.price, sp.valid_from, sp.updated_at, \
                    (SELECT h.old_price FROM price_history h WHERE h.tenant_id = sp.tenant_id AND h.supplier_id = sp.supplier_id \
                       AND h.product_id = sp.product_id ORDER BY h.id DESC LIMIT 1) \
             FROM supplier_prices sp JOIN products p ON p.id = sp.product_id AND p.tenant_id = sp.tenant_id \
             WHERE sp.tenant_id = $1 AND sp.supplier_id = $2 ORDER BY p.code",
            &[&tx.tenant_id(), &supplier_id],
        )
        .await?;
    Ok(rows
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
        .collect())
}

/// Checks that `supplier_id` (an input field) is one of this tenant's suppliers.
pub async fn require(tx: &TenantTx, id: Uuid) -> DomainResult<()> {
    tx.query_opt("SELECT 1 FROM suppliers WHERE id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()])
        .await?
        .map(|_| ())
        .ok_or_else(|| DomainError::missing_reference("supplier_id", "supplier", id))
}
