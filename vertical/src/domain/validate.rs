//! Field validation shared by the services: each failure is a 422 naming the field.

use rust_decimal::Decimal;

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::pricing;

/// Required text: trimmed, 1..=max characters.
pub fn text(field: &str, value: &str, max: usize) -> DomainResult<String> {
    let v = value.trim();
    if let Some(c) = v.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(DomainError::invalid(field, format!("{field} contains a control character ({:?})", c)));
    }
    if v.is_empty() {
        return Err(DomainError::invalid(field, format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(DomainError::invalid(field, format!("{field} must be at most {max} characters")));
    }
    Ok(v.to_owned())
}

/// Optional text: trimmed; empty becomes `None`.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> DomainResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// A PATCH change of an optional text field, validated: `None` leaves it, `Some(None)` clears
/// it (as does an empty string), `Some(Some(v))` sets it.
pub fn opt_text_change(field: &str, change: crate::domain::Nullable<String>, max: usize) -> DomainResult<Option<Option<String>>> {
    change.into_change().map(|v| opt_text(field, v.as_deref(), max)).transpose()
}

/// A PATCH change of an optional e-mail, validated like [`opt_email`].
pub fn opt_email_change(field: &str, change: crate::domain::Nullable<String>) -> DomainResult<Option<Option<String>>> {
    change.into_change().map(|v| opt_email(field, v.as_deref())).transpose()
}

/// Optional e-mail, lower-cased.
pub fn opt_email(field: &str, value: Option<&str>) -> DomainResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => crate::domain::user::Email::parse(v).map(|e| Some(e.as_str().to_owned())).map_err(|m| DomainError::invalid(field, format!("{field} {m}"))),
    }
}

pub fn price(field: &str, v: Decimal) -> DomainResult<Decimal> {
    pricing::price(v).map_err(|m| DomainError::invalid(field, format!("{field} {m}")))
}

pub fn quantity(field: &str, v: Decimal) -> DomainResult<Decimal> {
    pricing::quantity(v).map_err(|m| DomainError::invalid(field, format!("{field} {m}")))
}

pub fn signed_quantity(field: &str, v: Decimal) -> DomainResult<Decimal> {
    pricing::signed_quantity(v).map_err(|m| DomainError::invalid(field, format!("{field} {m}")))
}

pub fn percent(field: &str, v: Decimal) -> DomainResult<Decimal> {
    pricing::percent(v).map_err(|m| DomainError::invalid(field, format!("{field} {m}")))
}

/// Dates the database and people agree on.
pub fn plausible_date(d: &chrono::NaiveDate) -> bool {
    use chrono::Datelike;
    (1900..=9999).contains(&d.year())
}

/// `ILIKE` pattern for a search term, with the wildcards in the term escaped.
pub fn search_pattern(term: Option<&str>) -> Option<String> {
    term.map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| {
        let s: String = s.chars().filter(|c| !c.is_control()).take(200).collect();
        let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    })
}
