//! CORS for front-ends on other origins (`vertical.cors_origins`, empty by default): an allowed
//! origin gets its own name back with credentials allowed — never `*`, which browsers refuse
//! with credentials and which would hand every site the user's session. Other origins get no
//! CORS headers, so browsers keep their answers from scripts.

use http::{header, HeaderValue, Method, StatusCode};

use crate::error::ApiError;
use crate::http::{no_content, HttpResponse, Req};
use crate::state::AppState;

fn allowed<'r>(state: &AppState, req: &'r Req) -> Option<&'r str> {
    let origin = req.header("origin")?;
    state.settings.vertical.cors_origins.iter().any(|o| o.trim_end_matches('/') == origin).then_some(origin)
}

/// The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), if this
/// request is one.
pub fn preflight(state: &AppState, req: &Req) -> Option<HttpResponse> {
    if req.method != Method::OPTIONS || req.header("access-control-request-method").is_none() {
        return None;
    }
    let Some(origin) = allowed(state, req) else {
        return Some(ApiError::forbidden("cors", "this origin is not allowed (vertical.cors_origins)").into_response());
    };
    let mut resp = no_content();
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type, x-requested-with"));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    Some(resp)
}

/// Adds the CORS headers to a response for an allowed origin.
pub fn decorate(state: &AppState, req: &Req, resp: &mut HttpResponse) {
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(v) = allowed(state, req).and_then(|o| HeaderValue::from_str(o).ok()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(infra::edge::REQUEST_ID_HEADER));
    }
}
