//! `/api/v1/clients`: the dealer's customers (see [`crate::people::clients`]).

use http::StatusCode;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::error::{ApiResult, ErrorBody};
use crate::http::{json, no_content, page_request, query_search, HttpResponse, Page, Req};
use crate::people::clients::{self, Client, ClientChanges, ClientFilter, NewClient};
use crate::state::AppState;

/// List clients; `search` matches name, document or e-mail.
#[utoipa::path(get, path = "/api/v1/clients", tag = "clients",
    params(("search" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<Client>), (status = 400, body = ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let (page, filter) = (page_request(&q)?, ClientFilter { search: query_search(&q) });
    let tx = state.tenant_tx(tenant).await?;
    let clients = clients::list(&tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &clients))
}

#[utoipa::path(post, path = "/api/v1/clients", tag = "clients", request_body = NewClient,
    responses((status = 201, body = Client), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let input: NewClient = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let client = clients::create(&tx, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &client))
}

#[utoipa::path(get, path = "/api/v1/clients/{id}", tag = "clients", params(("id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = 404, body = ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let client = clients::get(&tx, id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &client))
}

#[utoipa::path(patch, path = "/api/v1/clients/{id}", tag = "clients", params(("id" = Uuid, Path)), request_body = ClientChanges,
    responses((status = 200, body = Client), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let changes: ClientChanges = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let client = clients::update(&tx, id, changes).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &client))
}

/// Deletes a client and its sites; refused (409) while quotes or orders reference it.
#[utoipa::path(delete, path = "/api/v1/clients/{id}", tag = "clients", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    clients::delete(&tx, id).await?;
    tx.commit().await?;
    tracing::info!(client = %id, by = %who.user_id, "client deleted");
    Ok(no_content())
}
