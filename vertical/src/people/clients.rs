//! Clients: the dealer's customers (people or companies), unique by document per tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::page::keyset_clause;
use crate::domain::{validate, Address, Cursor, DomainError, DomainResult, Nullable, Page, PageRequest};
use crate::sql::Patch;
use infra::db::TenantTx;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    Individual,
    Company,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Company => "company",
        }
    }
    fn parse(s: &str) -> Self {
        if s == "company" {
            Self::Company
        } else {
            Self::Individual
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Client {
    pub id: Uuid,
    pub kind: ClientKind,
    pub name: String,
    pub document: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(flatten)]
    pub address: Address,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, name, document, email, phone, address, city, state, postal_code, notes, created_at, updated_at";

fn from_row(r: &tokio_postgres::Row) -> Client {
    Client {
        id: r.get(0),
        kind: ClientKind::parse(r.get(1)),
        name: r.get(2),
        document: r.get(3),
        email: r.get(4),
        phone: r.get(5),
        address: Address::from_row(r, 6),
        notes: r.get(10),
        created_at: r.get(11),
        updated_at: r.get(12),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub kind: ClientKind,
    pub name: String,
    pub document: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub notes: Option<String>,
}

/// Fields to change; `null` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientChanges {
    pub kind: Option<ClientKind>,
    pub name: Option<String>,
    pub document: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub address: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub city: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub state: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub postal_code: Nullable<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Nullable<String>,
}

/// Which clients to list.
#[derive(Debug, Default)]
pub struct ClientFilter {
    /// `ILIKE` pattern matched against name, document and e-mail.
    pub search: Option<String>,
}

fn document(v: &str) -> DomainResult<String> {
    let d = validate::text("document", v, 32)?;
    if !d.chars().all(|c| c.is_ascii_alphanumeric() || ".-/ ".contains(c)) {
        return Err(DomainError::invalid("document", "document may only contain letters, digits and . - /"));
    }
    Ok(d)
}

const PHONE_MAX: usize = 40;
const NOTES_MAX: usize = 2000;

pub async fn list(tx: &TenantTx, filter: &ClientFilter, page: &PageRequest) -> DomainResult<Page<Client>> {
    let (t, id) = page.keyset();
    let sql = format!(
        "SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND ($2::text IS NULL OR name ILIKE $2 OR document ILIKE $2 OR email ILIKE $2) {}",
        keyset_clause("", 3)
    );
    let rows = tx.query(&sql, &[&tx.tenant_id(), &filter.search, &t, &id, &page.fetch()]).await?;
    Ok(page.page(rows.iter().map(from_row).collect(), |c: &Client| Cursor { t: c.created_at, id: c.id }))
}

pub async fn create(tx: &TenantTx, input: NewClient) -> DomainResult<Client> {
    let name = validate::text("name", &input.name, 200)?;
    let document = document(&input.document)?;
    let email = validate::opt_email("email", input.email.as_deref())?;
    let phone = validate::opt_text("phone", input.phone.as_deref(), PHONE_MAX)?;
    let a = Address::parse(input.address.as_deref(), input.city.as_deref(), input.state.as_deref(), input.postal_code.as_deref())?;
    let notes = validate::opt_text("notes", input.notes.as_deref(), NOTES_MAX)?;
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO clients (tenant_id, kind, name, document, email, phone, address, city, state, postal_code, notes) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tenant_id, document) DO NOTHING RETURNING {COLUMNS}"
            ),
            &[&tx.tenant_id(), &input.kind.as_str(), &name, &document, &email, &phone, &a.address, &a.city, &a.state, &a.postal_code, &notes],
        )
        .await?
        .ok_or_else(|| DomainError::conflict("duplicate_document", format!("a client with document {document} already exists")))?;
    Ok(from_row(&row))
}

pub async fn get(tx: &TenantTx, id: Uuid) -> DomainResult<Client> {
    let row = crate::sql::row_by_id(tx, &format!("SELECT {COLUMNS} FROM clients WHERE id = $1 AND tenant_id = $2"), id).await?;
    row.map(|r| from_row(&r)).ok_or_else(|| DomainError::not_found("client"))
}

pub async fn update(tx: &TenantTx, id: Uuid, changes: ClientChanges) -> DomainResult<Client> {
    let c = changes;
    let mut patch = Patch::new();
    patch.set("kind", c.kind.map(ClientKind::as_str));
    patch.set("name", c.name.as_deref().map(|v| validate::text("name", v, 200)).transpose()?);
    patch.set("document", c.document.as_deref().map(document).transpose()?);
    patch.set("email", validate::opt_email_change("email", c.email)?);
    patch.set("phone", validate::opt_text_change("phone", c.phone, PHONE_MAX)?);
    let [a, ci, s, p] = Address::FIELDS;
    patch.set(a.0, validate::opt_text_change(a.0, c.address, a.1)?);
    patch.set(ci.0, validate::opt_text_change(ci.0, c.city, ci.1)?);
    patch.set(s.0, validate::opt_text_change(s.0, c.state, s.1)?);
    patch.set(p.0, validate::opt_text_change(p.0, c.postal_code, p.1)?);
    patch.set("notes", validate::opt_text_change("notes", c.notes, NOTES_MAX)?);
    let row = patch.apply(tx, "clients", id, COLUMNS).await?.ok_or_else(|| DomainError::not_found("client"))?;
    Ok(from_row(&row))
}

/// Deletes a client and its sites; refused (409) while quotes or orders reference it.
pub async fn delete(tx: &TenantTx, id: Uuid) -> DomainResult<()> {
    let row = tx
        .query_opt(
            "SELECT (SELECT count(*) FROM quotes q WHERE q.client_id = c.id AND q.tenant_id = c.tenant_id), \
                    (SELECT count(*) FROM orders o WHERE o.client_id = c.id AND o.tenant_id = c.tenant_id) \
             FROM clients c WHERE c.id = $1 AND c.tenant_id = $2 FOR UPDATE",
            &[&id, &tx.tenant_id()],
        )
        .await?
        .ok_or_else(|| DomainError::not_found("client"))?;
    let (quotes, orders): (i64, i64) = (row.get(0), row.get(1));
    if quotes + orders > 0 {
        return Err(DomainError::conflict(
            "client_in_use",
            format!("the client cannot be deleted: it is referenced by {quotes} quote(s) and {orders} order(s)"),
        ));
    }
    tx.execute("DELETE FROM clients WHERE id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()]).await?;
    Ok(())
}

/// Checks that `client_id` (an input field) is a client of this tenant (404 naming it otherwise).
pub async fn require(tx: &TenantTx, client_id: Uuid) -> DomainResult<()> {
    let found = tx.query_opt("SELECT 1 FROM clients WHERE id = $1 AND tenant_id = $2", &[&client_id, &tx.tenant_id()]).await?;
    found.map(|_| ()).ok_or_else(|| DomainError::missing_reference("client_id", "client", client_id))
}
