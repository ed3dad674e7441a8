//! `/auth/*`: login, refresh-token rotation with reuse detection, logout, and `me`.

use chrono::{Duration, Utc};
use http::{header, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::principal::{ACCESS_COOKIE, REFRESH_COOKIE};
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::auth::{password, Principal};
use crate::domain::tenant::Tenant;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, no_content, HttpResponse, Req};
use crate::state::AppState;
use infra::db::{tenant_transaction, Transaction};

/// One message for every login failure, so responses do not tell which e-mails exist.
const BAD_CREDENTIALS: &str = "invalid e-mail or password (after 5 failures the account is locked for 15 minutes)";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The refresh token may come in the body (API clients) or the `bc_refresh` cookie (browsers).
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
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::docs::ErrorBody)))]
pub async fn login(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let body: LoginRequest = req.json()?;
    let email = body.email.trim().to_lowercase();
    if email.chars().any(char::is_control) || email.len() > 254 {
        return Err(ApiError::unauthorized(BAD_CREDENTIALS));
    }
    // Read the hash and let the connection go before hashing: a flood of logins must not hold
    // the pool (shared by every tenant) for the ~50 ms each verification takes.
    let found = {
        let mut client = state.pool.get().await?;
        let tx = tenant_transaction(&mut client, tenant.id).await?;
        let row = tx.query_opt("SELECT id, password_hash FROM users WHERE tenant_id = $1 AND email = $2", &[&tenant.id, &email]).await?;
        tx.commit().await?;
        row.map(|r| (r.get::<_, Uuid>(0), r.get::<_, String>(1)))
    };
    let Some((user_id, stored)) = found else {
        // Same work as a real check, so timing does not reveal unknown e-mails.
        let _ = password::verify(body.password, state.dummy_password_hash.clone()).await;
        state.metrics.login(crate::metrics::LoginOutcome::Failure);
        return Err(ApiError::unauthorized(BAD_CREDENTIALS));
    };
    let password_ok = password::verify(body.password, stored).await;

    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    // Lock the row now and re-read the lock state: concurrent failures count one by one.
    let row = tx
        .query_opt("SELECT role, active, coalesce(locked_until > now(), false) FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE", &[&user_id, &tenant.id])
        .await?
        .ok_or_else(|| ApiError::unauthorized(BAD_CREDENTIALS))?;
    let role = Role::parse(row.get(0)).ok_or_else(|| ApiError::Internal("stored role".into()))?;
    let (active, locked): (bool, bool) = (row.get(1), row.get(2));
    if locked || !active {
        tracing::info!(user = %user_id, locked, active, "login refused");
        state.metrics.login(crate::metrics::LoginOutcome::Locked);
        return Err(ApiError::unauthorized(BAD_CREDENTIALS));
    }
    if !password_ok {
        let auth = &state.settings.auth;
        tx.execute(
            "UPDATE users SET \
               locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3::int) ELSE locked_until END, \
               failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END \
             WHERE id = $1",
            &[&user_id, &auth.lockout_threshold, &(auth.lockout_minutes as i32)],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user = %user_id, "login failed: wrong password");
        state.metrics.login(crate::metrics::LoginOutcome::Failure);
        return Err(ApiError::unauthorized(BAD_CREDENTIALS));
    }
    tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = $1", &[&user_id]).await?;
    let tokens = issue_tokens(state, &tx, tenant, user_id, role, Uuid::new_v4()).await?;
    tx.commit().await?;
    tracing::info!(user = %user_id, "login");
    state.metrics.login(crate::metrics::LoginOutcome::Success);
    Ok(token_response(state, tokens))
}

/// `POST /auth/refresh`: exchanges a refresh token for a new pair. The old token is spent; if a
/// spent token is ever presented again, someone copied it, so its whole family is revoked.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest, security(()),
    responses((status = 200, body = TokenResponse), (status = 401, body = crate::docs::ErrorBody)))]
