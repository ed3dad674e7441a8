//! The browser session of the UI: who is signed in (the API's access-token cookie), CSRF tokens
//! for forms, and one-shot flash messages.
//!
//! CSRF: every state-changing form carries `_csrf` = HMAC-SHA256(key, tenant id ‖ nonce ‖
//! scope), where the nonce is a random value in the HttpOnly `__Host-bc_ui` cookie (renewed at
//! sign-in, dropped at sign-out), the scope is the sign-in (refresh-token family) the page was
//! rendered for — or "visitor" on the sign-in form — and the key is derived from the JWT
//! secret. A page elsewhere can make the browser send the cookies but can neither read the
//! token nor compute it; a visitor's token (all `GET /login` hands out) is worthless once
//! signed in; the `__Host-` prefix keeps sibling subdomains from planting a nonce; and the
//! session cookie is also `SameSite=Lax`. The API keeps its own rule (`X-Requested-With` on
//! cookie writes); UI forms never post to the API.

use hmac::{Hmac, Mac};
use http::{header, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::auth::principal::CookieNames;
use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::http::{HttpResponse, Req};
use crate::state::AppState;

/// Name of the hidden form field.
pub const CSRF_FIELD: &str = "_csrf";
/// How long a browser keeps its CSRF nonce.
const NONCE_MAX_AGE: i64 = 30 * 86_400;

/// The signed-in user, if the access cookie is valid for this tenant.
pub fn principal(state: &AppState, tenant: &Tenant, req: &Req) -> Option<Principal> {
    let token = req.cookie(CookieNames::of(state).access).filter(|t| !t.is_empty())?;
    Principal::from_token(state, tenant, token).ok()
}

/// Whom a CSRF token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfScope {
    /// Someone not signed in: the sign-in form.
    Visitor,
    /// One sign-in (its refresh-token family; the user's id on tokens older than that claim).
    Session(Uuid),
}

impl CsrfScope {
    /// The scope of a signed-in user's pages.
    pub fn of(who: &Principal) -> Self {
        Self::Session(who.session.unwrap_or(who.user_id))
    }

    /// The scope a sign-out form was rendered for: the session of the access cookie, checked
    /// for signature and tenant but not expiry (the page may have outlived the token).
    pub fn for_sign_out(state: &AppState, tenant: &Tenant, req: &Req) -> Self {
        let token = req.cookie(CookieNames::of(state).access).filter(|t| !t.is_empty());
        match token.and_then(|t| state.tokens.session_of(t.trim())).filter(|c| c.tid == tenant.id) {
            Some(c) => Self::Session(c.fam.unwrap_or(c.sub)),
            None => Self::Visitor,
        }
    }
}

/// A fresh random nonce (hex).
pub fn new_nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The request's nonce when it has a plausible one.
pub fn nonce<'r>(state: &AppState, req: &'r Req) -> Option<&'r str> {
    req.cookie(CookieNames::of(state).nonce).filter(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `Set-Cookie` text that gives the browser `nonce` (empty: takes it away).
pub fn nonce_cookie(state: &AppState, nonce: &str) -> String {
    cookie(state, CookieNames::of(state).nonce, nonce, if nonce.is_empty() { 0 } else { NONCE_MAX_AGE })
}

/// The CSRF token for `nonce` on this tenant, valid only for `scope`.
pub fn csrf_token(state: &AppState, tenant: &Tenant, nonce: &str, scope: CsrfScope) -> String {
    let secret = state.settings.auth.jwt_secret.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
    let key = Sha256::new().chain_update(b"basecommerce-ui-csrf\0").chain_update(secret.as_bytes()).finalize();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(tenant.id.as_bytes());
    // The nonce is always 32 bytes, so the fields cannot run into each other.
    mac.update(nonce.as_bytes());
    match scope {
        CsrfScope::Visitor => mac.update(b"visitor"),
        CsrfScope::Session(id) => {
            mac.update(b"session");
            mac.update(id.as_bytes());
        }
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the posted form's token matches the browser's nonce and `scope`.
pub fn csrf_ok(state: &AppState, tenant: &Tenant, req: &Req, scope: CsrfScope, posted: Option<&str>) -> bool {
    match (nonce(state, req), posted) {
        (Some(n), Some(p)) => bool::from(csrf_token(state, tenant, n, scope).as_bytes().ct_eq(p.as_bytes())),
        _ => false,
    }
}

/// `Set-Cookie` text for a UI cookie (HttpOnly, Path=/, SameSite=Lax).
pub fn cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    crate::auth::sessions::cookie(state, name, value, max_age, "Lax")
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
    set_cookie(resp, &cookie(state, CookieNames::of(state).flash, &encoded, 60));
}

/// The pending flash message (the page that shows it also clears it).
pub fn flash(state: &AppState, req: &Req) -> Option<Flash> {
    let raw = req.cookie(CookieNames::of(state).flash).filter(|v| !v.is_empty())?;
    let decoded: String = url::form_urlencoded::parse(format!("m={raw}").as_bytes()).map(|(_, v)| v.into_owned()).next()?;
    let text: String = decoded.chars().skip(1).take(300).collect();
    Some(if decoded.starts_with('!') { Flash::Refused(text) } else { Flash::Done(text) })
}
