//! What is decided from a request's head, before a byte of its body is read: the path is
//! canonical, the edge secret is right, the tenant is known and active, a presented token is
//! still valid for its user (see [`super::revocation`]), and an upload comes from a signed-in
//! admin. An anonymous client can then make the vertical hold at most a head, never a body.

use http::request::Parts;
use http::{header, HeaderValue, Method};

use crate::auth::principal::CookieNames;
use crate::auth::revocation;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::http::HttpResponse;
use crate::state::AppState;

/// Checks the head; `Err` is the answer to send without reading the body. A revoked token in
/// the session cookie is taken out of the request (the page then sees a signed-out visitor).
pub async fn before_body(state: &AppState, parts: &mut Parts) -> Result<(), HttpResponse> {
    let path = parts.uri.path();
    if !infra::paths::is_canonical(path) {
        return Err(ApiError::NotFound(format!("no route for {} {path}", parts.method)).into_response());
    }
    let segments: Vec<&str> = infra::paths::segments(path).collect();
    let get = parts.method == Method::GET;
    if get && matches!(segments.as_slice(), ["health"] | ["health", "ready"]) {
        return Ok(());
    }
    crate::edge::check_edge_secret_in(state, &parts.headers).map_err(ApiError::into_response)?;
    if get && matches!(segments.as_slice(), ["static", _]) {
        return Ok(());
    }
    let upload = crate::routes::files::is_upload(&parts.method, path);
    let bearer = bearer(&parts.headers).map(str::to_owned);
    let cookie = cookie(&parts.headers, CookieNames::of(state).access).filter(|t| !t.is_empty()).map(str::to_owned);
    if !upload && bearer.is_none() && cookie.is_none() {
        // Nothing to check beyond what routing checks itself.
        return Ok(());
    }
    let tenant = crate::edge::resolve_tenant_in(state, &parts.headers).await.map_err(ApiError::into_response)?;
    let mut role = None;
    if let Some(token) = bearer {
        if let Some(claims) = state.tokens.verify(token.trim()).filter(|c| c.tid == tenant.id) {
            if !revocation::still_valid(state, &claims).await.map_err(ApiError::into_response)? {
                return Err(ApiError::unauthorized("token revoked: sign in again").into_response());
            }
            role = Some(claims.role);
        }
    }
    if let Some(token) = cookie {
        if let Some(claims) = state.tokens.verify(token.trim()).filter(|c| c.tid == tenant.id) {
            if revocation::still_valid(state, &claims).await.map_err(ApiError::into_response)? {
                role = role.or(Some(claims.role));
            } else {
                drop_cookie(&mut parts.headers, CookieNames::of(state).access);
            }
        }
    }
    if upload {
        let api = segments.first() == Some(&"api");
        match role {
            None if api => return Err(ApiError::unauthorized("authentication required").into_response()),
            None => return Err(crate::ui::layout::redirect("/login")),
            Some(Role::Seller) => return Err(ApiError::forbidden("forbidden", "this action needs the admin role").into_response()),
            Some(Role::Admin) => {}
        }
    }
    Ok(())
}

fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))
}

fn cookie<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    cookie_pairs(headers).find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn cookie_pairs(headers: &http::HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).filter_map(|pair| pair.trim().split_once('='))
}

/// Rewrites the `Cookie` header without `name`.
fn drop_cookie(headers: &mut http::HeaderMap, name: &str) {
    let kept: Vec<String> = cookie_pairs(headers).filter(|(k, _)| *k != name).map(|(k, v)| format!("{k}={v}")).collect();
    headers.remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
        if !kept.is_empty() {
            headers.insert(header::COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_cookie_leaves_the_others() {
        let mut h = http::HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; bc_access=tok"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        drop_cookie(&mut h, "bc_access");
        assert_eq!(h.get_all(header::COOKIE).iter().count(), 1);
        assert_eq!(h[header::COOKIE], "a=1; b=2");
        assert_eq!(cookie(&h, "bc_access"), None);
        drop_cookie(&mut h, "a");
        drop_cookie(&mut h, "b");
        assert!(h.get(header::COOKIE).is_none());
    }
}
