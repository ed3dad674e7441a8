//! Users: the tenant's staff, managed by its admins. A tenant never loses its last active
//! admin — not by a demotion, a deactivation, nor two of them at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{password, Principal};
use crate::domain::page::keyset_clause;
use crate::domain::user::{Email, NewPassword, Role};
use crate::domain::{require_admin, validate, Cursor, DomainError, DomainResult, Page, PageRequest};
use infra::db::TenantTx;

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

const USER_COLUMNS: &str = "id, email, name, role, active, created_at";

fn from_row(row: &tokio_postgres::Row) -> DomainResult<UserView> {
    Ok(UserView {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        role: Role::parse(row.get(3)).ok_or_else(|| DomainError::Internal("stored role".into()))?,
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

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Inserts a user (shared by the API and the admin CLI): the password is hashed off the async
/// workers; a duplicate e-mail in the tenant is a 409.
pub async fn insert(tx: &TenantTx, email: &Email, name: &str, password: &NewPassword, role: Role) -> DomainResult<UserView> {
    let hash = password::hash(password.expose().to_owned()).await.map_err(DomainError::Internal)?;
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO users (tenant_id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, email) DO NOTHING RETURNING {USER_COLUMNS}"
            ),
            &[&tx.tenant_id(), &email.as_str(), &name, &hash, &role.as_str()],
        )
        .await?
        .ok_or_else(|| DomainError::conflict("duplicate", format!("a user with e-mail {} already exists", email.as_str())))?;
    from_row(&row)
}

/// An admin creates a colleague.
pub async fn create(tx: &TenantTx, who: &Principal, input: CreateUser) -> DomainResult<UserView> {
    require_admin(who)?;
    let email = Email::parse(&input.email).map_err(|m| DomainError::invalid("email", format!("email {m}")))?;
    let password = NewPassword::parse(&input.password).map_err(|m| DomainError::invalid("password", format!("password {m}")))?;
    let name = validate::opt_text("name", Some(&input.name), 200)?.unwrap_or_default();
    let user = insert(tx, &email, &name, &password, input.role).await?;
    tracing::info!(user = %user.id, role = user.role.as_str(), "user created");
    Ok(user)
}

pub async fn list(tx: &TenantTx, who: &Principal, page: &PageRequest) -> DomainResult<Page<UserView>> {
    require_admin(who)?;
    let (ts, id) = page.keyset();
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 {}", keyset_clause("", 2));
    let rows = tx.query(&sql, &[&tx.tenant_id(), &ts, &id, &page.fetch()]).await?;
    let users = rows.iter().map(from_row).collect::<DomainResult<Vec<_>>>()?;
    Ok(page.page(users, |u| Cursor { t: u.created_at, id: u.id }))
}

/// An admin renames, changes the role of, or (de)activates a user. Deactivation revokes the
/// user's refresh tokens.
pub async fn update(tx: &TenantTx, who: &Principal, id: Uuid, changes: UpdateUser) -> DomainResult<UserView> {
    require_admin(who)?;
    if id == who.user_id && (changes.active == Some(false) || changes.role == Some(Role::Seller)) {
        return Err(DomainError::conflict("self_lockout", "you cannot deactivate or demote yourself; ask another admin"));
    }
    let name = changes.name.as_deref().map(|n| validate::opt_text("name", Some(n), 200).map(Option::unwrap_or_default)).transpose()?;
    if changes.active == Some(false) || changes.role == Some(Role::Seller) {
        keep_an_admin(tx, id).await?;
    }
    let row = tx
        .query_opt(
            &format!(
                "UPDATE users SET name = coalesce($3, name), role = coalesce($4, role), active = coalesce($5, active), updated_at = now() \
                 WHERE id = $1 AND tenant_id = $2 RETURNING {USER_COLUMNS}"
            ),
            &[&id, &tx.tenant_id(), &name, &changes.role.map(Role::as_str), &changes.active],
        )
        .await?
        .ok_or_else(|| DomainError::not_found("user"))?;
    if changes.active == Some(false) {
        tx.execute("UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()]).await?;
    }
    from_row(&row)
}

/// Refuses (409) to demote or deactivate `id` when it is the tenant's last active admin. Every
/// active admin row is locked first, so concurrent demotions queue here and the second one sees
/// the first one's result.
async fn keep_an_admin(tx: &TenantTx, id: Uuid) -> DomainResult<()> {
    let admins: Vec<Uuid> = tx
        .query("SELECT id FROM users WHERE tenant_id = $1 AND role = 'admin' AND active ORDER BY id FOR UPDATE", &[&tx.tenant_id()])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if admins.contains(&id) && admins.len() == 1 {
        return Err(DomainError::conflict("last_admin", "this is the tenant's last active admin; make another user admin first"));
    }
    Ok(())
}
