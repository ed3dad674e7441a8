//! Orders: approved quotes turned into deliveries.
//!
//! pending → preparing → out_for_delivery → delivered, or cancelled before delivery. Conversion
//! is idempotent per quote; `sale_recorded` is emitted exactly once, when an order is first
//! delivered.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::page::keyset_clause;
use crate::domain::{validate, Cursor, DomainError, DomainResult, Nullable, Page, PageRequest};
use crate::outbox;
use crate::sales::lines::{LineItem, Lines};
use crate::sales::quotes::{self, QuoteStatus};
use infra::db::TenantTx;
use infra::events::{self, Event, OrderCreated, OrderStatusChanged, QuoteConverted, SaleRecorded};

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
    pub const ALL: [OrderStatus; 5] = [Self::Pending, Self::Preparing, Self::OutForDelivery, Self::Delivered, Self::Cancelled];
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
        Self::ALL.into_iter().find(|v| v.as_str() == s)
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
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
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

fn from_row(r: &tokio_postgres::Row, items: Vec<LineItem>) -> DomainResult<Order> {
    Ok(Order {
        id: r.get(0),
        number: r.get(1),
        status: OrderStatus::parse(r.get(2)).ok_or_else(|| DomainError::Internal("stored order status".into()))?,
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

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderChanges {
    pub status: Option<OrderStatus>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Nullable<String>,
}

/// Which orders to list.
#[derive(Debug, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub client_id: Option<Uuid>,
}

/// What [`from_quote`] did: a new order, or the one a previous conversion made.
pub enum Conversion {
    Created(Order),
    Existing(Order),
}

async fn find_where(tx: &TenantTx, column: &str, value: Uuid) -> DomainResult<Option<Order>> {
    let sql = format!("SELECT {COLUMNS} FROM orders WHERE {column} = $1 AND tenant_id = $2");
    let Some(row) = crate::sql::row_by_id(tx, &sql, value).await? else {
        return Ok(None);
    };
    let id: Uuid = row.get(0);
    let items = Lines::Order.load(tx, id).await?;
    from_row(&row, items).map(Some)
}

pub async fn get(tx: &TenantTx, id: Uuid) -> DomainResult<Order> {
    find_where(tx, "id", id).await?.ok_or_else(|| DomainError::not_found("order"))
}

/// Converts an approved quote into an order. Repeats return the same order; the quote row lock
/// makes concurrent repeats queue, so exactly one order is created.
pub async fn from_quote(tx: &TenantTx, quote_id: Uuid) -> DomainResult<Conversion> {
    match quotes::lock_status(tx, quote_id).await? {
        QuoteStatus::Approved => {}
        QuoteStatus::Converted => {
            let order = find_where(tx, "quote_id", quote_id).await?.ok_or_else(|| DomainError::Internal("converted quote without order".into()))?;
            return Ok(Conversion::Existing(order));
        }
        other => {
            return Err(DomainError::conflict(
                "quote_not_approved",
                format!("only approved quotes can be converted to orders; this quote is {}", other.as_str()),
            ))
        }
    }
    let tenant_id = tx.tenant_id();
    let number = outbox::next_number(tx, "order", "O").await?;
    let order_id: Uuid = tx
        .query_one(
            "INSERT INTO orders (tenant_id, number, quote_id, client_id, site_id, seller_id, discount_percent, subtotal, total, notes) \
             SELECT tenant_id, $3, id, client_id, site_id, seller_id, discount_percent, subtotal, total, notes \
             FROM quotes WHERE id = $1 AND tenant_id = $2 RETURNING id",
            &[&quote_id, &tenant_id, &number],
        )
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO order_items (tenant_id, order_id, position, product_id, quantity, unit_price, discount_percent, total) \
         SELECT tenant_id, $3, position, product_id, quantity, unit_price, discount_percent, total \
         FROM quote_items WHERE quote_id = $1 AND tenant_id = $2",
        &[&quote_id, &tenant_id, &order_id],
    )
    .await?;
    tx.execute("UPDATE quotes SET status = 'converted', converted_at = now(), updated_at = now() WHERE id = $1 AND tenant_id = $2", &[&quote_id, &tenant_id])
        .await?;
    let order = get(tx, order_id).await?;
    outbox::record(tx, Event::QuoteConverted(QuoteConverted { quote_id, order_id, order_number: number.clone() })).await?;
    let created = OrderCreated {
        order_id,
        number,
        quote_id,
        client_id: order.client_id,
        site_id: order.site_id,
        total: order.total,
        items: order.items.iter().map(LineItem::to_event).collect(),
    };
    outbox::record(tx, Event::OrderCreated(created)).await?;
    Ok(Conversion::Created(order))
}

/// Moves an order along its allowed transitions and/or edits its notes. Asking for the status
/// it already has changes nothing and emits nothing.
pub async fn update(tx: &TenantTx, id: Uuid, changes: OrderChanges) -> DomainResult<Order> {
    let notes = validate::opt_text_change("notes", changes.notes, 2000)?;
    let tenant_id = tx.tenant_id();
    let row = tx
        .query_opt("SELECT status, sale_recorded_at IS NOT NULL, number FROM orders WHERE id = $1 AND tenant_id = $2 FOR UPDATE", &[&id, &tenant_id])
        .await?
        .ok_or_else(|| DomainError::not_found("order"))?;
    let current = OrderStatus::parse(row.get(0)).ok_or_else(|| DomainError::Internal("stored order status".into()))?;
    let (sale_recorded, number): (bool, String) = (row.get(1), row.get(2));

    if let Some(notes) = &notes {
        if current.is_final() {
            return Err(DomainError::conflict("order_closed", format!("notes cannot change on a {} order", current.as_str())));
        }
        tx.execute("UPDATE orders SET notes = $3, updated_at = now() WHERE id = $1 AND tenant_id = $2", &[&id, &tenant_id, notes]).await?;
    }
    if let Some(to) = changes.status.filter(|s| *s != current) {
        if !current.next().contains(&to) {
            let allowed: Vec<&str> = current.next().iter().map(|s| s.as_str()).collect();
            return Err(DomainError::conflict(
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
        tx.execute(&format!("UPDATE orders SET status = $3, updated_at = now(){stamp} WHERE id = $1 AND tenant_id = $2"), &[&id, &tenant_id, &to.as_str()])
            .await?;
        let site = delivery_site(tx, id).await?;
        let changed = OrderStatusChanged { order_id: id, number, from: current.as_str().into(), to: to.as_str().into(), site: site.clone() };
        outbox::record(tx, Event::OrderStatusChanged(changed)).await?;
        if to == OrderStatus::Delivered && !sale_recorded {
            record_sale(tx, id, site).await?;
        }
    }
    get(tx, id).await
}

/// The order's job site as it is now, for the events that route the delivery.
async fn delivery_site(tx: &TenantTx, order_id: Uuid) -> DomainResult<Option<events::Site>> {
    let row = tx
        .query_opt(
            "SELECT s.id, s.name, s.address, s.city, s.state, s.postal_code FROM orders o \
             JOIN sites s ON s.id = o.site_id AND s.tenant_id = o.tenant_id WHERE o.id = $1 AND o.tenant_id = $2",
            &[&order_id, &tx.tenant_id()],
        )
        .await?;
    Ok(row.map(|r| events::Site { id: r.get(0), name: r.get(1), address: r.get(2), city: r.get(3), state: r.get(4), postal_code: r.get(5) }))
}

/// Emits `sale_recorded` once per order (guarded by `sale_recorded_at`).
async fn record_sale(tx: &TenantTx, order_id: Uuid, site: Option<events::Site>) -> DomainResult<()> {
    let row = tx
        .query_one(
            "UPDATE orders SET sale_recorded_at = now() WHERE id = $1 AND tenant_id = $2 AND sale_recorded_at IS NULL \
             RETURNING number, client_id, total, delivered_at",
            &[&order_id, &tx.tenant_id()],
        )
        .await?;
    let items = Lines::Order.load(tx, order_id).await?;
    let sale = SaleRecorded {
        order_id,
        number: row.get(0),
        client_id: row.get(1),
        total: row.get(2),
        delivered_at: row.get(3),
        site,
        items: items.iter().map(LineItem::to_event).collect(),
    };
    outbox::record(tx, Event::SaleRecorded(sale)).await?;
    Ok(())
}

/// Orders, newest first, without items.
pub async fn list(tx: &TenantTx, filter: &OrderFilter, page: &PageRequest) -> DomainResult<Page<Order>> {
    let (t, cid) = page.keyset();
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR client_id = $3) {}",
        keyset_clause("", 4)
    );
    let status = filter.status.map(OrderStatus::as_str);
    let rows = tx.query(&sql, &[&tx.tenant_id(), &status, &filter.client_id, &t, &cid, &page.fetch()]).await?;
    let items = rows.iter().map(|r| from_row(r, Vec::new())).collect::<DomainResult<Vec<_>>>()?;
    Ok(page.page(items, |o: &Order| Cursor { t: o.created_at, id: o.id }))
}
