//! Quotes: a priced proposal of materials for a client's job site.
//!
//! draft → sent → approved → converted (by creating its order), or cancelled from any state but
//! converted. Only drafts can be edited; totals are recomputed on every write (see
//! [`crate::domain::pricing`]).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::page::keyset_clause;
use crate::domain::{pricing, validate, Cursor, DomainError, DomainResult, Page, PageRequest};
use crate::outbox;
use crate::people::{clients, sites};
use crate::sales::lines::{self, LineItem, Lines, PricedItem};
use infra::db::TenantTx;
use infra::events::{Event, QuoteCreated, QuoteStep};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QuoteStatus {
    Draft,
    Sent,
    Approved,
    Converted,
    Cancelled,
}

impl QuoteStatus {
    pub const ALL: [QuoteStatus; 5] = [Self::Draft, Self::Sent, Self::Approved, Self::Converted, Self::Cancelled];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Sent => "sent",
            Self::Approved => "approved",
            Self::Converted => "converted",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
    /// What can be done with a quote in this state (the UI offers exactly these).
    pub fn actions(self) -> &'static [QuoteAction] {
        match self {
            Self::Draft => &[QuoteAction::Send, QuoteAction::Cancel],
            Self::Sent => &[QuoteAction::Approve, QuoteAction::Cancel],
            Self::Approved => &[QuoteAction::Cancel],
            Self::Converted | Self::Cancelled => &[],
        }
    }
}

/// The state changes a quote can be asked for (`POST /quotes/{id}/<action>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteAction {
    Send,
    Approve,
    Cancel,
}

impl QuoteAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Approve => "approve",
            Self::Cancel => "cancel",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Send, Self::Approve, Self::Cancel].into_iter().find(|a| a.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quote {
    pub id: Uuid,
    pub number: String,
    pub status: QuoteStatus,
    pub client_id: Uuid,
    pub site_id: Option<Uuid>,
    pub seller_id: Option<Uuid>,
    #[schema(value_type = String)]
    pub discount_percent: Decimal,
    pub valid_days: i32,
    pub valid_until: DateTime<Utc>,
    pub notes: Option<String>,
    #[schema(value_type = String)]
    pub subtotal: Decimal,
    #[schema(value_type = String)]
    pub total: Decimal,
    /// Present once converted.
    pub order_id: Option<Uuid>,
    pub items: Vec<LineItem>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub converted_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "q.id, q.number, q.status, q.client_id, q.site_id, q.seller_id, q.discount_percent, q.valid_days, \
    coalesce(q.sent_at, q.created_at) + make_interval(days => q.valid_days), q.notes, q.subtotal, q.total, \
    (SELECT o.id FROM orders o WHERE o.quote_id = q.id AND o.tenant_id = q.tenant_id), \
    q.created_at, q.updated_at, q.sent_at, q.approved_at, q.converted_at, q.cancelled_at";

fn from_row(r: &tokio_postgres::Row, items: Vec<LineItem>) -> DomainResult<Quote> {
    Ok(Quote {
        id: r.get(0),
        number: r.get(1),
        status: QuoteStatus::parse(r.get(2)).ok_or_else(|| DomainError::Internal("stored quote status".into()))?,
        client_id: r.get(3),
        site_id: r.get(4),
        seller_id: r.get(5),
        discount_percent: r.get(6),
        valid_days: r.get(7),
        valid_until: r.get(8),
        notes: r.get(9),
        subtotal: r.get(10),
        total: r.get(11),
        order_id: r.get(12),
        items,
        created_at: r.get(13),
        updated_at: r.get(14),
        sent_at: r.get(15),
        approved_at: r.get(16),
        converted_at: r.get(17),
        cancelled_at: r.get(18),
    })
}

/// A quote's fields and items, for creation and for replacing a draft.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteInput {
    pub client_id: Uuid,
    pub site_id: Option<Uuid>,
    /// Header discount applied to the sum of the items (default 0).
    #[schema(value_type = Option<String>)]
    pub discount_percent: Option<Decimal>,
    /// Days the quote stays valid after it is sent (default 7).
    pub valid_days: Option<i32>,
    pub notes: Option<String>,
    #[serde(default)]
    pub items: Vec<ItemInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub product_id: Uuid,
    #[schema(value_type = String, example = "10")]
    pub quantity: Decimal,
    /// Defaults to the product's base price.
    #[schema(value_type = Option<String>)]
    pub unit_price: Option<Decimal>,
    #[schema(value_type = Option<String>)]
    pub discount_percent: Option<Decimal>,
}

/// Which quotes to list.
#[derive(Debug, Default)]
pub struct QuoteFilter {
    pub status: Option<QuoteStatus>,
    pub client_id: Option<Uuid>,
    /// Created on or after this day.
    pub from: Option<NaiveDate>,
    /// Created on or before this day.
    pub to: Option<NaiveDate>,
}

const MAX_ITEMS: usize = 500;

/// Validates the lines against this tenant's active products and prices them.
async fn price_items(tx: &TenantTx, items: &[ItemInput]) -> DomainResult<Vec<PricedItem>> {
    if items.len() > MAX_ITEMS {
        return Err(DomainError::invalid("items", format!("a quote has at most {MAX_ITEMS} items")));
    }
    let ids: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
    let rows = tx.query("SELECT id, base_price, active, code FROM products WHERE tenant_id = $1 AND id = ANY($2)", &[&tx.tenant_id(), &ids]).await?;
    let products: HashMap<Uuid, (Decimal, bool, String)> = rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3)))).collect();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let f = |name: &str| format!("items[{i}].{name}");
        let quantity = validate::quantity(&f("quantity"), item.quantity)?;
        let discount = validate::percent(&f("discount_percent"), item.discount_percent.unwrap_or_default())?;
        let (base, active, code) =
            products.get(&item.product_id).ok_or_else(|| DomainError::NotFound(format!("{}: product {} not found", f("product_id"), item.product_id)))?;
        if !active {
            return Err(DomainError::invalid(f("product_id"), format!("product {code} is inactive and cannot be quoted")));
        }
        let unit_price = match item.unit_price {
            Some(p) => validate::price(&f("unit_price"), p)?,
            None => *base,
        };
        let total = pricing::item_total(quantity, unit_price, discount);
        if total >= pricing::MAX_AMOUNT {
            return Err(DomainError::invalid(f("quantity"), "the line total is too large"));
        }
        out.push(PricedItem { product_id: item.product_id, quantity, unit_price, discount_percent: discount, total });
    }
    Ok(out)
}

