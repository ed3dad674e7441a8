//! `/api/v1/users`: the tenant's staff, managed by admins.

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{password, Principal};
use crate::domain::tenant::Tenant;
use crate::domain::user::{Email, NewPassword, Role};
use crate::error::{ApiError, ApiResult};
use crate::http::{json, Cursor, HttpResponse, ListParams, Req};
use crate::state::AppState;
use infra::db::{tenant_transaction, Transaction};

/// A user as the API shows it (never the hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id, email, name, role, active, created_at";

fn user_from_row(row: &tokio_postgres::Row) -> ApiResult<UserView> {
    Ok(UserView {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        role: Role::parse(row.get(3)).ok_or_else(|| ApiError::Internal("stored role".into()))?,
        active: row.get(4),
        created_at: row.get(5),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    #[serde(default)]
    pub name: String,
    pub password: String,
    pub role: Role,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Inserts a user inside a tenant transaction (shared by the API and the admin CLI).
pub async fn insert_user(tx: &Transaction<'_>, tenant_id: Uuid, email: &Email, name: &str, password: &NewPassword, role: Role) -> ApiResult<UserView> {
    let hash = password::hash(password.expose().to_owned()).await.map_err(ApiError::Internal)?;
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, email) DO NOTHING RETURNING {USER_COLUMNS}"
            ),
            &[&tenant_id, &email.as_str(), &name, &hash, &role.as_str()],
        )
        .await?
        .ok_or_else(|| ApiError::conflict("duplicate", format!("a user with e-mail {} already exists", email.as_str())))?;
    user_from_row(&row)
}

/// `POST /api/v1/users` (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 403, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let body: CreateUser = req.json()?;
    let email = Email::parse(&body.email).map_err(|m| ApiError::invalid("email", format!("email {m}")))?;
    let password = NewPassword::parse(&body.password).map_err(|m| ApiError::invalid("password", format!("password {m}")))?;
    let name = crate::validate::opt_text("name", Some(&body.name), 200)?.unwrap_or_default();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let user = insert_user(&tx, tenant.id, &email, &name, &password, body.role).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, role = user.role.as_str(), "user created");
    Ok(json(StatusCode::CREATED, &user))
}

/// `GET /api/v1/users` (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<UserView>), (status = 403, body = crate::docs::ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let params = ListParams::from_query(&req.query_params())?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let (ts, id) = params.keyset();
    let rows = tx
        .query(
            &format!(
                "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 \
                 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
                 ORDER BY created_at DESC, id DESC LIMIT $4"
            ),
            &[&tenant.id, &ts, &id, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let users = rows.iter().map(user_from_row).collect::<ApiResult<Vec<_>>>()?;
    Ok(json(StatusCode::OK, &params.page(users, |u| Cursor { t: u.created_at, id: u.id })))
}

/// `PATCH /api/v1/users/{id}` (admin): rename, change role, (de)activate.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = Uuid, Path)), request_body = UpdateUser,
    responses((status = 200, body = UserView), (status = 403, body = crate::docs::ErrorBody), (status = 404, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, who: &Principal, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    who.require_admin()?;
    let body: UpdateUser = req.json()?;
    if id == who.user_id && (body.active == Some(false) || body.role == Some(Role::Seller)) {
        return Err(ApiError::conflict("self_lockout", "you cannot deactivate or demote yourself; ask another admin"));
    }
    let name = body.name.as_deref().map(|n| crate::validate::opt_text("name", Some(n), 200).map(Option::unwrap_or_default)).transpose()?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt(
            &format!(
                "UPDATE users SET name = coalesce($3, name), role = coalesce($4, role), active = coalesce($5, active), updated_at = now() \
                 WHERE id = $1 AND tenant_id = $2 RETURNING {USER_COLUMNS}"
            ),
            &[&id, &tenant.id, &name, &body.role.map(Role::as_str), &body.active],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if body.active == Some(false) {
        tx.execute("UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1 AND tenant_id = $2", &[&id, &tenant.id]).await?;
    }
    tx.commit().await?;
    crate::auth::revocation::user_changed(state, tenant.id, id).await;
    Ok(json(StatusCode::OK, &user_from_row(&row)?))
}
