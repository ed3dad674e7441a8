//! `/api/v1/stock`: receipts, adjustments and levels (see [`crate::catalog::stock`]).

use http::StatusCode;

use crate::auth::Principal;
use crate::catalog::stock::{self, Movement, MovementFilter, NewAdjustment, NewReceipt, StockFilter, StockLevel};
use crate::domain::require_admin;
use crate::domain::tenant::Tenant;
use crate::error::{ApiResult, ErrorBody};
use crate::http::{json, page_request, query_search, query_uuid, HttpResponse, Page, Req};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/stock/receipts", tag = "stock", request_body = NewReceipt,
    responses((status = 201, body = Movement), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn receipt(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let input: NewReceipt = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let movement = stock::receive(&tx, who, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &movement))
}

#[utoipa::path(post, path = "/api/v1/stock/adjustments", tag = "stock", request_body = NewAdjustment,
    responses((status = 201, body = Movement), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn adjustment(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let input: NewAdjustment = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let movement = stock::adjust(&tx, who, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &movement))
}

/// Stock levels of every product, with the engines' minimum and days to rupture when known.
#[utoipa::path(get, path = "/api/v1/stock", tag = "stock",
    params(("search" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<StockLevel>), (status = 400, body = ErrorBody)))]
pub async fn levels(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let (page, filter) = (page_request(&q)?, StockFilter { search: query_search(&q) });
    let tx = state.tenant_tx(tenant).await?;
    let levels = stock::levels(&tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &levels))
}

#[utoipa::path(get, path = "/api/v1/stock/movements", tag = "stock",
    params(("product_id" = Option<Uuid>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<Movement>), (status = 400, body = ErrorBody)))]
pub async fn movements(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let (page, filter) = (page_request(&q)?, MovementFilter { product_id: query_uuid(&q, "product_id")? });
    let tx = state.tenant_tx(tenant).await?;
    let movements = stock::movements(&tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &movements))
}