/// One quote of the tenant by id (`$1` id, `$2` tenant).
fn quote_sql() -> String {
    format!("SELECT {COLUMNS} FROM quotes q WHERE q.id = $1 AND q.tenant_id = $2")
}

/// A quote with its items, if it is this tenant's.
pub async fn find(tx: &TenantTx, id: Uuid) -> DomainResult<Option<Quote>> {
    let Some(row) = crate::sql::row_by_id(tx, &quote_sql(), id).await? else {
        return Ok(None);
    };
    let items = Lines::Quote.load(tx, id).await?;
    from_row(&row, items).map(Some)
}

/// A quote with its items (404 if not this tenant's).
pub async fn get(tx: &TenantTx, id: Uuid) -> DomainResult<Quote> {
    find(tx, id).await?.ok_or_else(|| DomainError::not_found("quote"))
}

/// [`get`] for the API's hot path: the quote and its lines are read in the same round trip as
/// their read-only transaction ([`infra::db::tenant_read`]).
pub async fn get_pipelined(db: &infra::db::PooledClient, tenant_id: Uuid, id: Uuid) -> DomainResult<Quote> {
    let quote_stmt = db.prepare_cached(&quote_sql()).await?;
    let items_stmt = db.prepare_cached(&Lines::Quote.select_sql()).await?;
    let mut rows = infra::db::tenant_read(db, tenant_id, &[(&quote_stmt, &[&id, &tenant_id]), (&items_stmt, &[&id, &tenant_id])]).await?.into_iter();
    let (quote, items) = (rows.next().unwrap_or_default(), rows.next().unwrap_or_default());
    let row = quote.first().ok_or_else(|| DomainError::not_found("quote"))?;
    from_row(row, items.iter().map(lines::from_row).collect())
}

