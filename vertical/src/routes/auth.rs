//! `/auth/*`: login, refresh-token rotation, logout and `me` (see [`crate::auth::sessions`]).

use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::principal::CookieNames;
use crate::auth::sessions::{self, IssuedTokens, LoginRequest, Me};
use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{json, no_content, HttpResponse, Req};
use crate::state::AppState;

/// The refresh token may come in the body (API clients) or the `__Host-bc_refresh` cookie (browsers).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

/// `POST /auth/login`.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, security(()),
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
pub async fn login(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let body: LoginRequest = req.json()?;
    let tokens = sessions::sign_in(state, tenant, body).await?;
    Ok(token_response(state, tokens))
}

/// `POST /auth/refresh`: exchanges a refresh token for a new pair. The old token is spent; if a
/// spent token is ever presented again, someone copied it, so its whole family is revoked.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, security(()),
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let body: RefreshRequest = req.json_or_default()?;
    let token = body
        .refresh_token
        .or_else(|| req.cookie(CookieNames::of(state).refresh).map(str::to_owned))
        .ok_or_else(|| ApiError::unauthorized("refresh token required"))?;
    let tokens = sessions::rotate(state, tenant, &token).await?;
    Ok(token_response(state, tokens))
}

/// `POST /auth/logout`: revokes the presented refresh token's family and clears the cookies.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest, security(()), responses((status = 204)))]
pub async fn logout(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let body: RefreshRequest = req.json_or_default()?;
    if let Some(token) = body.refresh_token.or_else(|| req.cookie(CookieNames::of(state).refresh).map(str::to_owned)) {
        sessions::sign_out(state, tenant, &token).await?;
    }
    let mut resp = no_content();
    for c in sessions::cleared_cookies(state) {
        append_cookie(&mut resp, &c);
    }
    Ok(resp)
}

/// `GET /auth/me`.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(state: &AppState, tenant: &Tenant, principal: &Principal) -> ApiResult<HttpResponse> {
    let tx = state.tenant_tx(tenant).await?;
    let me = sessions::me(&tx, tenant, principal).await?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &me))
}

fn token_response(state: &AppState, tokens: IssuedTokens) -> HttpResponse {
    let access_ttl = state.tokens.access_ttl_secs;
    let refresh_ttl = state.settings.auth.refresh_token_ttl_days as i64 * 86_400;
    let mut resp = json(
        StatusCode::OK,
        &TokenResponse {
            access_token: tokens.access.clone(),
            token_type: "Bearer",
            expires_in: access_ttl,
            refresh_token: tokens.refresh.clone(),
            refresh_expires_in: refresh_ttl,
        },
    );
    for c in sessions::session_cookies(state, &tokens) {
        append_cookie(&mut resp, &c);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn append_cookie(resp: &mut HttpResponse, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}
