//! `/api/v1/orders`: approved quotes turned into deliveries (see [`crate::sales::orders`]).

use http::StatusCode;
use uuid::Uuid;

use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{json, page_request, query_uuid, HttpResponse, Page, Req};
use crate::sales::orders::{self, Conversion, Order, OrderChanges, OrderFilter, OrderStatus};
use crate::state::AppState;

/// Converts an approved quote into an order. Repeats return the same order with 200; the quote
/// row lock makes concurrent repeats queue, so exactly one order is created.
#[utoipa::path(post, path = "/api/v1/orders/from-quote/{quote_id}", tag = "orders", params(("quote_id" = Uuid, Path)),
    responses((status = 201, body = Order, description = "created"), (status = 200, body = Order, description = "already converted: the same order"),
               (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn from_quote(state: &AppState, tenant: &Tenant, quote_id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let conversion = orders::from_quote(&tx, quote_id).await?;
    tx.commit().await?;
    Ok(match conversion {
        Conversion::Created(order) => json(StatusCode::CREATED, &order),
        Conversion::Existing(order) => json(StatusCode::OK, &order),
    })
}

/// Moves an order along its allowed transitions and/or edits its notes. Asking for the status
/// it already has changes nothing and emits nothing.
#[utoipa::path(patch, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = Uuid, Path)), request_body = OrderChanges,
    responses((status = 200, body = Order), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let changes: OrderChanges = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let order = orders::update(&tx, id, changes).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &order))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = Order), (status = 404, body = ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let order = orders::get(&tx, id).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &order))
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    params(("status" = Option<OrderStatus>, Query), ("client_id" = Option<Uuid>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<Order>), (status = 400, body = ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let page = page_request(&q)?;
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            OrderStatus::parse(s)
                .ok_or_else(|| ApiError::bad_field("status", "status must be pending, preparing, out_for_delivery, delivered or cancelled"))?,
        ),
    };
    let filter = OrderFilter { status, client_id: query_uuid(&q, "client_id")? };
    let tx = state.tenant_tx(tenant).await?;
    let orders = orders::list(&tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &orders))
}
