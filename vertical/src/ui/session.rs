//! The browser session of the UI: who is signed in (the API's access-token cookie), CSRF tokens
//! for forms, and one-shot flash messages.
//!
//! CSRF: every state-changing form carries `_csrf` = HMAC-SHA256(key, tenant id ‖ nonce), where
//! the nonce is a random value in the HttpOnly `bc_ui` cookie (renewed at sign-in, dropped at
//! sign-out) and the key is derived from the JWT secret. A page elsewhere can make the browser
//! send the cookies but can neither read the token nor compute it, and the session cookie is
//! also `SameSite=Lax`. The API keeps its own rule (`X-Requested-With` on cookie writes); UI
//! forms never post to the API.

use hmac::{Hmac, Mac};
use http::{header, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::principal::ACCESS_COOKIE;
use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::http::{HttpResponse, Req};
use crate::state::AppState;

/// Random per-browser value the CSRF token is bound to.
pub const NONCE_COOKIE: &str = "bc_ui";
/// A message for the next page ("Client created.").
pub const FLASH_COOKIE: &str = "bc_flash";
/// Name of the hidden form field.
pub const CSRF_FIELD: &str = "_csrf";

/// The signed-in user, if the access cookie is valid for this tenant.
pub fn principal(state: &AppState, tenant: &Tenant, req: &Req) -> Option<Principal> {
    let token = req.cookie(ACCESS_COOKIE).filter(|t| !t.is_empty())?;
    Principal::from_token(state, tenant, token).ok()
}

/// A fresh random nonce (hex).
pub fn new_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The request's nonce when it has a plausible one.
pub fn nonce(req: &Req) -> Option<&str> {
    req.cookie(NONCE_COOKIE).filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The CSRF token for `nonce` on this tenant.
pub fn csrf_token(state: &AppState, tenant: &Tenant, nonce: &str) -> String {
    let secret = state.settings.auth.jwt_secret.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
    let key = Sha256::new().chain_update(b"basecommerce-ui-csrf\0").chain_update(secret.as_bytes()).finalize();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(tenant.id.as_bytes());
    mac.update(nonce.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the posted form's token matches the browser's nonce.
pub fn csrf_ok(state: &AppState, tenant: &Tenant, req: &Req, posted: Option<&str>) -> bool {
    match (nonce(req), posted) {
        (Some(n), Some(p)) => bool::from(csrf_token(state, tenant, n).as_bytes().ct_eq(p.as_bytes())),
        _ => false,
    }
}

/// `Set-Cookie` text for a UI cookie (HttpOnly, Path=/, SameSite=Lax).
pub fn cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.settings.vertical.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

pub fn set_cookie(resp: &mut HttpResponse, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// A one-shot message: a confirmation, or a refusal to show as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    Done(String),
    Refused(String),
}

/// Sets the flash message shown by the next page.
pub fn set_flash(state: &AppState, resp: &mut HttpResponse, flash: &Flash) {
    let text = match flash {
        Flash::Done(m) => format!("+{m}"),
        Flash::Refused(m) => format!("!{m}"),
    };
    let encoded: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    set_cookie(resp, &cookie(state, FLASH_COOKIE, &encoded, 60));
}

/// The pending flash message (the page that shows it also clears it).
pub fn flash(req: &Req) -> Option<Flash> {
    let raw = req.cookie(FLASH_COOKIE).filter(|v| !v.is_empty())?;
    let decoded: String = url::form_urlencoded::parse(format!("m={raw}").as_bytes()).map(|(_, v)| v.into_owned()).next()?;
    let text: String = decoded.chars().skip(1).take(300).collect();
    Some(if decoded.starts_with('!') { Flash::Refused(text) } else { Flash::Done(text) })
}
