//! Request routing: the whole URL space of the vertical, read top to bottom.
//!
//! `/health*` is open; everything else needs the edge secret and a known, active tenant;
//! `/api/v1/*` and `/auth/me` also need a token of that tenant.

pub mod auth;
pub mod health;
pub mod tenant;
pub mod users;

use http::Method;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::edge::{check_edge_secret, resolve_tenant};
use crate::error::{ApiError, ApiResult};
use crate::http::{path_uuid, HttpResponse, Req};
use crate::state::AppState;

/// Routes one request; every error becomes its JSON response here.
pub async fn handle(state: &AppState, req: &Req) -> HttpResponse {
    match route(state, req).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    }
}

async fn route(state: &AppState, req: &Req) -> ApiResult<HttpResponse> {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (&req.method, segments.as_slice()) {
        (&Method::GET, ["health"]) => return Ok(health::live()),
        (&Method::GET, ["health", "ready"]) => return Ok(health::ready(state).await),
        _ => {}
    }

    check_edge_secret(state, req)?;
    let tenant = resolve_tenant(state, req).await?;
    tracing::Span::current().record("tenant", tenant.slug.as_str());

    match (&req.method, segments.as_slice()) {
        (&Method::GET, ["tenant.json"]) => Ok(tenant::show(&tenant)),
        (&Method::POST, ["auth", "login"]) => auth::login(state, &tenant, req).await,
        (&Method::POST, ["auth", "refresh"]) => auth::refresh(state, &tenant, req).await,
        (&Method::POST, ["auth", "logout"]) => auth::logout(state, &tenant, req).await,
        (&Method::GET, ["auth", "me"]) => {
            let who = Principal::authenticate(state, &tenant, req)?;
            auth::me(state, &tenant, &who).await
        }
        (_, ["api", "v1", rest @ ..]) => {
            let who = Principal::authenticate(state, &tenant, req)?;
            api_v1(state, &tenant, &who, req, rest).await
        }
        _ => Err(ApiError::NotFound(format!("no route for {} {}", req.method, req.path))),
    }
}

async fn api_v1(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req, path: &[&str]) -> ApiResult<HttpResponse> {
    match (&req.method, path) {
        (&Method::GET, ["users"]) => users::list(state, tenant, who, req).await,
        (&Method::POST, ["users"]) => users::create(state, tenant, who, req).await,
        (&Method::PATCH, ["users", id]) => users::update(state, tenant, who, path_uuid(id, "id")?, req).await,
        _ => Err(ApiError::NotFound(format!("no route for {} {}", req.method, req.path))),
    }
}
