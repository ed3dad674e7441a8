//! `/api/v1/products`: the catalogue (see [`crate::catalog::products`]). DELETE deactivates.

use http::StatusCode;
use uuid::Uuid;

use crate::auth::Principal;
use crate::catalog::products::{self, NewProduct, Product, ProductChanges, ProductFilter};
use crate::domain::require_admin;
use crate::domain::tenant::Tenant;
use crate::error::{ApiResult, ErrorBody};
use crate::http::{json, page_request, query_bool, query_search, HttpResponse, Page, Req};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/products", tag = "products",
    params(("search" = Option<String>, Query), ("active" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<Product>), (status = 400, body = ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let page = page_request(&q)?;
    let filter = ProductFilter { search: query_search(&q), active: query_bool(&q, "active")? };
    let products = products::list(&state.db().await?, tenant.id, &filter, &page).await?;
    Ok(json(StatusCode::OK, &products))
}

#[utoipa::path(post, path = "/api/v1/products", tag = "products", request_body = NewProduct,
    responses((status = 201, body = Product), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let input: NewProduct = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let product = products::create(&tx, who, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &product))
}

#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products", params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 404, body = ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let product = products::get(&tx, id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &product))
}

/// Updates a product; a base-price change is appended to the price history and emits
/// `product_price_changed`.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "products", params(("id" = Uuid, Path)), request_body = ProductChanges,
    responses((status = 200, body = Product), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let changes: ProductChanges = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let product = products::update(&tx, who, id, changes).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &product))
}

/// Deactivates the product (it stays on existing quotes and orders).
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "products", params(("id" = Uuid, Path)),
    responses((status = 200, body = Product), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deactivate(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid) -> ApiResult<HttpResponse> {
    require_admin(who)?;
    let tx = state.tenant_tx(tenant).await?;
    let product = products::deactivate(&tx, who, id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &product))
}
