//! `/api/v1/orders`: approved quotes turned into deliveries.
//!
//! pending → preparing → out_for_delivery → delivered, or cancelled before delivery. Conversion
//! is idempotent per quote; `sale_recorded` is emitted exactly once, when an order is first
//! delivered.

use chrono::{DateTime, Utc};
use http::StatusCode;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json as j;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, Cursor, HttpResponse, ListParams, Req};
use crate::outbox::{self, Aggregate};
use crate::routes::quotes::{load_items, lock_status, LineItem, QuoteStatus};
use crate::state::AppState;
use crate::validate::{self, double_option};
use infra::db::{tenant_transaction, Transaction};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Preparing,
    OutForDelivery,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Preparing => "preparing",
            Self::OutForDelivery => "out_for_delivery",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Preparing, Self::OutForDelivery, Self::Delivered, Self::Cancelled].into_iter().find(|v| v.as_str() == s)
    }
    /// The states an order may move to from this one.
    pub fn next(self) -> &'static [OrderStatus] {
        match self {
            Self::Pending => &[Self::Preparing, Self::Cancelled],
            Self::Preparing => &[Self::OutForDelivery, Self::Cancelled],
            Self::OutForDelivery => &[Self::Delivered, Self::Cancelled],
            Self::Delivered | Self::Cancelled => &[],
        }
    }
    fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    pub number: String,
    pub status: OrderStatus,
    pub quote_id: Uuid,
    pub client_id: Uuid,
    pub site_id: Option<Uuid>,
    pub seller_id: Option<Uuid>,
    #[schema(value_type = String)]
    pub discount_percent: Decimal,
    #[schema(value_type = String)]
    pub subtotal: Decimal,
    #[schema(value_type = String)]
    pub total: Decimal,
    pub notes: Option<String>,
    pub items: Vec<LineItem>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, number, status, quote_id, client_id, site_id, seller_id, discount_percent, subtotal, total, notes, \
    delivered_at, cancelled_at, created_at, updated_at";

fn from_row(r: &tokio_postgres::Row, items: Vec<LineItem>) -> ApiResult<Order> {
    Ok(Order {
        id: r.get(0),
        number: r.get(1),
        status: OrderStatus::parse(r.get(2)).ok_or_else(|| ApiError::Internal("stored order status".into()))?,
        quote_id: r.get(3),
        client_id: r.get(4),
        site_id: r.get(5),
        seller_id: r.get(6),
        discount_percent: r.get(7),
        subtotal: r.get(8),
        total: r.get(9),
        notes: r.get(10),
        items,
        delivered_at: r.get(11),
        cancelled_at: r.get(12),
        created_at: r.get(13),
        updated_at: r.get(14),
    })
}

async fn load_where(tx: &Transaction<'_>, tenant_id: Uuid, column: &str, value: Uuid) -> ApiResult<Option<Order>> {
    let Some(row) = tx.query_opt(&format!("SELECT {COLUMNS} FROM orders WHERE {column} = $1 AND tenant_id = $2"), &[&value, &tenant_id]).await? else {
        return Ok(None);
    };
    let id: Uuid = row.get(0);
    let items = load_items(tx, "order_items", "order_id", tenant_id, id).await?;
    from_row(&row, items).map(Some)
}

/// Converts an approved quote into an order. Repeats return the same order with 200; the quote
/// row lock makes concurrent repeats queue, so exactly one order is created.
#[utoipa::path(post, path = "/api/v1/orders/from-quote/{quote_id}", tag = "orders", params(("quote_id" = Uuid, Path)),
    responses((status = 201, body = Order, description = "created"), (status = 200, body = Order, description = "already converted: the same order"),
               (status = 404, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody)))]
