//! Lines of quotes and orders: product, quantity, unit price, discount and total. Quote and order
//! lines share their shape and their SQL; [`Lines`] names which table.

use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use infra::db::TenantTx;

/// A line of a quote or an order, as shown.
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

impl LineItem {
    /// The line as events carry it.
    pub fn to_event(&self) -> infra::events::LineItem {
        PricedItem {
            product_id: self.product_id,
            quantity: self.quantity,
            unit_price: self.unit_price,
            discount_percent: self.discount_percent,
            total: self.total,
        }
        .to_event()
    }
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

impl PricedItem {
    pub fn to_event(&self) -> infra::events::LineItem {
        infra::events::LineItem {
            product_id: self.product_id,
            quantity: self.quantity,
            unit_price: self.unit_price,
            discount_percent: self.discount_percent,
            total: self.total,
        }
    }
}

/// Whose lines: a quote's or an order's.
#[derive(Debug, Clone, Copy)]
pub enum Lines {
    Quote,
    Order,
}

impl Lines {
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Self::Quote => ("quote_items", "quote_id"),
            Self::Order => ("order_items", "order_id"),
        }
    }

    /// Lines by their parent (`$1` parent id, `$2` tenant), in position order, with product code
    /// and name.
    pub fn select_sql(self) -> String {
        let (table, parent) = self.table();
        format!(
            "SELECT i.id, i.product_id, p.code, p.name, p.unit, i.quantity, i.unit_price, i.discount_percent, i.total \
             FROM {table} i JOIN products p ON p.id = i.product_id AND p.tenant_id = i.tenant_id \
             WHERE i.{parent} = $1 AND i.tenant_id = $2 ORDER BY i.position"
        )
    }

    pub async fn load(self, tx: &TenantTx, parent_id: Uuid) -> Result<Vec<LineItem>, tokio_postgres::Error> {
        // Prepared once per connection: an unprepared statement costs a second round trip.
        let stmt = tx.prepare_cached(&self.select_sql()).await?;
        let rows = tx.query(&stmt, &[&parent_id, &tx.tenant_id()]).await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Stores lines in one statement.
    pub async fn insert(self, tx: &TenantTx, parent_id: Uuid, items: &[PricedItem]) -> Result<(), tokio_postgres::Error> {
        let (table, parent) = self.table();
        let positions: Vec<i32> = (1..=items.len() as i32).collect();
        let products: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
        let quantities: Vec<Decimal> = items.iter().map(|i| i.quantity).collect();
        let prices: Vec<Decimal> = items.iter().map(|i| i.unit_price).collect();
        let discounts: Vec<Decimal> = items.iter().map(|i| i.discount_percent).collect();
        let totals: Vec<Decimal> = items.iter().map(|i| i.total).collect();
        tx.execute(
            &format!(
                "INSERT INTO {table} (tenant_id, {parent}, position, product_id, quantity, unit_price, discount_percent, total) \
                 SELECT $1, $2, * FROM unnest($3::int[], $4::uuid[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[])"
            ),
            &[&tx.tenant_id(), &parent_id, &positions, &products, &quantities, &prices, &discounts, &totals],
        )
        .await?;
        Ok(())
    }
}

pub fn from_row(r: &tokio_postgres::Row) -> LineItem {
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
