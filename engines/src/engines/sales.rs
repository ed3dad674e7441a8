//! Sales engine (complementary products): over delivered orders of the last 90 days that contain
//! at least two products, frequency(P→Q) = orders containing both / orders containing P × 100;
//! ≥ 20 % is a suggestion, `high` ≥ 70, `medium` ≥ 40, else `low`. Only pairs starting at a
//! product of the new sale can change, so only those are recomputed.

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use super::stock::record_sale_facts;
#[allow(unused_imports)]
use super::Cached;
use super::EngineError;
use infra::db::Transaction;
use infra::events::SaleRecorded;
use infra::EventEnvelope;

/// Minimum frequency for a suggestion, in percent.
pub const THRESHOLD_PERCENT: i64 = 20;

pub fn priority(frequency_percent: Decimal) -> &'static str {
    if frequency_percent >= Decimal::from(70) {
        "high"
    } else if frequency_percent >= Decimal::from(40) {
        "medium"
    } else {
        "low"
    }
}

pub async fn apply(tx: &Transaction<'_>, event: &EventEnvelope, sale: &SaleRecorded) -> Result<(), EngineError> {
    record_sale_facts(tx, event.tenant_id, sale, event.occurred_at).await?;
    let products: Vec<Uuid> = sale.items.iter().map(|i| i.product_id).collect();
    let rows = tx
        .query(
            "WITH recent AS (SELECT DISTINCT order_id, product_id FROM sale_facts \
                             WHERE tenant_id = $1 AND sold_at > now() - interval '90 days'), \
                  multi AS (SELECT order_id FROM recent GROUP BY order_id HAVING count(*) >= 2), \
                  base AS (SELECT r.product_id, count(*) AS n FROM recent r JOIN multi USING (order_id) \
                           WHERE r.product_id = ANY($2) GROUP BY r.product_id) \
             SELECT a.product_id, b.product_id, count(*)::int AS both_count, base.n::int \
             FROM recent a JOIN multi USING (order_id) \
             JOIN recent b ON b.order_id = a.order_id AND b.product_id <> a.product_id \
             JOIN base ON base.product_id = a.product_id \
             WHERE a.product_id = ANY($2) GROUP BY a.product_id, b.product_id, base.n",
            &[&event.tenant_id, &products],
        )
        .await?;
    tx.exec("DELETE FROM complementary_suggestions WHERE tenant_id = $1 AND product_id = ANY($2)", &[&event.tenant_id, &products]).await?;
    for r in rows {
        let (p, q, both, n): (Uuid, Uuid, i32, i32) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let freq = (Decimal::from(both) * Decimal::ONE_HUNDRED / Decimal::from(n)).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
        if freq < Decimal::from(THRESHOLD_PERCENT) {
            continue;
        }
        tx.exec(
            "INSERT INTO complementary_suggestions (tenant_id, product_id, complementary_id, frequency_percent, orders_with_both, orders_with_product, priority) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&event.tenant_id, &p, &q, &freq, &both, &n, &priority(freq)],
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_bands() {
        assert_eq!(priority(Decimal::from(100)), "high");
        assert_eq!(priority(Decimal::from(70)), "high");
        assert_eq!(priority(Decimal::new(6999, 2)), "medium");
        assert_eq!(priority(Decimal::from(40)), "medium");
        assert_eq!(priority(Decimal::from(20)), "low");
    }
}
