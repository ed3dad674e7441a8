//! What the stock and replenishment engines compute from, and the arithmetic itself (pure, so
//! the hand-computed cases are unit tests).
//!
//! Average daily sales = units sold in the last 90 days / 90. Minimum = avg × lead time × 1.2.
//! Days to rupture = ⌊on_hand / avg⌋. Suggested replenishment = ⌈avg × (lead + 14) × 1.2 − on_hand⌉.
//! Comparisons use the exact fractions (sold × lead × 12 / 900), never a rounded average, so
//! 2 units at 1/9 a day is 18 days, not 17.

use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

#[allow(unused_imports)]
use super::Cached;
use super::EngineError;
use infra::db::Transaction;

/// Lead time assumed when no supplier offers the product.
pub const DEFAULT_LEAD_TIME_DAYS: i32 = 7;
/// The sales window.
pub const WINDOW_DAYS: i64 = 90;

/// Risk of running out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    High,
    Medium,
    Low,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
    fn from_days(days: i64) -> Self {
        match days {
            d if d <= 7 => Self::High,
            d if d <= 14 => Self::Medium,
            _ => Self::Low,
        }
    }
}

/// The cheapest current offer for a product.
#[derive(Debug, Clone)]
pub struct Offer {
    pub supplier_id: Uuid,
    pub price: Decimal,
    pub lead_time_days: i32,
}

/// One product's stock situation.
#[derive(Debug, Clone)]
pub struct ProductFacts {
    pub product_id: Uuid,
    pub on_hand: Decimal,
    pub sold_90d: Decimal,
    pub cheapest: Option<Offer>,
}

/// Derived figures.
#[derive(Debug, Clone, PartialEq)]
pub struct StockMetrics {
    pub avg_daily_sales: Decimal,
    pub minimum: Decimal,
    pub days_to_rupture: Option<i64>,
    pub below_minimum: bool,
    pub risk: Option<Risk>,
}

impl ProductFacts {
    pub fn lead_time(&self) -> i32 {
        self.cheapest.as_ref().map_or(DEFAULT_LEAD_TIME_DAYS, |o| o.lead_time_days)
    }

    /// Loads the facts of one product of the transaction's tenant.
    pub async fn load(tx: &Transaction<'_>, tenant_id: Uuid, product_id: Uuid) -> Result<Self, EngineError> {
        let row = tx
            .query_one(
                "SELECT coalesce((SELECT on_hand FROM stock_levels WHERE tenant_id = $1 AND product_id = $2), 0), \
                        coalesce((SELECT sum(quantity) FROM sale_facts WHERE tenant_id = $1 AND product_id = $2 \
                                  AND sold_at > now() - make_interval(days => $3)), 0)",
                &[&tenant_id, &product_id, &(WINDOW_DAYS as i32)],
            )
            .await?;
        let cheapest = tx
            .query_opt(
                "SELECT sp.supplier_id, sp.price, s.lead_time_days FROM supplier_prices sp \
                 JOIN suppliers s ON s.id = sp.supplier_id AND s.tenant_id = sp.tenant_id \
                 WHERE sp.tenant_id = $1 AND sp.product_id = $2 AND s.active AND sp.valid_from <= current_date \
                 ORDER BY sp.price, s.lead_time_days, sp.supplier_id LIMIT 1",
                &[&tenant_id, &product_id],
            )
            .await?
            .map(|r| Offer { supplier_id: r.get(0), price: r.get(1), lead_time_days: r.get(2) });
        Ok(Self { product_id, on_hand: row.get(0), sold_90d: row.get(1), cheapest })
    }

    pub fn metrics(&self) -> StockMetrics {
        stock_metrics(self.on_hand, self.sold_90d, self.lead_time())
    }

    /// Units to order, when below the minimum.
    pub fn suggested_quantity(&self) -> Option<Decimal> {
        if !self.metrics().below_minimum {
            return None;
        }
        let lead = Decimal::from(self.lead_time() + 14);
        let target = self.sold_90d * lead * Decimal::from(12) / Decimal::from(900);
        Some((target - self.on_hand).ceil().max(Decimal::ONE))
    }
}

