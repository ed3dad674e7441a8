//! `/api/v1/sites`: job sites, each belonging to a client of the same tenant.

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, no_content, Cursor, HttpResponse, ListParams, Req};
use crate::sql::Patch;
use crate::state::AppState;
use crate::validate::{self, double_option};
use infra::db::{tenant_transaction, Transaction};

#[derive(Debug, Serialize, ToSchema)]
pub struct Site {
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, client_id, name, address, city, state, postal_code, active, created_at, updated_at";

fn from_row(r: &tokio_postgres::Row) -> Site {
    Site {
        id: r.get(0),
        client_id: r.get(1),
        name: r.get(2),
        address: r.get(3),
        city: r.get(4),
        state: r.get(5),
        postal_code: r.get(6),
        active: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
    }
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteChanges {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub state: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub postal_code: Option<Option<String>>,
    pub active: Option<bool>,
}

const OPTIONAL: [(&str, usize); 4] = [("address", 300), ("city", 120), ("state", 60), ("postal_code", 20)];

/// Checks that `client_id` is a client of this tenant (404 naming it otherwise).
pub async fn require_client(tx: &Transaction<'_>, tenant_id: Uuid, client_id: Uuid) -> ApiResult<()> {
    let found = tx.query_opt("SELECT 1 FROM clients WHERE id = $1 AND tenant_id = $2", &[&client_id, &tenant_id]).await?;
    found.map(|_| ()).ok_or_else(|| ApiError::NotFound(format!("client_id: client {client_id} not found")))
}

#[utoipa::path(get, path = "/api/v1/sites", tag = "sites",
    params(("client_id" = Option<Uuid>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<Site>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let client_id = validate::query_uuid(&q, "client_id")?;
    let (t, id) = params.keyset();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM sites WHERE tenant_id = $1 AND ($2::uuid IS NULL OR client_id = $2) \
                 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
            ),
            &[&tenant.id, &client_id, &t, &id, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let items = rows.iter().map(from_row).collect();
    Ok(json(StatusCode::OK, &params.page(items, |s: &Site| Cursor { t: s.created_at, id: s.id })))
}

#[utoipa::path(post, path = "/api/v1/sites", tag = "sites", request_body = NewSite,
    responses((status = 201, body = Site), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let b: NewSite = req.json()?;
    let name = validate::text("name", &b.name, 200)?;
    let values = [&b.address, &b.city, &b.state, &b.postal_code];
    let mut optional = Vec::with_capacity(4);
    for ((field, max), v) in OPTIONAL.iter().zip(values) {
        optional.push(validate::opt_text(field, v.as_deref(), *max)?);
    }
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    require_client(&tx, tenant.id, b.client_id).await?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO sites (tenant_id, client_id, name, address, city, state, postal_code, active) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
            ),
            &[&tenant.id, &b.client_id, &name, &optional[0], &optional[1], &optional[2], &optional[3], &b.active.unwrap_or(true)],
        )
        .await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &from_row(&row)))
}

#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "sites", params(("id" = Uuid, Path)),
    responses((status = 200, body = Site), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let row = crate::sql::one_row(state, tenant, &format!("SELECT {COLUMNS} FROM sites WHERE id = $1 AND tenant_id = $2"), id, "site").await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

#[utoipa::path(patch, path = "/api/v1/sites/{id}", tag = "sites", params(("id" = Uuid, Path)), request_body = SiteChanges,
    responses((status = 200, body = Site), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let b: SiteChanges = req.json()?;
    let mut patch = Patch::new();
    patch.set("name", b.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("active", b.active);
    for ((field, max), v) in OPTIONAL.iter().zip([b.address, b.city, b.state, b.postal_code]) {
        patch.set(field, v.map(|v| validate::opt_text(field, v.as_deref(), *max)).transpose()?);
    }
    let row = patch.run(state, tenant, "sites", id, COLUMNS, "site").await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

/// Deletes a site no quote or order refers to; otherwise 409 (deactivate it instead).
#[utoipa::path(delete, path = "/api/v1/sites/{id}", tag = "sites", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody)))]
pub async fn delete(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt(
            "SELECT (SELECT count(*) FROM quotes q WHERE q.site_id = s.id AND q.tenant_id = s.tenant_id) \
                  + (SELECT count(*) FROM orders o WHERE o.site_id = s.id AND o.tenant_id = s.tenant_id) \
             FROM sites s WHERE s.id = $1 AND s.tenant_id = $2 FOR UPDATE",
            &[&id, &tenant.id],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("site"))?;
    let refs: i64 = row.get(0);
    if refs > 0 {
        return Err(ApiError::conflict("site_in_use", format!("the site is referenced by {refs} quote(s)/order(s); set active=false instead")));
    }
    tx.execute("DELETE FROM sites WHERE id = $1 AND tenant_id = $2", &[&id, &tenant.id]).await?;
    tx.commit().await?;
    Ok(no_content())
}