pub async fn refresh(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let body: RefreshRequest = req.json_or_default()?;
    let token = body.refresh_token.or_else(|| req.cookie(REFRESH_COOKIE).map(str::to_owned)).ok_or_else(|| ApiError::unauthorized("refresh token required"))?;
    let hash = hash_refresh_token(&token);
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    // Every rotation and revocation of one family runs under the family's lock, so a reuse
    // detected while another request rotates still revokes the token that rotation creates.
    let family: Uuid = tx
        .query_opt("SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND tenant_id = $2", &[&hash, &tenant.id])
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid refresh token"))?
        .get(0);
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", &[&family.to_string()]).await?;
    let row = tx
        .query_opt(
            "SELECT r.id, r.user_id, r.family_id, r.expires_at > now(), r.rotated_at IS NOT NULL OR r.revoked_at IS NOT NULL, \
                    u.role, u.active \
             FROM refresh_tokens r JOIN users u ON u.id = r.user_id AND u.tenant_id = r.tenant_id \
             WHERE r.token_hash = $1 AND r.tenant_id = $2 FOR UPDATE OF r",
            &[&hash, &tenant.id],
        )
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid refresh token"))?;
    let (token_id, user_id, family_id): (Uuid, Uuid, Uuid) = (row.get(0), row.get(1), row.get(2));
    let (live, spent, active): (bool, bool, bool) = (row.get(3), row.get(4), row.get(6));
    if spent {
        tx.execute("UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family_id = $1 AND tenant_id = $2", &[&family_id, &tenant.id])
            .await?;
        tx.commit().await?;
        tracing::warn!(user = %user_id, family = %family_id, "refresh token reused: family revoked");
        return Err(ApiError::unauthorized("refresh token already used; all sessions of this login were revoked"));
    }
    if !live || !active {
        return Err(ApiError::unauthorized("refresh token expired"));
    }
    let role = Role::parse(row.get(5)).ok_or_else(|| ApiError::Internal("stored role".into()))?;
    tx.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", &[&token_id]).await?;
    let tokens = issue_tokens(state, &tx, tenant, user_id, role, family_id).await?;
    tx.commit().await?;
    Ok(token_response(state, tokens))
}

/// `POST /auth/logout`: revokes the presented refresh token's family and clears the cookies.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest, security(()), responses((status = 204)))]
pub async fn logout(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let body: RefreshRequest = req.json_or_default()?;
    let token = body.refresh_token.or_else(|| req.cookie(REFRESH_COOKIE).map(str::to_owned));
    if let Some(token) = token {
        let mut client = state.pool.get().await?;
        let tx = tenant_transaction(&mut client, tenant.id).await?;
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) \
             WHERE tenant_id = $2 AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND tenant_id = $2)",
            &[&hash_refresh_token(&token), &tenant.id],
        )
        .await?;
        tx.commit().await?;
    }
    let mut resp = no_content();
    let secure = state.settings.vertical.secure_cookies;
    append_cookie(&mut resp, &cookie(ACCESS_COOKIE, "", "/", 0, "Lax", secure));
    append_cookie(&mut resp, &cookie(REFRESH_COOKIE, "", "/auth", 0, "Strict", secure));
    Ok(resp)
}

/// `GET /auth/me`.
#[utoipa::path(get, path = "/auth/me", tag = "auth", responses((status = 200, body = Object), (status = 401, body = crate::docs::ErrorBody)))]
pub async fn me(state: &AppState, tenant: &Tenant, principal: &Principal) -> ApiResult<HttpResponse> {
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt("SELECT id, email, name, role, active FROM users WHERE id = $1 AND tenant_id = $2", &[&principal.user_id, &tenant.id])
        .await?
        .filter(|r| r.get::<_, bool>(4))
        .ok_or_else(|| ApiError::unauthorized("user no longer active"))?;
    tx.commit().await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "id": row.get::<_, Uuid>(0),
            "email": row.get::<_, String>(1),
            "name": row.get::<_, String>(2),
            "role": row.get::<_, String>(3),
            "tenant": { "id": tenant.id, "slug": tenant.slug, "name": tenant.name },
        }),
    ))
}

struct IssuedTokens {
    access: String,
    refresh: String,
}

async fn issue_tokens(state: &AppState, tx: &Transaction<'_>, tenant: &Tenant, user_id: Uuid, role: Role, family_id: Uuid) -> ApiResult<IssuedTokens> {
    let access = state.tokens.issue(user_id, tenant.id, tenant.slug.as_str(), role).map_err(ApiError::Internal)?;
    let (refresh, hash) = new_refresh_token();
    let expires = Utc::now() + Duration::days(state.settings.auth.refresh_token_ttl_days as i64);
    tx.execute(
        "INSERT INTO refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[&tenant.id, &user_id, &family_id, &hash, &expires],
    )
    .await?;
    Ok(IssuedTokens { access, refresh })
}

fn token_response(state: &AppState, tokens: IssuedTokens) -> HttpResponse {
    let access_ttl = state.tokens.access_ttl_secs;
    let refresh_ttl = state.settings.auth.refresh_token_ttl_days as i64 * 86_400;
    let secure = state.settings.vertical.secure_cookies;
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
    append_cookie(&mut resp, &cookie(ACCESS_COOKIE, &tokens.access, "/", access_ttl, "Lax", secure));
    append_cookie(&mut resp, &cookie(REFRESH_COOKIE, &tokens.refresh, "/auth", refresh_ttl, "Strict", secure));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn cookie(name: &str, value: &str, path: &str, max_age: i64, same_site: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}")
}

fn append_cookie(resp: &mut HttpResponse, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}