/// The stock engine's figures for `on_hand` units, `sold` units in the window and a lead time.
pub fn stock_metrics(on_hand: Decimal, sold: Decimal, lead_time_days: i32) -> StockMetrics {
    if sold <= Decimal::ZERO {
        return StockMetrics { avg_daily_sales: Decimal::ZERO, minimum: Decimal::ZERO, days_to_rupture: None, below_minimum: false, risk: None };
    }
    let lead = Decimal::from(lead_time_days);
    let minimum_x900 = sold * lead * Decimal::from(12);
    let below = on_hand * Decimal::from(900) < minimum_x900;
    let days = (on_hand.max(Decimal::ZERO) * Decimal::from(WINDOW_DAYS) / sold).floor();
    let days = i64::try_from(days).unwrap_or(i64::MAX);
    StockMetrics {
        avg_daily_sales: (sold / Decimal::from(WINDOW_DAYS)).round_dp_with_strategy(3, RoundingStrategy::MidpointNearestEven),
        minimum: (minimum_x900 / Decimal::from(900)).round_dp_with_strategy(3, RoundingStrategy::MidpointNearestEven),
        days_to_rupture: Some(days),
        below_minimum: below,
        risk: below.then(|| Risk::from_days(days)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }

    #[test]
    fn ninety_five_sold_of_a_hundred_is_a_high_risk_rupture() {
        // avg = 95/90 = 1.0556; minimum = 1.0556 × 7 × 1.2 = 8.8667; 5 on hand < 8.8667;
        // days = ⌊5 / 1.0556⌋ = ⌊4.74⌋ = 4 → high.
        let m = stock_metrics(d(5), d(95), 7);
        assert_eq!(m.avg_daily_sales.to_string(), "1.056");
        assert_eq!(m.minimum.to_string(), "8.867");
        assert_eq!(m.days_to_rupture, Some(4));
        assert!(m.below_minimum);
        assert_eq!(m.risk, Some(Risk::High));
    }

    #[test]
    fn ten_sold_of_twelve_is_eighteen_days_and_above_minimum() {
        // avg = 10/90 = 1/9; minimum = 1/9 × 7 × 1.2 = 0.9333 < 2 on hand: no alert.
        // days = ⌊2 × 9⌋ = 18 exactly (a rounded average would give 17).
        let m = stock_metrics(d(2), d(10), 7);
        assert_eq!(m.days_to_rupture, Some(18));
        assert_eq!(m.minimum.to_string(), "0.933");
        assert!(!m.below_minimum);
        assert_eq!(m.risk, None);
    }

    #[test]
    fn zero_days_is_a_real_value_and_risk_bands_hold() {
        let m = stock_metrics(d(0), d(9), 7);
        assert_eq!((m.days_to_rupture, m.risk), (Some(0), Some(Risk::High)));
        // 90 sold → 1/day, lead 30 → minimum 36: 10 on hand → medium (10 days), 20 → low? 20 days → low.
        assert_eq!(stock_metrics(d(10), d(90), 30).risk, Some(Risk::Medium));
        assert_eq!(stock_metrics(d(14), d(90), 30).risk, Some(Risk::Medium));
        assert_eq!(stock_metrics(d(15), d(90), 30).risk, Some(Risk::Low));
        assert_eq!(stock_metrics(d(7), d(90), 30).risk, Some(Risk::High));
        assert_eq!(stock_metrics(d(5), d(0), 7).days_to_rupture, None, "no sales: unknown, not zero");
    }

    #[test]
    fn replenishment_quantity_rounds_up() {
        // ⌈95/90 × (7 + 14) × 1.2 − 5⌉ = ⌈26.6 − 5⌉ = 22
        let f = ProductFacts { product_id: Uuid::nil(), on_hand: d(5), sold_90d: d(95), cheapest: None };
        assert_eq!(f.suggested_quantity(), Some(d(22)));
        let above = ProductFacts { on_hand: d(50), ..f };
        assert_eq!(above.suggested_quantity(), None);
    }
}
