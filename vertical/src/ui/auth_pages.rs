//! Sign-in, session renewal and sign-out pages, on the same sessions service as the API's
//! `/auth/*` (the same cookies, lockout and refresh-token rotation).

use http::StatusCode;
use maud::html;

use crate::auth::principal::CookieNames;
use crate::auth::sessions;
use crate::domain::tenant::Tenant;
use crate::error::ApiError;
use crate::http::{HttpResponse, Req};
use crate::state::AppState;
use crate::ui::layout::{brand, document, redirect, safe_next};
use crate::ui::session::{self, CsrfScope, CSRF_FIELD};
use crate::ui::{form, text};

/// The sign-in page. `error` is shown above the form with the e-mail kept.
pub fn login_page(state: &AppState, tenant: &Tenant, req: &Req, error: Option<&str>, status: StatusCode) -> HttpResponse {
    let t = text::for_request(req);
    let q = req.query_params();
    let posted = form::parse(&req.body);
    let (nonce, fresh) = match session::nonce(state, req) {
        Some(n) => (n.to_owned(), false),
        None => (session::new_nonce(), true),
    };
    let notice = if q.contains_key("expired") {
        Some(t.s("login.expired"))
    } else if q.contains_key("out") {
        Some(t.s("login.logged_out"))
    } else {
        None
    };
    let next = safe_next(q.get("next").or(posted.get("next")));
    let body = html! {
        main id="main" class="login" {
            (brand(state, tenant))
            form method="post" action="/auth/login" class="card form" {
                h1 { (t.s("login.title")) }
                @if let Some(n) = notice { p class="flash" role="status" { (n) } }
                @if let Some(e) = error { p class="alert" role="alert" id="login-error" { (e) } }
                input type="hidden" name=(CSRF_FIELD) value=(session::csrf_token(state, tenant, &nonce, CsrfScope::Visitor));
                input type="hidden" name="next" value=(next);
                div class="field" {
                    label for="email" { (t.s("field.email")) }
                    input type="email" id="email" name="email" autocomplete="username" required autofocus[error.is_none()]
                        value=(posted.get("email").map(String::as_str).unwrap_or(""));
                }
                div class="field" {
                    label for="password" { (t.s("field.password")) }
                    input type="password" id="password" name="password" autocomplete="current-password" required autofocus[error.is_some()]
                        aria-describedby=[error.map(|_| "login-error")];
                }
                button type="submit" { (t.s("login.submit")) }
            }
        }
    };
    let mut resp = document(t, status, &format!("{} · {}", t.s("login.title"), tenant.name), body);
    if fresh {
        session::set_cookie(&mut resp, &session::nonce_cookie(state, &nonce));
    }
    resp
}

/// `POST /auth/login` from the form: the API's login with the form's credentials; its cookies start the session.
pub async fn login(state: &AppState, tenant: &Tenant, req: &Req) -> HttpResponse {
    let t = text::for_request(req);
    let posted = form::parse(&req.body);
    if !session::csrf_ok(state, tenant, req, CsrfScope::Visitor, posted.get(CSRF_FIELD).map(String::as_str)) {
        return login_page(state, tenant, req, Some(t.s("error.csrf")), StatusCode::FORBIDDEN);
    }
    let get = |k: &str| posted.get(k).cloned().unwrap_or_default();
    match sessions::sign_in(state, tenant, sessions::LoginRequest { email: get("email"), password: get("password") }).await.map_err(ApiError::from) {
        Ok(tokens) => {
            let mut resp = redirect(&safe_next(posted.get("next")));
            set_cookies(&mut resp, &sessions::session_cookies(state, &tokens));
            // A new nonce at sign-in as well as the new scope: nothing handed out before counts.
            session::set_cookie(&mut resp, &session::nonce_cookie(state, &session::new_nonce()));
            resp
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => login_page(state, tenant, req, Some(t.s("login.failed")), StatusCode::UNAUTHORIZED),
        Err(e) => {
            let (_, m) = form::describe(e, t);
            login_page(state, tenant, req, Some(&m), StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `GET /auth/renew?next=`: the access cookie is gone or expired. The browser sends the
/// refresh cookie (`SameSite=Strict`: only on this site's own navigations), so the API's rotation renews the session and the user carries on;
/// if that fails, the login page says the session expired.
pub async fn renew(state: &AppState, tenant: &Tenant, req: &Req) -> HttpResponse {
    let q = req.query_params();
    let next = safe_next(q.get("next"));
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let Some(refresh) = req.cookie(CookieNames::of(state).refresh).filter(|c| !c.is_empty()).map(str::to_owned) else {
        return redirect(&format!("/login?next={encoded}"));
    };
    match sessions::rotate(state, tenant, &refresh).await {
        Ok(tokens) => {
            let mut resp = redirect(&next);
            set_cookies(&mut resp, &sessions::session_cookies(state, &tokens));
            resp
        }
        Err(_) => {
            let mut resp = redirect(&format!("/login?expired=1&next={encoded}"));
            clear_session(state, &mut resp);
            resp
        }
    }
}

/// `POST /auth/signout`: revokes the refresh-token family (API logout) and clears the cookies.
pub async fn signout(state: &AppState, tenant: &Tenant, req: &Req) -> HttpResponse {
    let posted = form::parse(&req.body);
    let scope = CsrfScope::for_sign_out(state, tenant, req);
    if !session::csrf_ok(state, tenant, req, scope, posted.get(CSRF_FIELD).map(String::as_str)) {
        let t = text::for_request(req);
        return login_page(state, tenant, req, Some(t.s("error.csrf")), StatusCode::FORBIDDEN);
    }
    let mut resp = redirect("/login?out=1");
    if let Some(refresh) = req.cookie(CookieNames::of(state).refresh).filter(|c| !c.is_empty()) {
        if let Err(e) = sessions::sign_out(state, tenant, refresh).await {
            tracing::warn!(error = %e, "sign-out could not revoke the refresh token");
        }
    }
    clear_session(state, &mut resp);
    resp
}

fn set_cookies(resp: &mut HttpResponse, cookies: &[String]) {
    for c in cookies {
        session::set_cookie(resp, c);
    }
}

fn clear_session(state: &AppState, resp: &mut HttpResponse) {
    set_cookies(resp, &sessions::cleared_cookies(state));
    session::set_cookie(resp, &session::nonce_cookie(state, ""));
}