/// Header fields validated, references checked (client and site of this tenant, the site
/// belonging to the client).
struct Header {
    discount: Decimal,
    valid_days: i32,
    notes: Option<String>,
}

async fn validate_header(tx: &TenantTx, b: &QuoteInput) -> DomainResult<Header> {
    let discount = validate::percent("discount_percent", b.discount_percent.unwrap_or_default())?;
    let valid_days = b.valid_days.unwrap_or(7);
    if !(1..=365).contains(&valid_days) {
        return Err(DomainError::invalid("valid_days", "valid_days must be between 1 and 365"));
    }
    let notes = validate::opt_text("notes", b.notes.as_deref(), 2000)?;
    clients::require(tx, b.client_id).await?;
    if let Some(site_id) = b.site_id {
        sites::require_for_client(tx, site_id, b.client_id).await?;
    }
    Ok(Header { discount, valid_days, notes })
}

fn checked_totals(items: &[PricedItem], discount: Decimal) -> DomainResult<(Decimal, Decimal)> {
    let (subtotal, total) = pricing::totals(items.iter().map(|i| i.total), discount);
    if subtotal >= pricing::MAX_AMOUNT {
        return Err(DomainError::invalid("items", "the quote total is too large"));
    }
    Ok((subtotal, total))
}

/// A new draft by `who` (the seller), priced; emits `quote_created`.
pub async fn create(tx: &TenantTx, who: &Principal, input: QuoteInput) -> DomainResult<Quote> {
    let header = validate_header(tx, &input).await?;
    let items = price_items(tx, &input.items).await?;
    let (subtotal, total) = checked_totals(&items, header.discount)?;
    let number = outbox::next_number(tx, "quote", "Q").await?;
    let id: Uuid = tx
        .query_one(
            "INSERT INTO quotes (tenant_id, number, client_id, site_id, seller_id, discount_percent, valid_days, notes, subtotal, total) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[&tx.tenant_id(), &number, &input.client_id, &input.site_id, &who.user_id, &header.discount, &header.valid_days, &header.notes, &subtotal, &total],
        )
        .await?
        .get(0);
    Lines::Quote.insert(tx, id, &items).await?;
    let event = QuoteCreated {
        quote_id: id,
        number,
        client_id: input.client_id,
        site_id: input.site_id,
        seller_id: Some(who.user_id),
        discount_percent: header.discount,
        subtotal,
        total,
        items: items.iter().map(PricedItem::to_event).collect(),
    };
    outbox::record(tx, Event::QuoteCreated(event)).await?;
    find(tx, id).await?.ok_or_else(|| DomainError::Internal("quote vanished".into()))
}

/// Replaces a draft's fields and items (409 for any other status).
pub async fn replace(tx: &TenantTx, id: Uuid, input: QuoteInput) -> DomainResult<Quote> {
    let status = lock_status(tx, id).await?;
    if status != QuoteStatus::Draft {
        return Err(DomainError::conflict("quote_not_draft", format!("only draft quotes can be edited; this one is {}", status.as_str())));
    }
    let header = validate_header(tx, &input).await?;
    let items = price_items(tx, &input.items).await?;
    let (subtotal, total) = checked_totals(&items, header.discount)?;
    tx.execute(
        "UPDATE quotes SET client_id = $3, site_id = $4, discount_percent = $5, valid_days = $6, notes = $7, subtotal = $8, total = $9, \
         updated_at = now() WHERE id = $1 AND tenant_id = $2",
        &[&id, &tx.tenant_id(), &input.client_id, &input.site_id, &header.discount, &header.valid_days, &header.notes, &subtotal, &total],
    )
    .await?;
    tx.execute("DELETE FROM quote_items WHERE quote_id = $1 AND tenant_id = $2", &[&id, &tx.tenant_id()]).await?;
    Lines::Quote.insert(tx, id, &items).await?;
    get(tx, id).await
}

