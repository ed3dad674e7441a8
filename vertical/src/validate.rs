//! Field validation shared by the resources: each failure is a 422 naming the field.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::domain::pricing;
use crate::error::{ApiError, ApiResult};

/// Required text: trimmed, 1..=max characters.
pub fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let v = value.trim();
    if let Some(c) = v.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::invalid(field, format!("{field} contains a control character ({:?})", c)));
    }
    if v.is_empty() {
        return Err(ApiError::invalid(field, format!("{field} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(ApiError::invalid(field, format!("{field} must be at most {max} characters")));
    }
    Ok(v.to_owned())
}

/// Optional text: trimmed; empty becomes `None`.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// Optional e-mail, lower-cased.
pub fn opt_email(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => crate::domain::user::Email::parse(v).map(|e| Some(e.as_str().to_owned())).map_err(|m| ApiError::invalid(field, format!("{field} {m}"))),
    }
}

pub fn price(field: &str, v: Decimal) -> ApiResult<Decimal> {
    pricing::price(v).map_err(|m| ApiError::invalid(field, format!("{field} {m}")))
}

pub fn quantity(field: &str, v: Decimal) -> ApiResult<Decimal> {
    pricing::quantity(v).map_err(|m| ApiError::invalid(field, format!("{field} {m}")))
}

pub fn signed_quantity(field: &str, v: Decimal) -> ApiResult<Decimal> {
    pricing::signed_quantity(v).map_err(|m| ApiError::invalid(field, format!("{field} {m}")))
}

pub fn percent(field: &str, v: Decimal) -> ApiResult<Decimal> {
    pricing::percent(v).map_err(|m| ApiError::invalid(field, format!("{field} {m}")))
}

/// A query-string UUID filter.
pub fn query_uuid(q: &std::collections::HashMap<String, String>, name: &str) -> ApiResult<Option<Uuid>> {
    q.get(name).filter(|v| !v.is_empty()).map(|v| Uuid::parse_str(v).map_err(|_| ApiError::bad_field(name, format!("{name} must be a UUID")))).transpose()
}

/// A query-string boolean filter.
pub fn query_bool(q: &std::collections::HashMap<String, String>, name: &str) -> ApiResult<Option<bool>> {
    match q.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_field(name, format!("{name} must be true or false"))),
    }
}

/// A query-string date filter (`YYYY-MM-DD`).
pub fn query_date(q: &std::collections::HashMap<String, String>, name: &str) -> ApiResult<Option<chrono::NaiveDate>> {
    q.get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .filter(plausible_date)
                .ok_or_else(|| ApiError::bad_field(name, format!("{name} must be a date YYYY-MM-DD between 1900 and 9999")))
        })
        .transpose()
}

/// Dates the database and people agree on.
pub fn plausible_date(d: &chrono::NaiveDate) -> bool {
    use chrono::Datelike;
    (1900..=9999).contains(&d.year())
}

/// `ILIKE` pattern for a search term, with the wildcards in the term escaped.
pub fn search_pattern(q: &std::collections::HashMap<String, String>) -> Option<String> {
    q.get("search").map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| {
        let s: String = s.chars().filter(|c| !c.is_control()).take(200).collect();
        let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`, which clears the value).
pub fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
