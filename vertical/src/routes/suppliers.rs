//! `/api/v1/suppliers`: who the dealer buys from and their prices (see
//! [`crate::catalog::suppliers`]).

use http::StatusCode;
use uuid::Uuid;

use crate::auth::Principal;
use crate::catalog::suppliers::{self, NewSupplier, NewSupplierPrice, Supplier, SupplierChanges, SupplierFilter, SupplierPrice};
use crate::domain::require_admin;
use crate::domain::tenant::Tenant;
use crate::error::{ApiResult, ErrorBody};
use crate::http::{json, page_request, query_bool, query_search, HttpResponse, Page, Req};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/suppliers", tag = "suppliers",
    params(("search" = Option<String>, Query), ("active" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<Supplier>), (status = 400, body = ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let page = page_request(&q)?;
    let filter = SupplierFilter { search: query_search(&q), active: query_bool(&q, "active")? };
    let tx = state.tenant_tx(tenant).await?;
    let suppliers = suppliers::list(&tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &suppliers))
}

#[utoipa::path(post, path = "/api/v1/suppliers", tag = "suppliers", request_body = NewSupplier,
    responses((status = 201, body = Supplier), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let input: NewSupplier = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let supplier = suppliers::create(&tx, who, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &supplier))
}

#[utoipa::path(get, path = "/api/v1/suppliers/{id}", tag = "suppliers", params(("id" = Uuid, Path)),
    responses((status = 200, body = Supplier), (status = 404, body = ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let supplier = suppliers::get(&tx, id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &supplier))
}

#[utoipa::path(patch, path = "/api/v1/suppliers/{id}", tag = "suppliers", params(("id" = Uuid, Path)), request_body = SupplierChanges,
    responses((status = 200, body = Supplier), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let changes: SupplierChanges = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let supplier = suppliers::update(&tx, who, id, changes).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &supplier))
}

/// Deactivates the supplier; its prices and history stay for the record.
#[utoipa::path(delete, path = "/api/v1/suppliers/{id}", tag = "suppliers", params(("id" = Uuid, Path)),
    responses((status = 200, body = Supplier), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deactivate(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let tx = state.tenant_tx(tenant).await?;
    let supplier = suppliers::deactivate(&tx, who, id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &supplier))
}

/// Sets the supplier's price for a product.
#[utoipa::path(post, path = "/api/v1/suppliers/{id}/prices", tag = "suppliers", params(("id" = Uuid, Path)), request_body = NewSupplierPrice,
    responses((status = 201, body = SupplierPrice), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_price(state: &AppState, tenant: &Tenant, who: &Principal, supplier_id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let input: NewSupplierPrice = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let price = suppliers::set_price(&tx, who, supplier_id, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &price))
}

/// The supplier's current prices.
#[utoipa::path(get, path = "/api/v1/suppliers/{id}/prices", tag = "suppliers", params(("id" = Uuid, Path)),
    responses((status = 200, body = Page<SupplierPrice>), (status = 404, body = ErrorBody)))]
pub async fn prices(state: &AppState, tenant: &Tenant, supplier_id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let prices = suppliers::prices(&tx, supplier_id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &Page::all(prices)))
}
