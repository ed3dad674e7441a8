//! The UI calls the JSON API's handlers in process: the same functions, the same validation,
//! state machines, row-level security and outbox events — the UI adds none of its own.
//!
//! A handler takes a [`Req`] and answers JSON; here a request is built from form values and the
//! answer is read back as a [`Value`]. Errors stay typed ([`ApiError`]), so the UI can put a
//! validation message next to the field the API names. The cost is one JSON encode/decode per
//! call (microseconds), paid to keep one implementation of every rule.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::http::{HttpResponse, Req};

/// A GET with a query string (`search=x&limit=50`).
pub fn get(query: &[(&str, &str)]) -> Req {
    let q: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query.iter().filter(|(_, v)| !v.is_empty())).finish();
    Req { method: Method::GET, path: String::new(), query: Some(q), headers: HeaderMap::new(), body: Bytes::new() }
}

/// A request with a JSON body.
pub fn body(method: Method, value: &Value) -> Req {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Req { method, path: String::new(), query: None, headers, body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()) }
}

/// A handler's answer as JSON (`Null` for 204).
pub async fn value(result: ApiResult<HttpResponse>) -> ApiResult<Value> {
    let resp = result?;
    let bytes = resp.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::Internal(format!("handler answered non-JSON: {e}")))
}

/// The `items` of a list answer.
pub async fn items(result: ApiResult<HttpResponse>) -> ApiResult<Vec<Value>> {
    let mut v = value(result).await?;
    Ok(match v.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    })
}
