//! `/api/v1/quotes`: a priced proposal of materials for a client's job site.
//!
//! draft → sent → approved → converted (by creating its order), or cancelled from any state but
//! converted. Only drafts can be edited; totals are recomputed on every write (see
//! [`crate::domain::pricing`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json as j;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::pricing;
use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, Cursor, HttpResponse, ListParams, Req};
use crate::outbox::{self, Aggregate};
use crate::routes::sites::require_client;
use crate::state::AppState;
use crate::validate;
use infra::db::{tenant_transaction, Transaction};

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
        [Self::Draft, Self::Sent, Self::Approved, Self::Converted, Self::Cancelled].into_iter().find(|v| v.as_str() == s)
    }
}

/// A line of a quote or an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineItem {
    pub id: Uuid,
    pub product_id: Uuid,
    pub product_code: String,
    pub product_name: String,
    pub unit: String,
    #[schema(value_type = String, example = "10.000")]
    pub quantity: Decimal,
    #[schema(value_type = String, example = "32.90")]
    pub unit_price: Decimal,
    #[schema(value_type = String, example = "5.00")]
    pub discount_percent: Decimal,
    #[schema(value_type = String, example = "312.55")]
    pub total: Decimal,
}

#[derive(Debug, Serialize, ToSchema)]
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

fn from_row(r: &tokio_postgres::Row, items: Vec<LineItem>) -> ApiResult<Quote> {
    Ok(Quote {
        id: r.get(0),
        number: r.get(1),
        status: QuoteStatus::parse(r.get(2)).ok_or_else(|| ApiError::Internal("stored quote status".into()))?,
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
#[derive(Debug, Deserialize, ToSchema)]
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

#[derive(Debug, Deserialize, ToSchema)]
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

/// A validated, priced line ready to store.
#[derive(Debug, Clone)]
pub struct PricedItem {
    pub product_id: Uuid,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub total: Decimal,
}

const MAX_ITEMS: usize = 500;

/// Validates the lines against this tenant's active products and prices them.
async fn price_items(tx: &Transaction<'_>, tenant_id: Uuid, items: &[ItemInput]) -> ApiResult<Vec<PricedItem>> {
    if items.len() > MAX_ITEMS {
        return Err(ApiError::invalid("items", format!("a quote has at most {MAX_ITEMS} items")));
    }
    let ids: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
    let rows = tx.query("SELECT id, base_price, active, code FROM products WHERE tenant_id = $1 AND id = ANY($2)", &[&tenant_id, &ids]).await?;
    let products: HashMap<Uuid, (Decimal, bool, String)> = rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3)))).collect();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let f = |name: &str| format!("items[{i}].{name}");
        let quantity = validate::quantity(&f("quantity"), item.quantity)?;
        let discount = validate::percent(&f("discount_percent"), item.discount_percent.unwrap_or_default())?;
        let (base, active, code) =
            products.get(&item.product_id).ok_or_else(|| ApiError::NotFound(format!("{}: product {} not found", f("product_id"), item.product_id)))?;
        if !active {
            return Err(ApiError::invalid(f("product_id"), format!("product {code} is inactive and cannot be quoted")));
        }
        let unit_price = match item.unit_price {
            Some(p) => validate::price(&f("unit_price"), p)?,
            None => *base,
        };
        let total = pricing::item_total(quantity, unit_price, discount);
        if total >= pricing::MAX_AMOUNT {
            return Err(ApiError::invalid(f("quantity"), "the line total is too large"));
        }
        out.push(PricedItem { product_id: item.product_id, quantity, unit_price, discount_percent: discount, total });
    }
    Ok(out)
}

/// Stores lines of a quote or order in one statement.
pub async fn insert_items(tx: &Transaction<'_>, table: &str, parent_column: &str, tenant_id: Uuid, parent_id: Uuid, items: &[PricedItem]) -> ApiResult<()> {
    let positions: Vec<i32> = (1..=items.len() as i32).collect();
    let products: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
    let quantities: Vec<Decimal> = items.iter().map(|i| i.quantity).collect();
    let prices: Vec<Decimal> = items.iter().map(|i| i.unit_price).collect();
    let discounts: Vec<Decimal> = items.iter().map(|i| i.discount_percent).collect();
    let totals: Vec<Decimal> = items.iter().map(|i| i.total).collect();
    tx.execute(
        &format!(
            "INSERT INTO {table} (tenant_id, {parent_column}, position, product_id, quantity, unit_price, discount_percent, total) \
             SELECT $1, $2, * FROM unnest($3::int[], $4::uuid[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[])"
        ),
        &[&tenant_id, &parent_id, &positions, &products, &quantities, &prices, &discounts, &totals],
    )
    .await?;
    Ok(())
}

