//! `/api/v1/quotes`: priced proposals (see [`crate::sales::quotes`] for the state machine).

use http::StatusCode;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{json, page_request, query_date, query_uuid, HttpResponse, Page, Req};
use crate::sales::quotes::{self, Quote, QuoteAction, QuoteFilter, QuoteInput, QuoteStatus};
use crate::state::AppState;

#[utoipa::path(post, path = "/api/v1/quotes", tag = "quotes", request_body = QuoteInput,
    responses((status = 201, body = Quote), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    let input: QuoteInput = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let quote = quotes::create(&tx, who, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &quote))
}

/// Replaces a draft's fields and items.
#[utoipa::path(put, path = "/api/v1/quotes/{id}", tag = "quotes", params(("id" = Uuid, Path)), request_body = QuoteInput,
    responses((status = 200, body = Quote), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let input: QuoteInput = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let quote = quotes::replace(&tx, id, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &quote))
}

#[utoipa::path(post, path = "/api/v1/quotes/{id}/{action}", tag = "quotes",
    params(("id" = Uuid, Path), ("action" = String, Path, description = "send | approve | cancel")),
    responses((status = 200, body = Quote), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn transition(state: &AppState, tenant: &Tenant, id: Uuid, action: QuoteAction) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let quote = quotes::transition(&tx, id, action).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &quote))
}

#[utoipa::path(get, path = "/api/v1/quotes/{id}", tag = "quotes", params(("id" = Uuid, Path)),
    responses((status = 200, body = Quote), (status = 404, body = ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let quote = quotes::get_pipelined(&state.db().await?, tenant.id, id).await?;
    Ok(json(StatusCode::OK, &quote))
}

/// Quotes, newest first, without items; filter by status, client and creation period.
#[utoipa::path(get, path = "/api/v1/quotes", tag = "quotes",
    params(("status" = Option<QuoteStatus>, Query), ("client_id" = Option<Uuid>, Query), ("from" = Option<String>, Query, description = "YYYY-MM-DD"),
           ("to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<Quote>), (status = 400, body = ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let page = page_request(&q)?;
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(QuoteStatus::parse(s).ok_or_else(|| ApiError::bad_field("status", "status must be draft, sent, approved, converted or cancelled"))?),
    };
    let filter = QuoteFilter { status, client_id: query_uuid(&q, "client_id")?, from: query_date(&q, "from")?, to: query_date(&q, "to")? };
    let tx = state.tenant_tx(tenant).await?;
    let quotes = quotes::list(&tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &quotes))
}
