//! `/api/v1/clients`: the dealer's customers (people or companies).

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, Cursor, HttpResponse, ListParams, Req};
use crate::sql::Patch;
use crate::state::AppState;
use crate::validate::{self, double_option};
use infra::db::tenant_transaction;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Individual,
    Company,
}

impl ClientKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Company => "company",
        }
    }
    fn parse(s: &str) -> Self {
        if s == "company" {
            Self::Company
        } else {
            Self::Individual
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Client {
    pub id: Uuid,
    pub kind: ClientKind,
    pub name: String,
    pub document: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, name, document, email, phone, address, city, state, postal_code, notes, created_at, updated_at";

fn from_row(r: &tokio_postgres::Row) -> Client {
    Client {
        id: r.get(0),
        kind: ClientKind::parse(r.get(1)),
        name: r.get(2),
        document: r.get(3),
        email: r.get(4),
        phone: r.get(5),
        address: r.get(6),
        city: r.get(7),
        state: r.get(8),
        postal_code: r.get(9),
        notes: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub kind: ClientKind,
    pub name: String,
    pub document: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub notes: Option<String>,
}

/// Fields to change; `null` clears an optional field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientChanges {
    pub kind: Option<ClientKind>,
    pub name: Option<String>,
    pub document: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
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
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
}

fn document(v: &str) -> ApiResult<String> {
    let d = validate::text("document", v, 32)?;
    if !d.chars().all(|c| c.is_ascii_alphanumeric() || ".-/ ".contains(c)) {
        return Err(ApiError::invalid("document", "document may only contain letters, digits and . - /"));
    }
    Ok(d)
}

/// Optional text fields of a client: (name, max length).
const OPTIONAL: [(&str, usize); 6] = [("phone", 40), ("address", 300), ("city", 120), ("state", 60), ("postal_code", 20), ("notes", 2000)];

/// List clients; `search` matches name, document or e-mail.
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients",
    params(("search" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<Client>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let search = validate::search_pattern(&q);
    let (t, id) = params.keyset();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 \
                 AND ($2::text IS NULL OR name ILIKE $2 OR document ILIKE $2 OR email ILIKE $2) \
                 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) \
                 ORDER BY created_at DESC, id DESC LIMIT $5"
            ),
            &[&tenant.id, &search, &t, &id, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let items = rows.iter().map(from_row).collect();
    Ok(json(StatusCode::OK, &params.page(items, |c: &Client| Cursor { t: c.created_at, id: c.id })))
}

#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", request_body = NewClient,
    responses((status = 201, body = Client), (status = 409, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let b: NewClient = req.json()?;
    let name = validate::text("name", &b.name, 200)?;
    let document = document(&b.document)?;
    let email = validate::opt_email("email", b.email.as_deref())?;
    let values = [&b.phone, &b.address, &b.city, &b.state, &b.postal_code, &b.notes];
    let mut optional = Vec::with_capacity(6);
    for ((field, max), v) in OPTIONAL.iter().zip(values) {
        optional.push(validate::opt_text(field, v.as_deref(), *max)?);
    }
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO clients (tenant_id, kind, name, document, email, phone, address, city, state, postal_code, notes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tenant_id, document) DO NOTHING RETURNING {COLUMNS}"
            ),
            &[&tenant.id, &b.kind.as_str(), &name, &document, &email, &optional[0], &optional[1], &optional[2], &optional[3], &optional[4], &optional[5]],
        )
        .await?
        .ok_or_else(|| ApiError::conflict("duplicate_document", format!("a client with document {document} already exists")))?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &from_row(&row)))
}

#[utoipa::path(get, path = "/api/v1/clients/{id}", tag = "clients", params(("id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let row = crate::sql::one_row(state, tenant, &format!("SELECT {COLUMNS} FROM clients WHERE id = $1 AND tenant_id = $2"), id, "client").await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

#[utoipa::path(patch, path = "/api/v1/clients/{id}", tag = "clients", params(("id" = Uuid, Path)), request_body = ClientChanges,
    responses((status = 200, body = Client), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let b: ClientChanges = req.json()?;
    let mut patch = Patch::new();
    patch.set("kind", b.kind.map(ClientKind::as_str));
    patch.set("name", b.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("document", b.document.as_deref().map(document).transpose()?);
    patch.set("email", b.email.map(|v| validate::opt_email("email", v.as_deref())).transpose()?);
    let values = [b.phone, b.address, b.city, b.state, b.postal_code, b.notes];
    for ((field, max), v) in OPTIONAL.iter().zip(values) {
        patch.set(field, v.map(|v| validate::opt_text(field, v.as_deref(), *max)).transpose()?);
    }
    let row = patch.run(state, tenant, "clients", id, COLUMNS, "client").await?;
    Ok(json(StatusCode::OK, &from_row(&row)))
}

/// Deletes a client and its sites; refused (409) while quotes or orders reference it.
#[utoipa::path(delete, path = "/api/v1/clients/{id}", tag = "clients", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody)))]
pub async fn delete(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid) -> ApiResult<HttpResponse> {
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt(
            "SELECT (SELECT count(*) FROM quotes q WHERE q.client_id = c.id AND q.tenant_id = c.tenant_id), \
                    (SELECT count(*) FROM orders o WHERE o.client_id = c.id AND o.tenant_id = c.tenant_id) \
             FROM clients c WHERE c.id = $1 AND c.tenant_id = $2 FOR UPDATE",
            &[&id, &tenant.id],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("client"))?;
    let (quotes, orders): (i64, i64) = (row.get(0), row.get(1));
    if quotes + orders > 0 {
        return Err(ApiError::conflict("client_in_use", format!("the client cannot be deleted: it is referenced by {quotes} quote(s) and {orders} order(s)")));
    }
    tx.execute("DELETE FROM clients WHERE id = $1 AND tenant_id = $2", &[&id, &tenant.id]).await?;
    tx.commit().await?;
    tracing::info!(client = %id, by = %who.user_id, "client deleted");
    Ok(crate::http::no_content())
}
