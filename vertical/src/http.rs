//! Small HTTP helpers over hyper: the request as handlers see it (head + collected body), JSON
//! in and out, query strings and cookies: what route adapters parse before calling a service.

use std::collections::HashMap;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use serde::de::DeserializeOwned;
use serde::Serialize;

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
    serde_path_to_error::deserialize(de).map_err(decode_error)
}

/// Decodes already-parsed JSON (a browser form's fields) into a service's typed input, with the
/// same errors as [`parse_json`].
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(decode_error)
}

fn decode_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    {
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
    }
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

pub use crate::domain::page::{Cursor, Page, PageRequest};

/// `limit` (default 50, max 200) and `cursor` from the query string.
pub fn page_request(q: &HashMap<String, String>) -> ApiResult<PageRequest> {
    let limit = match q.get("limit") {
        None => PageRequest::DEFAULT_LIMIT,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=PageRequest::MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::bad_field("limit", "limit must be an integer from 1 to 200"))?,
    };
    let after = q
        .get("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| Cursor::decode(c).ok_or_else(|| ApiError::bad_field("cursor", "cursor is not one this API returned")))
        .transpose()?;
    Ok(PageRequest { limit, after })
}

/// The `search` term of a list's query string, as an `ILIKE` pattern.
pub fn query_search(q: &HashMap<String, String>) -> Option<String> {
    crate::domain::validate::search_pattern(q.get("search").map(String::as_str))
}

/// A query-string UUID filter.
pub fn query_uuid(q: &std::collections::HashMap<String, String>, name: &str) -> ApiResult<Option<uuid::Uuid>> {
    q.get(name).filter(|v| !v.is_empty()).map(|v| uuid::Uuid::parse_str(v).map_err(|_| ApiError::bad_field(name, format!("{name} must be a UUID")))).transpose()
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
                .filter(crate::domain::validate::plausible_date)
                .ok_or_else(|| ApiError::bad_field(name, format!("{name} must be a date YYYY-MM-DD between 1900 and 9999")))
        })
        .transpose()
}
