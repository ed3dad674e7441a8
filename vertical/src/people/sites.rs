//! Job sites: where a client's materials go. Each belongs to a client of the same tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::page::keyset_clause;
use crate::domain::{validate, Address, Cursor, DomainError, DomainResult, Nullable, Page, PageRequest};
use crate::people::clients;
use crate::sql::Patch;
use infra::db::TenantTx;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Site {
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub address: Address,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, client_id, name, address, city, state, postal_code, active, created_at, updated_at";

fn from_row(r: &tokio_postgres::Row) -> Site {
    Site { id: r.get(0), client_id: r.get(1), name: r.get(2), address: Address::from_row(r, 3), active: r.get(7), created_at: r.get(8), updated_at: r.get(9) }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSite {
    pub client_id: Uuid,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteChanges {
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub address: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub city: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub state: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub postal_code: Nullable<String>,
    pub active: Option<bool>,
}

/// Which sites to list.
#[derive(Debug, Default)]
pub struct SiteFilter {
    pub client_id: Option<Uuid>,
}

pub async fn list(tx: &TenantTx, filter: &SiteFilter, page: &PageRequest) -> DomainResult<Page<Site>> {
    let (t, id) = page.keyset();
    let sql = format!("SELECT {COLUMNS} FROM sites WHERE tenant_id = $1 AND ($2::uuid IS NULL OR client_id = $2) {}", keyset_clause("", 3));
    let rows = tx.query(&sql, &[&tx.tenant_id(), &filter.client_id, &t, &id, &page.fetch()]).await?;
    Ok(page.page(rows.iter().map(from_row).collect(), |s: &Site| Cursor { t: s.created_at, id: s.id }))
}

pub async fn create(tx: &TenantTx, input: NewSite) -> DomainResult<Site> {
    let name = validate::text("name", &input.name, 200)?;
    let a = Address::parse(input.address.as_deref(), input.city.as_deref(), input.state.as_deref(), input.postal_code.as_deref())?;
    clients::require(tx, input.client_id).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO sites (tenant_id, client_id, name, address, city, state, postal_code, active) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
            ),
            &[&tx.tenant_id(), &input.client_id, &name, &a.address, &a.city, &a.state, &a.postal_code, &input.active.unwrap_or(true)],
        )
        .await?;
    Ok(from_row(&row))
}

pub async fn get(tx: &TenantTx, id: Uuid) -> DomainResult<Site> {
    let row = crate::sql::row_by_id(tx, &format!("SELECT {COLUMNS} FROM sites WHERE id = $1 AND tenant_id = $2"), id).await?;
    row.map(|r| from_row(&r)).ok_or_else(|| DomainError::not_found("site"))
}

pub async fn update(tx: &TenantTx, id: Uuid, changes: SiteChanges) -> DomainResult<Site> {
    let c = changes;
    let mut patch = Patch::new();
    patch.set("name", c.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("active", c.active);
    for ((field, max), v) in Address::FIELDS.into_iter().zip([c.address, c.city, c.state, c.postal_code]) {
        patch.set(field, validate::opt_text_change(field, v, max)?);
    }
    let row = patch.apply(tx, "sites", id, COLUMNS).await?.ok_or_else(|| DomainError::not_found("site"))?;
    Ok(from_row(&row))
}

/// Deletes a site no quote or order refers to; otherwise 409 (deactivate it instead).
pub async fn delete(tx: &TenantTx, id: Uuid) -> DomainResult<()> {
    let row = tx
        .query_opt(
            "SELECT (SELECT count(*) FROM quotes q WHERE q.site_id = s.id AND q.tenant_id = s.tenant_id) \
                  + (SELECT count(*) FROM orders o WHERE o.site_id = s.id AND o.tenant_id = s.tenant_id) \
             FROM sites s WHERE s.id = $1 AND s.tenant_id = $2 FOR UPDATE",
            &[&id, &tx.tenant_id()],
        )
        .await?
        .ok_or_else(|| DomainError::not_found("site"))?;
    let refs: i64 = row.get(0);
    if refs > 0 {
        return Err(DomainError::conflict("site_in_use", format!("the site is referenced by {refs} quote(s)/order(s); set active=false instead")));
    }
    tx.execute("DELETE FROM sites WHERE id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()]).await?;
    Ok(())
}

/// A job site as quotes check it: it must belong to `client_id` and be active (`site_id` names
/// the input field in errors).
pub async fn require_for_client(tx: &TenantTx, site_id: Uuid, client_id: Uuid) -> DomainResult<()> {
    let site = tx
        .query_opt("SELECT client_id, active FROM sites WHERE id = $1 AND tenant_id = $2", &[&site_id, &tx.tenant_id()])
        .await?
        .ok_or_else(|| DomainError::missing_reference("site_id", "site", site_id))?;
    if site.get::<_, Uuid>(0) != client_id {
        return Err(DomainError::invalid("site_id", "the site belongs to another client"));
    }
    if !site.get::<_, bool>(1) {
        return Err(DomainError::invalid("site_id", "the site is inactive"));
    }
    Ok(())
}
