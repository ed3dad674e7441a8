//! `GET /api/v1/dashboard`: the day at a glance (see [`crate::insights::dashboard`]).

use http::StatusCode;

use crate::domain::tenant::Tenant;
use crate::error::ApiResult;
use crate::http::{json, HttpResponse};
use crate::insights::dashboard::{self, Dashboard};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/dashboard", tag = "dashboard", responses((status = 200, body = Dashboard)))]
pub async fn show(state: &AppState, tenant: &Tenant) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let dashboard = dashboard::show(&tx).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &dashboard))
}