pub async fn from_quote(state: &AppState, tenant: &Tenant, quote_id: Uuid) -> ApiResult<HttpResponse> {
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    match lock_status(&tx, tenant.id, quote_id).await? {
        QuoteStatus::Approved => {}
        QuoteStatus::Converted => {
            let order = load_where(&tx, tenant.id, "quote_id", quote_id).await?.ok_or_else(|| ApiError::Internal("converted quote without order".into()))?;
            tx.commit().await?;
            return Ok(json(StatusCode::OK, &order));
        }
        other => {
            return Err(ApiError::conflict("quote_not_approved", format!("only approved quotes can be converted to orders; this quote is {}", other.as_str())))
        }
    }
    let number = outbox::next_number(&tx, tenant.id, "order", "O").await?;
    let order_id: Uuid = tx
        .query_one(
            "INSERT INTO orders (tenant_id, number, quote_id, client_id, site_id, seller_id, discount_percent, subtotal, total, notes) \
             SELECT tenant_id, $3, id, client_id, site_id, seller_id, discount_percent, subtotal, total, notes \
             FROM quotes WHERE id = $1 AND tenant_id = $2 RETURNING id",
            &[&quote_id, &tenant.id, &number],
        )
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO order_items (tenant_id, order_id, position, product_id, quantity, unit_price, discount_percent, total) \
         SELECT tenant_id, $3, position, product_id, quantity, unit_price, discount_percent, total \
         FROM quote_items WHERE quote_id = $1 AND tenant_id = $2",
        &[&quote_id, &tenant.id, &order_id],
    )
    .await?;
    tx.execute("UPDATE quotes SET status = 'converted', converted_at = now(), updated_at = now() WHERE id = $1 AND tenant_id = $2", &[&quote_id, &tenant.id])
        .await?;
    let order = load_where(&tx, tenant.id, "id", order_id).await?.ok_or_else(|| ApiError::Internal("order vanished".into()))?;
    outbox::record(&tx, tenant.id, Aggregate::Quote, quote_id, "quote_converted", j!({ "quote_id": quote_id, "order_id": order_id, "order_number": number }))
        .await?;
    outbox::record(
        &tx,
        tenant.id,
        Aggregate::Order,
        order_id,
        "order_created",
        j!({ "order_id": order_id, "number": number, "quote_id": quote_id, "client_id": order.client_id, "site_id": order.site_id,
             "total": order.total, "items": items_payload(&order.items) }),
    )
    .await?;
    tx.commit().await?;
    Ok(json(StatusCode::CREATED, &order))
}

fn items_payload(items: &[LineItem]) -> serde_json::Value {
    items
        .iter()
        .map(|i| j!({ "product_id": i.product_id, "quantity": i.quantity, "unit_price": i.unit_price, "discount_percent": i.discount_percent, "total": i.total }))
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderChanges {
    pub status: Option<OrderStatus>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
}

/// Moves an order along its allowed transitions and/or edits its notes. Asking for the status
/// it already has changes nothing and emits nothing.
#[utoipa::path(patch, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = Uuid, Path)), request_body = OrderChanges,
    responses((status = 200, body = Order), (status = 404, body = crate::docs::ErrorBody), (status = 409, body = crate::docs::ErrorBody)))]
pub async fn update(state: &AppState, tenant: &Tenant, id: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let b: OrderChanges = req.json()?;
    let notes = b.notes.map(|n| validate::opt_text("notes", n.as_deref(), 2000)).transpose()?;
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let row = tx
        .query_opt("SELECT status, sale_recorded_at IS NOT NULL, number FROM orders WHERE id = $1 AND tenant_id = $2 FOR UPDATE", &[&id, &tenant.id])
        .await?
        .ok_or_else(|| ApiError::not_found("order"))?;
    let current = OrderStatus::parse(row.get(0)).ok_or_else(|| ApiError::Internal("stored order status".into()))?;
    let (sale_recorded, number): (bool, String) = (row.get(1), row.get(2));

    if let Some(notes) = &notes {
        if current.is_final() {
            return Err(ApiError::conflict("order_closed", format!("notes cannot change on a {} order", current.as_str())));
        }
        tx.execute("UPDATE orders SET notes = $3, updated_at = now() WHERE id = $1 AND tenant_id = $2", &[&id, &tenant.id, notes]).await?;
    }
    if let Some(to) = b.status.filter(|s| *s != current) {
        if !current.next().contains(&to) {
            let allowed: Vec<&str> = current.next().iter().map(|s| s.as_str()).collect();
            return Err(ApiError::conflict(
                "invalid_transition",
                format!(
                    "an order cannot go from {} to {} (allowed: {})",
                    current.as_str(),
                    to.as_str(),
                    if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
                ),
            ));
        }
        let stamp = match to {
            OrderStatus::Delivered => ", delivered_at = now()",
            OrderStatus::Cancelled => ", cancelled_at = now()",
            _ => "",
        };
        tx.execute(&format!("UPDATE orders SET status = $3, updated_at = now(){stamp} WHERE id = $1 AND tenant_id = $2"), &[&id, &tenant.id, &to.as_str()])
            .await?;
        let site = site_payload(&tx, tenant.id, id).await?;
        outbox::record(
            &tx,
            tenant.id,
            Aggregate::Order,
            id,
            "order_status_changed",
            j!({ "order_id": id, "number": number, "from": current.as_str(), "to": to.as_str(), "site": site }),
        )
        .await?;
        if to == OrderStatus::Delivered && !sale_recorded {
            record_sale(&tx, tenant.id, id, site).await?;
        }
    }
    let order = load_where(&tx, tenant.id, "id", id).await?.ok_or_else(|| ApiError::not_found("order"))?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &order))
}

