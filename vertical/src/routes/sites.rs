//! `/api/v1/sites`: job sites (see [`crate::people::sites`]).

use http::StatusCode;
use uuid::Uuid;

use crate::domain::tenant::Tenant;
use crate::error::{ApiResult, ErrorBody};
use crate::http::{json, no_content, page_request, query_uuid, HttpResponse, Page, Req};
use crate::people::sites::{self, NewSite, Site, SiteChanges, SiteFilter};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/sites", tag = "sites",
    params(("client_id" = Option<Uuid>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<Site>), (status = 400, body = ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let (page, filter) = (page_request(&q)?, SiteFilter { client_id: query_uuid(&q, "client_id")? });
    let tx = state.tenant_tx(tenant).await?;
    let sites = sites::list(&tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &sites))
}

#[utoipa::path(post, path = "/api/v1/sites", tag = "sites", request_body = NewSite,
    responses((status = 201, body = Site), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let input: NewSite = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let site = sites::create(&tx, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &site))
}

#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "sites", params(("id" = Uuid, Path)),
    responses((status = 200, body = Site), (status = 404, body = ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let site = sites::get(&tx, id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &site))
}

#[utoipa::path(patch, path = "/api/v1/sites/{id}", tag = "sites", params(("id" = Uuid, Path)), request_body = SiteChanges,
    responses((status = 200, body = Site), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let changes: SiteChanges = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let site = sites::update(&tx, id, changes).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &site))
}

/// Deletes a site no quote or order refers to; otherwise 409 (deactivate it instead).
#[utoipa::path(delete, path = "/api/v1/sites/{id}", tag = "sites", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    sites::delete(&tx, id).await?;
    tx.commit().await?;
    Ok(no_content())
}
