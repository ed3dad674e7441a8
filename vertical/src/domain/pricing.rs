//! Money, quantities, discounts and the quote arithmetic, exact (decimal, never float).
//!
//! Item total = quantity × unit price × (1 − item discount/100), rounded half-even to cents;
//! quote total = Σ item totals × (1 − header discount/100), rounded the same way.

use rust_decimal::{Decimal, RoundingStrategy};

/// Amounts are stored as numeric(14, 2): every total must stay below this.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0); // 10^12

/// Why a number is not acceptable; the caller attaches the field name.
pub type NumberError = String;

/// A price: positive, at most 2 decimal places, below 10¹².
pub fn price(value: Decimal) -> Result<Decimal, NumberError> {
    if value <= Decimal::ZERO {
        return Err("must be greater than 0".into());
    }
    if value.normalize().scale() > 2 {
        return Err("must have at most 2 decimal places".into());
    }
    if value >= Decimal::from(1_000_000_000_000i64) {
        return Err("is too large".into());
    }
    Ok(with_scale(value, 2))
}

/// A quantity: positive, at most 3 decimal places, below 10¹¹.
pub fn quantity(value: Decimal) -> Result<Decimal, NumberError> {
    if value <= Decimal::ZERO {
        return Err("must be greater than 0".into());
    }
    signed_quantity(value)
}

/// A signed, non-zero quantity (stock adjustments).
pub fn signed_quantity(value: Decimal) -> Result<Decimal, NumberError> {
    if value.is_zero() {
        return Err("must not be 0".into());
    }
    if value.normalize().scale() > 3 {
        return Err("must have at most 3 decimal places".into());
    }
    if value.abs() >= Decimal::from(100_000_000_000i64) {
        return Err("is too large".into());
    }
    Ok(with_scale(value, 3))
}

/// A discount: 0 to 100 %, at most 2 decimal places.
pub fn percent(value: Decimal) -> Result<Decimal, NumberError> {
    if value < Decimal::ZERO || value > Decimal::ONE_HUNDRED {
        return Err("must be between 0 and 100".into());
    }
    if value.normalize().scale() > 2 {
        return Err("must have at most 2 decimal places".into());
    }
    Ok(with_scale(value, 2))
}

/// Rounds half-even to cents (banker's rounding: no upward drift over many items).
pub fn cents(value: Decimal) -> Decimal {
    with_scale(value.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven), 2)
}

fn with_scale(mut value: Decimal, scale: u32) -> Decimal {
    value.rescale(scale);
    value
}

fn discount_factor(percent: Decimal) -> Decimal {
    Decimal::ONE - percent / Decimal::ONE_HUNDRED
}

/// One line's total.
pub fn item_total(quantity: Decimal, unit_price: Decimal, discount_percent: Decimal) -> Decimal {
    cents(quantity * unit_price * discount_factor(discount_percent))
}

/// `(subtotal, total)` of a quote or order: the sum of item totals, then the header discount.
pub fn totals(item_totals: impl IntoIterator<Item = Decimal>, header_discount: Decimal) -> (Decimal, Decimal) {
    let subtotal = cents(item_totals.into_iter().sum());
    (subtotal, cents(subtotal * discount_factor(header_discount)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn item_totals_apply_discount_and_round_half_even() {
        assert_eq!(item_total(d("10"), d("32.00"), d("0")).to_string(), "320.00");
        assert_eq!(item_total(d("3"), d("45.90"), d("10")).to_string(), "123.93"); // 137.70 × 0.9
                                                                                   // 0.125 → 0.12 (half-even), 0.135 → 0.14
        assert_eq!(item_total(d("1"), d("0.25"), d("50")).to_string(), "0.12");
        assert_eq!(item_total(d("1"), d("0.27"), d("50")).to_string(), "0.14");
        assert_eq!(item_total(d("2.5"), d("19.99"), d("0")).to_string(), "49.98"); // 49.975 → 49.98
        assert_eq!(item_total(d("1.333"), d("3.00"), d("0")).to_string(), "4.00");
        // 3.999
    }

    #[test]
    fn header_discount_applies_to_the_sum() {
        let (sub, total) = totals([d("320.00"), d("123.93")], d("5"));
        assert_eq!(sub.to_string(), "443.93");
        assert_eq!(total.to_string(), "421.73"); // 421.7335
        let (_, none) = totals([d("100.00")], d("0"));
        assert_eq!(none.to_string(), "100.00");
        let (_, free) = totals([d("100.00")], d("100"));
        assert_eq!(free.to_string(), "0.00");
    }

    #[test]
    fn max_amount_is_ten_to_the_twelfth() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000i64));
    }

    #[test]
    fn numbers_are_validated() {
        assert!(price(d("0")).is_err());
        assert!(price(d("-1")).is_err());
        assert!(price(d("1.001")).is_err());
        assert_eq!(price(d("1.5")).unwrap().to_string(), "1.50");
        assert_eq!(price(d("1.500")).unwrap().to_string(), "1.50");
        assert!(quantity(d("-2")).is_err());
        assert!(quantity(d("0.0001")).is_err());
        assert_eq!(quantity(d("2.5")).unwrap().to_string(), "2.500");
        assert!(percent(d("100.01")).is_err());
        assert!(percent(d("-0.01")).is_err());
        assert_eq!(percent(d("12.5")).unwrap().to_string(), "12.50");
        assert!(signed_quantity(d("0")).is_err());
        assert_eq!(signed_quantity(d("-3")).unwrap().to_string(), "-3.000");
    }
}
