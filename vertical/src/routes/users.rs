//! `/api/v1/users`: the tenant's staff, managed by admins (see [`crate::people::users`]).

use http::StatusCode;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::error::{ApiResult, ErrorBody};
use crate::http::{json, page_request, HttpResponse, Page, Req};
use crate::people::users::{self, CreateUser, UpdateUser, UserView};
use crate::state::AppState;

/// `POST /api/v1/users` (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    crate::domain::require_admin(who)?;
    let input: CreateUser = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let user = users::create(&tx, who, input).await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &user))
}

/// `GET /api/v1/users` (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = Page<UserView>), (status = 403, body = ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    crate::domain::require_admin(who)?;
    let page = page_request(&req.query_params())?;
    let tx = state.tenant_tx(tenant).await?;
    let users = users::list(&tx, who, &page).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &users))
}

/// `PATCH /api/v1/users/{id}` (admin): rename, change role, (de)activate. The tenant's last
/// active admin cannot be demoted or deactivated (409).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = Uuid, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    crate::domain::require_admin(who)?;
    let changes: UpdateUser = req.json()?;
    let tx = state.tenant_tx(tenant).await?;
    let user = users::update(&tx, who, id, changes).await?;
    tx.commit().await?;
    // Deactivation and role changes take effect on the user's next request.
    crate::auth::revocation::user_changed(state, tenant.id, id).await;
    Ok(json(StatusCode::OK, &user))
}
