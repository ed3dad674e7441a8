//! Small HTTP helpers over hyper: the request as handlers see it (head + collected body), JSON
//! in and out, query strings, cookies, and opaque list cursors.

use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};

/// The response type of every handler.
pub type HttpResponse = Response<Full<Bytes>>;

/// A request with its body already read (bounded by `vertical.max_body_bytes`).
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    /// Parses the body as JSON into `T`. `T` should `deny_unknown_fields`; errors name the field
    /// (`items[0].quantity`) so API users can fix the right thing.
    pub fn json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        let ct = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        // Requiring the JSON media type also stops cross-site HTML forms from reaching the API
        // with the browser's cookies (they cannot send it without a CORS preflight).
        if !ct.trim_start().to_ascii_lowercase().starts_with("application/json") {
            return Err(ApiError::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into()));
        }
        parse_json(&self.body)
    }

    /// The JSON body when there is one, else `T::default()`.
    pub fn json_or_default<T: DeserializeOwned + Default>(&self) -> ApiResult<T> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            Ok(T::default())
        } else {
            self.json()
        }
    }

    /// Query string parameters (last value wins).
    pub fn query_params(&self) -> HashMap<String, String> {
        self.query.as_deref().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie's value from the `Cookie` header(s).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// Deserializes JSON with the failing field's path in the error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let msg = inner.to_string();
        let field = if let Some(rest) = msg.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or("");
            // The path may already end at the unknown field, depending on the serde version.
            Some(if path == "." || path == name {
                name.to_string()
            } else if path.ends_with(&format!(".{name}")) {
                path.clone()
            } else {
                format!("{path}.{name}")
            })
        } else if path == "." {
            None
        } else {
            Some(path)
        };
        let message = if inner.is_syntax() || inner.is_eof() { format!("malformed JSON: {msg}") } else { msg };
        ApiError::BadRequest { code: "invalid_request", message, field }
    })
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            *resp.status_mut() = status;
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp
        }
        Err(e) => ApiError::Internal(format!("serialize response: {e}")).into_response(),
    }
}

/// A response from JSON text that is already rendered (the OpenAPI document).
pub fn raw_json(body: &'static str) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// 204 No Content.
pub fn no_content() -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// Parses a path segment as a UUID, naming the parameter when it is not one.
pub fn path_uuid(segment: &str, name: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(segment).map_err(|_| ApiError::bad_field(name, format!("{name} must be a UUID")))
}

/// A page of a list: `{items, next_cursor}`; pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Keyset position in a list ordered by `(created_at DESC, id DESC)`; opaque to clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub t: chrono::DateTime<chrono::Utc>,
    pub id: uuid::Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
    pub fn decode(text: &str) -> ApiResult<Self> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
            .filter(|c| crate::validate::plausible_date(&c.t.date_naive()))
            .ok_or_else(|| ApiError::bad_field("cursor", "cursor is not one this API returned"))
    }
}

/// `limit` (default 50, max 200) and `cursor` from the query string.
pub struct ListParams {
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

impl ListParams {
    pub fn from_query(q: &HashMap<String, String>) -> ApiResult<Self> {
        let limit = match q.get("limit") {
            None => 50,
            Some(v) => {
                v.parse::<i64>().ok().filter(|n| (1..=200).contains(n)).ok_or_else(|| ApiError::bad_field("limit", "limit must be an integer from 1 to 200"))?
            }
        };
        let cursor = q.get("cursor").filter(|c| !c.is_empty()).map(|c| Cursor::decode(c)).transpose()?;
        Ok(Self { limit, cursor })
    }

    /// The cursor's `(created_at, id)` as query parameters (both `None` on the first page).
    pub fn keyset(&self) -> (Option<chrono::DateTime<chrono::Utc>>, Option<uuid::Uuid>) {
        self.cursor.as_ref().map(|c| (Some(c.t), Some(c.id))).unwrap_or_default()
    }

    /// Turns `limit + 1` fetched rows into a page, using `key` to build the next cursor.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> Cursor) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more { rows.last().map(|r| key(r).encode()) } else { None };
        Page { items: rows, next_cursor }
    }
}
