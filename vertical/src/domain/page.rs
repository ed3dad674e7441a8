//! Keyset pages: every list is ordered by `(created_at DESC, id DESC)` and continues after the
//! last row of the previous page, so deep pages cost what the first one does (no OFFSET).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A page of a list: `{items, next_cursor}`; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A complete list (no further page).
    pub fn all(items: Vec<T>) -> Self {
        Self { items, next_cursor: None }
    }
}

/// Keyset position in a list ordered by `(created_at DESC, id DESC)`; opaque to clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub t: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
    /// `None` when the text is not a cursor this API handed out.
    pub fn decode(text: &str) -> Option<Self> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
            .filter(|c| crate::domain::validate::plausible_date(&c.t.date_naive()))
    }
}

/// Which page to read: at most `limit` rows after `after`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { limit: Self::DEFAULT_LIMIT, after: None }
    }
}

impl PageRequest {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 200;

    /// The first `limit` rows.
    pub fn first(limit: i64) -> Self {
        Self { limit: limit.clamp(1, Self::MAX_LIMIT), after: None }
    }

    /// The cursor's `(created_at, id)` as query parameters (both `None` on the first page).
    pub fn keyset(&self) -> (Option<DateTime<Utc>>, Option<Uuid>) {
        self.after.as_ref().map(|c| (Some(c.t), Some(c.id))).unwrap_or_default()
    }

    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Turns `fetch()` rows into a page, using `key` to build the next cursor.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> Cursor) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more { rows.last().map(|r| key(r).encode()) } else { None };
        Page { items: rows, next_cursor }
    }
}

/// The keyset condition and order for a list whose rows have `created_at` and `id` (under
/// `alias`, which may be empty); `first` is the number of the timestamp parameter, followed by
/// the id and the row limit. Appended to a `WHERE`.
pub fn keyset_clause(alias: &str, first: usize) -> String {
    let a = if alias.is_empty() { String::new() } else { format!("{alias}.") };
    let (t, id, limit) = (first, first + 1, first + 2);
    format!("AND (${t}::timestamptz IS NULL OR ({a}created_at, {a}id) < (${t}, ${id})) ORDER BY {a}created_at DESC, {a}id DESC LIMIT ${limit}")
}
