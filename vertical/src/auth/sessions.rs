//! Sessions: signing in (argon2, lockout), refresh-token rotation with reuse detection, and
//! signing out — the rules and SQL behind `/auth/*`, shared by the JSON API and the sign-in
//! form.

use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::principal::CookieNames;
use crate::auth::tokens::{hash_refresh_token, new_refresh_token};
use crate::auth::{password, Principal};
use crate::domain::tenant::Tenant;
use crate::domain::user::Role;
use crate::domain::{DomainError, DomainResult};
use crate::metrics::LoginOutcome;
use crate::state::AppState;
use infra::db::TenantTx;

/// One message for every login failure, so responses do not tell which e-mails exist.
const BAD_CREDENTIALS: &str = "invalid e-mail or password (after 5 failures the account is locked for 15 minutes)";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A new access token and refresh token.
pub struct IssuedTokens {
    pub access: String,
    pub refresh: String,
}

/// The signed-in user, as `GET /auth/me` shows them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: String,
    pub tenant: MeTenant,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeTenant {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub slug: infra::TenantSlug,
    pub name: String,
}

/// Checks the credentials and opens a session (a new refresh family).
pub async fn sign_in(state: &AppState, tenant: &Tenant, body: LoginRequest) -> DomainResult<IssuedTokens> {
    let email = body.email.trim().to_lowercase();
    if email.chars().any(char::is_control) || email.len() > 254 {
        return Err(DomainError::Unauthorized(BAD_CREDENTIALS.into()));
    }
    // Read the hash and let the connection go before hashing: a flood of logins must not hold
    // the pool (shared by every tenant) for the ~50 ms each verification takes.
    let found = {
        let tx = state.tenant_tx(tenant).await?;
        let row = tx.query_opt("SELECT id, password_hash FROM users WHERE tenant_id = $1 AND email = $2", &[&tenant.id, &email]).await?;
        tx.commit().await?;
        row.map(|r| (r.get::<_, Uuid>(0), r.get::<_, String>(1)))
    };
    // Every failure does the same work whether the e-mail exists or not (issue 15, finding 8):
    // one argon2 verification, then one transaction that locks the user's row and records the
    // failure — for an unknown e-mail, or a locked or inactive user, against the nil id, which
    // matches no row. Only a success does more.
    let (user_id, stored) = found.unwrap_or_else(|| (Uuid::nil(), state.dummy_password_hash.clone()));
    let password_ok = password::verify(body.password, stored).await && !user_id.is_nil();

    let tx = state.tenant_tx(tenant).await?;
    // Lock the row now and re-read the lock state: concurrent failures count one by one.
    let row = tx
        .query_opt(
            "SELECT role, active, coalesce(locked_until > now(), false), token_version FROM users WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            &[&user_id, &tenant.id],
        )
        .await?;
    // (role, active, locked, token version)
    let standing: Option<(Role, bool, bool, i32)> = match &row {
        Some(r) => Some((Role::parse(r.get(0)).ok_or_else(|| DomainError::Internal("stored role".into()))?, r.get(1), r.get(2), r.get(3))),
        None => None,
    };
    let usable = standing.is_some_and(|(_, active, locked, _)| active && !locked);
    if !(password_ok && usable) {
        // A locked or inactive account's failure is not counted (it would extend the lock).
        let counted = if usable { user_id } else { Uuid::nil() };
        let auth = &state.settings.auth;
        tx.execute(
            "UPDATE users SET \
               locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(mins => $3::int) ELSE locked_until END, \
               failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END \
             WHERE id = $1",
            &[&counted, &auth.lockout_threshold, &(auth.lockout_minutes as i32)],
        )
        .await?;
        tx.commit().await?;
        match standing {
            Some((_, active, locked, _)) if !usable => {
                state.metrics.login(LoginOutcome::Locked);
                tracing::info!(user = %user_id, locked, active, "login refused")
            }
            Some(_) => {
                state.metrics.login(LoginOutcome::Failure);
                tracing::info!(user = %user_id, "login failed: wrong password")
            }
            None => {
                state.metrics.login(LoginOutcome::Failure);
                tracing::info!("login failed: unknown e-mail")
            }
        }
        return Err(DomainError::Unauthorized(BAD_CREDENTIALS.into()));
    }
    let Some((role, _, _, version)) = standing else { return Err(DomainError::Unauthorized(BAD_CREDENTIALS.into())) };
    tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = $1", &[&user_id]).await?;
    let tokens = issue_tokens(state, &tx, tenant, user_id, (role, version), Uuid::new_v4()).await?;
    tx.commit().await?;
    state.metrics.login(LoginOutcome::Success);
    tracing::info!(user = %user_id, "login");
    Ok(tokens)
}