/// Lines of a quote or order, in position order, with product code and name.
/// One quote of the tenant by id (`$1` id, `$2` tenant).
fn quote_sql() -> String {
    format!("SELECT {COLUMNS} FROM quotes q WHERE q.id = $1 AND q.tenant_id = $2")
}

/// Line items of `table` (quote or order items) by their parent, in position order.
fn items_sql(table: &str, parent_column: &str) -> String {
    format!(
        "SELECT i.id, i.product_id, p.code, p.name, p.unit, i.quantity, i.unit_price, i.discount_percent, i.total \
         FROM {table} i JOIN products p ON p.id = i.product_id AND p.tenant_id = i.tenant_id \
         WHERE i.{parent_column} = $1 AND i.tenant_id = $2 ORDER BY i.position"
    )
}

fn item_from_row(r: &tokio_postgres::Row) -> LineItem {
    LineItem {
        id: r.get(0),
        product_id: r.get(1),
        product_code: r.get(2),
        product_name: r.get(3),
        unit: r.get(4),
        quantity: r.get(5),
        unit_price: r.get(6),
        discount_percent: r.get(7),
        total: r.get(8),
    }
}

pub async fn load_items(tx: &Transaction<'_>, table: &str, parent_column: &str, tenant_id: Uuid, parent_id: Uuid) -> ApiResult<Vec<LineItem>> {
    // Prepared once per connection: an unprepared statement costs a second round trip.
    let stmt = tx.prepare_cached(&items_sql(table, parent_column)).await?;
    let rows = tx.query(&stmt, &[&parent_id, &tenant_id]).await?;
    Ok(rows.iter().map(item_from_row).collect())
}

/// A quote with its items, if it is this tenant's.
pub async fn load(tx: &Transaction<'_>, tenant_id: Uuid, id: Uuid) -> ApiResult<Option<Quote>> {
    let stmt = tx.prepare_cached(&quote_sql()).await?;
    let Some(row) = tx.query_opt(&stmt, &[&id, &tenant_id]).await? else {
        return Ok(None);
    };
    let items = load_items(tx, "quote_items", "quote_id", tenant_id, id).await?;
    from_row(&row, items).map(Some)
}

/// Header fields validated, references checked (client and site of this tenant, the site
/// belonging to the client).
struct Header {
    discount: Decimal,
    valid_days: i32,
    notes: Option<String>,
}

async fn validate_header(tx: &Transaction<'_>, tenant_id: Uuid, b: &QuoteInput) -> ApiResult<Header> {
    let discount = validate::percent("discount_percent", b.discount_percent.unwrap_or_default())?;
    let valid_days = b.valid_days.unwrap_or(7);
    if !(1..=365).contains(&valid_days) {
        return Err(ApiError::invalid("valid_days", "valid_days must be between 1 and 365"));
    }
    let notes = validate::opt_text("notes", b.notes.as_deref(), 2000)?;
    require_client(tx, tenant_id, b.client_id).await?;
    if let Some(site_id) = b.site_id {
        let site = tx
            .query_opt("SELECT client_id, active FROM sites WHERE id = $1 AND tenant_id = $2", &[&site_id, &tenant_id])
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("site_id: site {site_id} not found")))?;
        if site.get::<_, Uuid>(0) != b.client_id {
            return Err(ApiError::invalid("site_id", "the site belongs to another client"));
        }
        if !site.get::<_, bool>(1) {
            return Err(ApiError::invalid("site_id", "the site is inactive"));
        }
    }
    Ok(Header { discount, valid_days, notes })
}

fn checked_totals(items: &[PricedItem], discount: Decimal) -> ApiResult<(Decimal, Decimal)> {
    let (subtotal, total) = pricing::totals(items.iter().map(|i| i.total), discount);
    if subtotal >= pricing::MAX_AMOUNT {
        return Err(ApiError::invalid("items", "the quote total is too large"));
    }
    Ok((subtotal, total))
}

fn items_payload(items: &[PricedItem]) -> serde_json::Value {
    items
        .iter()
        .map(|i| j!({ "product_id": i.product_id, "quantity": i.quantity, "unit_price": i.unit_price, "discount_percent": i.discount_percent, "total": i.total }))
        .collect()
}