async fn site_payload(tx: &Transaction<'_>, tenant_id: Uuid, order_id: Uuid) -> ApiResult<serde_json::Value> {
    let row = tx
        .query_opt(
            "SELECT s.id, s.name, s.address, s.city, s.state, s.postal_code FROM orders o \
             JOIN sites s ON s.id = o.site_id AND s.tenant_id = o.tenant_id WHERE o.id = $1 AND o.tenant_id = $2",
            &[&order_id, &tenant_id],
        )
        .await?;
    Ok(match row {
        None => serde_json::Value::Null,
        Some(r) => j!({ "id": r.get::<_, Uuid>(0), "name": r.get::<_, String>(1), "address": r.get::<_, Option<String>>(2),
                        "city": r.get::<_, Option<String>>(3), "state": r.get::<_, Option<String>>(4), "postal_code": r.get::<_, Option<String>>(5) }),
    })
}

/// Emits `sale_recorded` once per order (guarded by `sale_recorded_at`).
async fn record_sale(tx: &Transaction<'_>, tenant_id: Uuid, order_id: Uuid, site: serde_json::Value) -> ApiResult<()> {
    let row = tx
        .query_one(
            "UPDATE orders SET sale_recorded_at = now() WHERE id = $1 AND tenant_id = $2 AND sale_recorded_at IS NULL \
             RETURNING number, client_id, total, delivered_at",
            &[&order_id, &tenant_id],
        )
        .await?;
    let items = load_items(tx, "order_items", "order_id", tenant_id, order_id).await?;
    let (number, client_id, total, delivered_at): (String, Uuid, Decimal, Option<DateTime<Utc>>) = (row.get(0), row.get(1), row.get(2), row.get(3));
    outbox::record(
        tx,
        tenant_id,
        Aggregate::Order,
        order_id,
        "sale_recorded",
        j!({ "order_id": order_id, "number": number, "client_id": client_id, "total": total, "delivered_at": delivered_at,
             "site": site, "items": items_payload(&items) }),
    )
    .await?;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = Uuid, Path)),
    responses((status = 200, body = Order), (status = 404, body = crate::docs::ErrorBody)))]
pub async fn get(state: &AppState, tenant: &Tenant, id: Uuid) -> ApiResult<HttpResponse> {
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let order = load_where(&tx, tenant.id, "id", id).await?.ok_or_else(|| ApiError::not_found("order"))?;
    tx.commit().await?;
    Ok(json(StatusCode::OK, &order))
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    params(("status" = Option<OrderStatus>, Query), ("client_id" = Option<Uuid>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = crate::http::Page<Order>), (status = 400, body = crate::docs::ErrorBody)))]
pub async fn list(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<HttpResponse> {
    let q = req.query_params();
    let params = ListParams::from_query(&q)?;
    let status = match q.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            OrderStatus::parse(s)
                .ok_or_else(|| ApiError::bad_field("status", "status must be pending, preparing, out_for_delivery, delivered or cancelled"))?
                .as_str(),
        ),
    };
    let client_id = validate::query_uuid(&q, "client_id")?;
    let (t, cid) = params.keyset();
    let mut client = state.pool.get().await?;
    let tx = tenant_transaction(&mut client, tenant.id).await?;
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM orders WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR client_id = $3) \
                 AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) ORDER BY created_at DESC, id DESC LIMIT $6"
            ),
            &[&tenant.id, &status, &client_id, &t, &cid, &(params.limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let items = rows.iter().map(|r| from_row(r, Vec::new())).collect::<ApiResult<Vec<_>>>()?;
    Ok(json(StatusCode::OK, &params.page(items, |o: &Order| Cursor { t: o.created_at, id: o.id })))
}