/// Exchanges a refresh token for a new pair. The old token is spent; if a spent token is ever
/// presented again, someone copied it, so its whole family is revoked.
pub async fn rotate(state: &AppState, tenant: &Tenant, token: &str) -> DomainResult<IssuedTokens> {
    let hash = hash_refresh_token(token);
    let tx = state.tenant_tx(tenant).await?;
    // Every rotation and revocation of one family runs under the family's lock, so a reuse
    // detected while another request rotates still revokes the token that rotation creates.
    let family: Uuid = tx
        .query_opt("SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND tenant_id = $2", &[&hash, &tenant.id])
        .await?
        .ok_or_else(|| DomainError::Unauthorized("invalid refresh token".into()))?
        .get(0);
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", &[&family.to_string()]).await?;
    let row = tx
        .query_opt(
            "SELECT r.id, r.user_id, r.family_id, r.expires_at > now(), r.rotated_at IS NOT NULL OR r.revoked_at IS NOT NULL, \
                    u.role, u.active, u.token_version \
             FROM refresh_tokens r JOIN users u ON u.id = r.user_id AND u.tenant_id = r.tenant_id \
             WHERE r.token_hash = $1 AND r.tenant_id = $2 FOR UPDATE OF r",
            &[&hash, &tenant.id],
        )
        .await?
        .ok_or_else(|| DomainError::Unauthorized("invalid refresh token".into()))?;
    let (token_id, user_id, family_id): (Uuid, Uuid, Uuid) = (row.get(0), row.get(1), row.get(2));
    let (live, spent, active): (bool, bool, bool) = (row.get(3), row.get(4), row.get(6));
    if spent {
        tx.execute("UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family_id = $1 AND tenant_id = $2", &[&family_id, &tenant.id])
            .await?;
        tx.commit().await?;
        tracing::warn!(user = %user_id, family = %family_id, "refresh token reused: family revoked");
        return Err(DomainError::Unauthorized("refresh token already used; all sessions of this login were revoked".into()));
    }
    if !live || !active {
        return Err(DomainError::Unauthorized("refresh token expired".into()));
    }
    let role = Role::parse(row.get(5)).ok_or_else(|| DomainError::Internal("stored role".into()))?;
    tx.execute("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", &[&token_id]).await?;
    let tokens = issue_tokens(state, &tx, tenant, user_id, (role, row.get(7)), family_id).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// Revokes the refresh token's whole family (this login on every device it was copied to).
pub async fn sign_out(state: &AppState, tenant: &Tenant, token: &str) -> DomainResult<()> {
    let tx = state.tenant_tx(tenant).await?;
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) \
         WHERE tenant_id = $2 AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND tenant_id = $2)",
        &[&hash_refresh_token(token), &tenant.id],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The principal's own record (401 once the user is no longer active).
pub async fn me(tx: &TenantTx, tenant: &Tenant, principal: &Principal) -> DomainResult<Me> {
    let row = tx
        .query_opt("SELECT id, email, name, role, active FROM users WHERE id = $1 AND tenant_id = $2", &[&principal.user_id, &tenant.id])
        .await?
        .filter(|r| r.get::<_, bool>(4))
        .ok_or_else(|| DomainError::Unauthorized("user no longer active".into()))?;
    Ok(Me {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        role: row.get(3),
        tenant: MeTenant { id: tenant.id, slug: tenant.slug.clone(), name: tenant.name.clone() },
    })
}

/// `who` is the user's current role and token version.
async fn issue_tokens(state: &AppState, tx: &TenantTx, tenant: &Tenant, user_id: Uuid, who: (Role, i32), family_id: Uuid) -> DomainResult<IssuedTokens> {
    let access = state.tokens.issue(user_id, tenant.id, tenant.slug.as_str(), who.0, who.1, family_id).map_err(DomainError::Internal)?;
    let (refresh, hash) = new_refresh_token();
    let expires = Utc::now() + Duration::days(state.settings.auth.refresh_token_ttl_days as i64);
    tx.execute(
        "INSERT INTO refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        &[&tenant.id, &user_id, &family_id, &hash, &expires],
    )
    .await?;
    Ok(IssuedTokens { access, refresh })
}

/// The session cookies of a new token pair. Both are `Path=/` (the `__Host-` prefix demands it);
/// the refresh cookie is `SameSite=Strict`, so no other site's link or form carries it.
pub fn session_cookies(state: &AppState, tokens: &IssuedTokens) -> [String; 2] {
    let access_ttl = state.tokens.access_ttl_secs;
    let refresh_ttl = state.settings.auth.refresh_token_ttl_days as i64 * 86_400;
    let names = CookieNames::of(state);
    [cookie(state, names.access, &tokens.access, access_ttl, "Lax"), cookie(state, names.refresh, &tokens.refresh, refresh_ttl, "Strict")]
}

/// Cookies that end the browser's session.
pub fn cleared_cookies(state: &AppState) -> [String; 2] {
    let names = CookieNames::of(state);
    [cookie(state, names.access, "", 0, "Lax"), cookie(state, names.refresh, "", 0, "Strict")]
}

/// `Set-Cookie` text of every browser cookie: HttpOnly, `Path=/`, no `Domain`, and `Secure`
/// unless plain-HTTP cookies were configured.
pub fn cookie(state: &AppState, name: &str, value: &str, max_age: i64, same_site: &str) -> String {
    let secure = if state.settings.vertical.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}")
}