/// Locks the quote row for a state change and returns its status (404 if not this tenant's).
pub async fn lock_status(tx: &TenantTx, id: Uuid) -> DomainResult<QuoteStatus> {
    let row = tx
        .query_opt("SELECT status FROM quotes WHERE id = $1 AND tenant_id = $2 FOR UPDATE", &[&id, &tx.tenant_id()])
        .await?
        .ok_or_else(|| DomainError::not_found("quote"))?;
    QuoteStatus::parse(row.get(0)).ok_or_else(|| DomainError::Internal("stored quote status".into()))
}

/// Sends, approves or cancels a quote along the state machine; sending and approving emit
/// their events.
pub async fn transition(tx: &TenantTx, id: Uuid, action: QuoteAction) -> DomainResult<Quote> {
    let row = tx
        .query_opt(
            "SELECT status, coalesce(sent_at, created_at) + make_interval(days => valid_days) < now(), \
                    (SELECT count(*) FROM quote_items i WHERE i.quote_id = q.id AND i.tenant_id = q.tenant_id), number, total \
             FROM quotes q WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            &[&id, &tx.tenant_id()],
        )
        .await?
        .ok_or_else(|| DomainError::not_found("quote"))?;
    let status = QuoteStatus::parse(row.get(0)).ok_or_else(|| DomainError::Internal("stored quote status".into()))?;
    let (expired, item_count, number, total): (bool, i64, String, Decimal) = (row.get(1), row.get(2), row.get(3), row.get(4));
    let (to, stamp) = match action {
        QuoteAction::Send => {
            if status != QuoteStatus::Draft {
                return Err(DomainError::conflict("invalid_transition", format!("only draft quotes can be sent; this one is {}", status.as_str())));
            }
            if item_count == 0 {
                return Err(DomainError::invalid("items", "a quote needs at least one item before it is sent"));
            }
            (QuoteStatus::Sent, "sent_at")
        }
        QuoteAction::Approve => {
            if status != QuoteStatus::Sent {
                return Err(DomainError::conflict("invalid_transition", format!("only sent quotes can be approved; this one is {}", status.as_str())));
            }
            if expired {
                return Err(DomainError::conflict("quote_expired", "the quote is past its validity; edit a new one"));
            }
            (QuoteStatus::Approved, "approved_at")
        }
        QuoteAction::Cancel => {
            if matches!(status, QuoteStatus::Converted | QuoteStatus::Cancelled) {
                return Err(DomainError::conflict("invalid_transition", format!("a {} quote cannot be cancelled", status.as_str())));
            }
            (QuoteStatus::Cancelled, "cancelled_at")
        }
    };
    tx.execute(
        &format!("UPDATE quotes SET status = $3, {stamp} = now(), updated_at = now() WHERE id = $1 AND tenant_id = $2"),
        &[&id, &tx.tenant_id(), &to.as_str()],
    )
    .await?;
    let step = QuoteStep { quote_id: id, number, total };
    let event = match action {
        QuoteAction::Send => Some(Event::QuoteSent(step)),
        QuoteAction::Approve => Some(Event::QuoteApproved(step)),
        QuoteAction::Cancel => None,
    };
    if let Some(event) = event {
        outbox::record(tx, event).await?;
    }
    get(tx, id).await
}

/// Quotes, newest first, without items.
pub async fn list(tx: &TenantTx, filter: &QuoteFilter, page: &PageRequest) -> DomainResult<Page<Quote>> {
    let (t, id) = page.keyset();
    let sql = format!(
        "SELECT {COLUMNS} FROM quotes q WHERE q.tenant_id = $1 AND ($2::text IS NULL OR q.status = $2) \
         AND ($3::uuid IS NULL OR q.client_id = $3) AND ($4::date IS NULL OR q.created_at >= $4::date) \
         AND ($5::date IS NULL OR q.created_at < $5::date + 1) {}",
        keyset_clause("q", 6)
    );
    let status = filter.status.map(QuoteStatus::as_str);
    let rows = tx.query(&sql, &[&tx.tenant_id(), &status, &filter.client_id, &filter.from, &filter.to, &t, &id, &page.fetch()]).await?;
    let items = rows.iter().map(|r| from_row(r, Vec::new())).collect::<DomainResult<Vec<_>>>()?;
    Ok(page.page(items, |q: &Quote| Cursor { t: q.created_at, id: q.id }))
}