#[utoipa::path(post, path = "/api/v1/quotes", tag = "quotes", request_body = QuoteInput,
    responses((status = 201, body = Quote), (status = 404, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn create(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    let b: QuoteInput = req.json()?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let header = validate_header(&tx, tenant.id, &b).await?;
    let items = price_items(&tx, tenant.id, &b.items).await?;
    let (subtotal, total) = checked_totals(&items, header.discount)?;
    let number = outbox::next_number(&tx, tenant.id, "quote", "Q").await?;
    let id: Uuid = tx
        .query_one(
            "INSERT INTO quotes (tenant_id, number, client_id, site_id, seller_id, discount_percent, valid_days, notes, subtotal, total) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[&tenant.id, &number, &b.client_id, &b.site_id, &who.user_id, &header.discount, &header.valid_days, &header.notes, &subtotal, &total],
        )
        .await?
        .get(0);
    insert_items(&tx, "quote_items", "quote_id", tenant.id, id, &items).await?;
    outbox::record(
        &tx,
        tenant.id,
        Aggregate::Quote,
        id,
        "quote_created",
        j!({ "quote_id": id, "number": number, "client_id": b.client_id, "site_id": b.site_id, "seller_id": who.user_id,
             "discount_percent": header.discount, "subtotal": subtotal, "total": total, "items": items_payload(&items) }),
    )
    .await?;
    let quote = load(&tx, tenant.id, id).await?.ok_or_else(|| ApiError::Internal("quote vanished".into()))?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &quote))
}

/// Replaces a draft's fields and items.
#[utoipa::path(put, path = "/api/v1/quotes/{id}", tag = "quotes", params(("id" = Uuid, Path)), request_body = QuoteInput,
    responses((status = 200, body = Quote), (status = 404, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn replace(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let b: QuoteInput = req.json()?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let status = lock_status(&tx, tenant.id, id).await?;
    if status != QuoteStatus::Draft {
        return Err(ApiError::conflict("quote_not_draft", format!("only draft quotes can be edited; this one is {}", status.as_str())));
    }
    let header = validate_header(&tx, tenant.id, &b).await?;
    let items = price_items(&tx, tenant.id, &b.items).await?;
    let (subtotal, total) = checked_totals(&items, header.discount)?;
    tx.execute(
        "UPDATE quotes SET client_id = $3, site_id = $4, discount_percent = $5, valid_days = $6, notes = $7, subtotal = $8, total = $9, \
         updated_at = now() WHERE id = $1 AND tenant_id = $2",
        &[&id, &tenant.id, &b.client_id, &b.site_id, &header.discount, &header.valid_days, &header.notes, &subtotal, &total],
    )
    .await?;
    tx.execute("DELETE FROM quote_items WHERE quote_id = $1 AND tenant_id = $2", &[&id, &tenant.id]).await?;
    insert_items(&tx, "quote_items", "quote_id", tenant.id, id, &items).await?;
    let quote = load(&tx, tenant.id, id).await?.ok_or_else(|| ApiError::not_found("quote"))?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &quote))
}

/// Locks the quote row for a state change and returns its status (404 if not this tenant's).
pub async fn lock_status(tx: &Transaction<'_>, tenant_id: Uuid, id: Uuid) -> ApiResult<QuoteStatus> {
    let row = tx
        .query_opt("SELECT status FROM quotes WHERE id = $1 AND tenant_id = $2 FOR UPDATE", &[&id, &tenant_id])
        .await?
        .ok_or_else(|| ApiError::not_found("quote"))?;
    QuoteStatus::parse(row.get(0)).ok_or_else(|| ApiError::Internal("stored quote status".into()))
}

/// The state changes reachable by `POST /quotes/{id}/<action>`.
#[derive(Debug, Clone, Copy)]
pub enum QuoteAction {
    Send,
    Approve,
    Cancel,
}

#[utoipa::path(post, path = "/api/v1/quotes/{id}/{action}", tag = "quotes",
    params(("id" = Uuid, Path), ("action" = String, Path, description = "send | approve | cancel")),
    responses((status = 200, body = Quote), (status = 404, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody), (status = 422, body = crate::docs::ErrorBody)))]
