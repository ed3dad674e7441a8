//! Supplier price engine: on a supplier's price change, alert when the price rose ≥ 10 % over
//! that supplier's previous price, or is ≥ 15 % above the cheapest other active supplier's
//! current price for the product (naming that alternative).

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

#[allow(unused_imports)]
use super::Cached;
use super::EngineError;
use infra::db::Transaction;
use infra::events::SupplierPriceChanged;

/// Percentage by which `new` exceeds `base`, to cents of a percent.
pub fn increase_percent(base: Decimal, new: Decimal) -> Decimal {
    let mut p = ((new - base) * Decimal::ONE_HUNDRED / base).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    p.rescale(2);
    p
}

pub async fn apply(tx: &Transaction<'_>, tenant: Uuid, c: &SupplierPriceChanged) -> Result<(), EngineError> {
    if let Some(old) = c.old_price.filter(|o| *o > Decimal::ZERO) {
        if c.new_price * Decimal::from(10) >= old * Decimal::from(11) {
            tx.exec(
                "INSERT INTO supplier_price_alerts (tenant_id, supplier_id, product_id, kind, previous_price, new_price, change_percent) \
                 VALUES ($1, $2, $3, 'price_increase', $4, $5, $6)",
                &[&tenant, &c.supplier_id, &c.product_id, &old, &c.new_price, &increase_percent(old, c.new_price)],
            )
            .await?;
        }
    }
    // Compare with alternatives only while this is still the supplier's price: a stale event
    // would alert about a price nobody pays any more (the newer event judges the newer price).
    let current: Option<Decimal> = tx
        .query_opt("SELECT price FROM supplier_prices WHERE tenant_id = $1 AND supplier_id = $2 AND product_id = $3", &[&tenant, &c.supplier_id, &c.product_id])
        .await?
        .map(|r| r.get(0));
    if current != Some(c.new_price) {
        return Ok(());
    }
    let cheapest = tx
        .query_opt(
            "SELECT sp.supplier_id, sp.price FROM supplier_prices sp JOIN suppliers s ON s.id = sp.supplier_id AND s.tenant_id = sp.tenant_id \
             WHERE sp.tenant_id = $1 AND sp.product_id = $2 AND sp.supplier_id <> $3 AND s.active AND sp.valid_from <= current_date \
             ORDER BY sp.price, sp.supplier_id LIMIT 1",
            &[&tenant, &c.product_id, &c.supplier_id],
        )
        .await?;
    if let Some(row) = cheapest {
        let (alt, alt_price): (Uuid, Decimal) = (row.get(0), row.get(1));
        if c.new_price * Decimal::from(100) >= alt_price * Decimal::from(115) {
            tx.exec(
                "INSERT INTO supplier_price_alerts (tenant_id, supplier_id, product_id, kind, previous_price, new_price, change_percent, \
                   alternative_supplier_id, alternative_price) VALUES ($1, $2, $3, 'above_cheapest', $4, $5, $6, $7, $8)",
                &[&tenant, &c.supplier_id, &c.product_id, &c.old_price, &c.new_price, &increase_percent(alt_price, c.new_price), &alt, &alt_price],
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_increase() {
        assert_eq!(increase_percent(Decimal::from(25), Decimal::from(28)).to_string(), "12.00");
        assert_eq!(increase_percent(Decimal::from(3), Decimal::from(4)).to_string(), "33.33");
    }
}