pub async fn transition(state: &AppState, tenant: &Tenant, id: Uuid, action: QuoteAction) -> ApiResult<HttpResponse> {
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt(
            "SELECT status, coalesce(sent_at, created_at) + make_interval(days => valid_days) < now(), \
                    (SELECT count(*) FROM quote_items i WHERE i.quote_id = q.id AND i.tenant_id = q.tenant_id), number, total \
             FROM quotes q WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            &[&id, &tenant.id],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("quote"))?;
    let status = QuoteStatus::parse(row.get(0)).ok_or_else(|| ApiError::Internal("stored quote status".into()))?;
    let (expired, item_count, number, total): (bool, i64, String, Decimal) = (row.get(1), row.get(2), row.get(3), row.get(4));
    let (to, stamp, event) = match action {
        QuoteAction::Send => {
            if status != QuoteStatus::Draft {
                return Err(ApiError::conflict("invalid_transition", format!("only draft quotes can be sent; this one is {}", status.as_str())));
            }
            if item_count == 0 {
                return Err(ApiError::invalid("items", "a quote needs at least one item before it is sent"));
            }
            (QuoteStatus::Sent, "sent_at", Some("quote_sent"))
        }
        QuoteAction::Approve => {
            if status != QuoteStatus::Sent {
                return Err(ApiError::conflict("invalid_transition", format!("only sent quotes can be approved; this one is {}", status.as_str())));
            }
            if expired {
                return Err(ApiError::conflict("quote_expired", "the quote is past its validity; edit a new one"));
            }
            (QuoteStatus::Approved, "approved_at", Some("quote_approved"))
        }
        QuoteAction::Cancel => {
            if matches!(status, QuoteStatus::Converted | QuoteStatus::Cancelled) {
                return Err(ApiError::conflict("invalid_transition", format!("a {} quote cannot be cancelled", status.as_str())));
            }
            (QuoteStatus::Cancelled, "cancelled_at", None)
        }
    };
    tx.execute(
        &format!("UPDATE quotes SET status = $3, {stamp} = now(), updated_at = now() WHERE id = $1 AND tenant_id = $2"),
        &[&id, &tenant.id, &to.as_str()],
    )
    .await?;
    if let Some(event) = event {
        outbox::record(&tx, tenant.id, Aggregate::Quote, id, event, j!({ "quote_id": id, "number": number, "total": total })).await?;
    }
    let quote = load(&tx, tenant.id, id).await?.ok_or_else(|| ApiError::not_found("quote"))?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &quote))
}

#[utoipa::path(get, path = "/api/v1/quotes/{id}", tag = "quotes", params(("id" = Uuid, Path)),
    responses((status = 200, body = Quote), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let client = state.pool.get().await?;
    let quote_stmt = client.prepare_cached(&quote_sql()).await?;
    let items_stmt = client.prepare_cached(&items_sql("quote_items", "quote_id")).await?;
    let mut rows = infra::db::tenant_read(&client, tenant.id, &[(&quote_stmt, &[&id, &tenant.id]), (&items_stmt, &[&id, &tenant.id])]).await?.into_iter();
    let (quote, items) = (rows.next().unwrap_or_default(), rows.next().unwrap_or_default());
    let row = quote.first().ok_or_else(|| ApiError::not_found("quote"))?;
    Ok(json(StatusCode::OK, &from_row(row, items.iter().map(item_from_row).collect())?))
}

/// Quotes, newest first, without items; filter by status, client and creation period.
#[utoipa::path(get, path = "/api/v1/quotes", tag = "quotes",
    params(("status" = Option<QuoteStatus>, Query), ("client_id" = Option<Uuid>, Query), ("from" = Option<String>, Query, description = "YYYY-MM-DD"),
           ("to" = Option<String>, Query, description = "YYYY-MM-DD, inclusive"), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<Quote>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            Some(QuoteStatus::parse(s).ok_or_else(|| ApiError::bad_field("status", "status must be draft, sent, approved, converted or cancelled"))?.as_str())
        }
    };
    let client_id = validate::query_uuid(&q, "client_id")?;
    let from = validate::query_date(&q, "from")?;
    let to = validate::query_date(&q, "to")?;
    let (t, id) = params.keyset();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM quotes q WHERE q.tenant_id = $1 AND ($2::text IS NULL OR q.status = $2) \
                 AND ($3::uuid IS NULL OR q.client_id = $3) AND ($4::date IS NULL OR q.created_at >= $4::date) \
                 AND ($5::date IS NULL OR q.created_at < $5::date + 1) \
                 AND ($6::timestamptz IS NULL OR (q.created_at, q.id) < ($6, $7)) ORDER BY q.created_at DESC, q.id DESC LIMIT $8"
            ),
            &[&tenant.id, &status, &client_id, &from, &to, &t, &id, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let items = rows.iter().map(|r| from_row(r, Vec::new())).collect::<ApiResult<Vec<_>>>()?;
    Ok(json(StatusCode::OK, &params.page(items, |q: &Quote| Cursor { t: q.created_at, id: q.id })))
}
