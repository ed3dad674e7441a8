//! The page shell (head, tenant branding, navigation, flash message) and the request context
//! every signed-in page starts from.

use std::collections::HashMap;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use maud::{html, Markup, DOCTYPE};

use crate::auth::principal::CookieNames;
use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::domain::user::Role;
use crate::error::ApiResult;
use crate::http::{HttpResponse, Req};
use crate::state::AppState;
use crate::ui::form::{Field, Form};
use crate::ui::session::{self, CsrfScope, CSRF_FIELD};
use crate::ui::text::{self, Text};
use crate::ui::{assets, form};

/// Content-Security-Policy of every UI page: scripts and styles only from this origin (the
/// versioned files the binary serves), no inline code, no framing, forms only to this origin.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// What a form page's save step returns: a service call borrowing the page's transaction.
pub type Save<'t, O> = std::pin::Pin<Box<dyn std::future::Future<Output = crate::domain::DomainResult<O>> + Send + 't>>;

/// What a signed-in page needs.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub tenant: &'a Tenant,
    pub req: &'a Req,
    pub who: Principal,
    pub t: &'static Text,
    pub csrf: String,
    flash: Option<session::Flash>,
    new_nonce: Option<String>,
}

impl<'a> Ctx<'a> {
    /// The signed-in context, or the redirect that renews the session (and ends at the login
    /// page when it cannot be renewed). The `Err` is the response itself, built at most once per
    /// request, so its size is not worth a box.
    #[allow(clippy::result_large_err)]
    pub fn load(state: &'a AppState, tenant: &'a Tenant, req: &'a Req) -> Result<Self, HttpResponse> {
        let Some(who) = session::principal(state, tenant, req) else {
            let next = if req.method == Method::GET { path_and_query(req) } else { "/".to_owned() };
            let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            return Err(redirect(&format!("/auth/renew?next={next}")));
        };
        let (nonce, new_nonce) = match session::nonce(state, req) {
            Some(n) => (n.to_owned(), None),
            None => {
                let n = session::new_nonce();
                (n.clone(), Some(n))
            }
        };
        let csrf = session::csrf_token(state, tenant, &nonce, CsrfScope::of(&who));
        Ok(Self { csrf, state, tenant, req, who, t: text::for_request(req), flash: session::flash(state, req), new_nonce })
    }

    pub fn is_admin(&self) -> bool {
        self.who.role == Role::Admin
    }

    /// The posted form, if its CSRF token is good; otherwise the refusal page.
    #[allow(clippy::result_large_err)]
    pub fn posted(&self) -> Result<HashMap<String, String>, HttpResponse> {
        let values = form::parse(&self.req.body);
        if session::csrf_ok(self.state, self.tenant, self.req, CsrfScope::of(&self.who), values.get(CSRF_FIELD).map(String::as_str)) {
            Ok(values)
        } else {
            tracing::info!("UI form refused: bad CSRF token");
            Err(self.message(StatusCode::FORBIDDEN, self.t.s("error.csrf")))
        }
    }

    /// A full page.
    pub fn page(&self, title: &str, body: Markup) -> HttpResponse {
        self.page_with_status(StatusCode::OK, title, body)
    }

    pub fn page_with_status(&self, status: StatusCode, title: &str, body: Markup) -> HttpResponse {
        let t = self.t;
        let admin = self.is_admin();
        let nav: &[(&str, &str, bool)] = &[
            ("/", "nav.dashboard", true),
            ("/clients", "nav.clients", true),
            ("/products", "nav.products", true),
            ("/quotes", "nav.quotes", true),
            ("/orders", "nav.orders", true),
            ("/stock", "nav.stock", true),
            ("/suppliers", "nav.suppliers", true),
            ("/insights", "nav.insights", true),
            ("/users", "nav.users", admin),
            ("/branding", "nav.branding", admin),
        ];
        let current = &self.req.path;
        let markup = html! {
            a class="skip" href="#main" { (t.s("app.skip")) }
            header class="top" {
                (brand(self.state, self.tenant))
                nav aria-label=(t.s("app.menu")) {
                    ul {
                        @for (href, key, show) in nav {
                            @if *show {
                                @let here = if *href == "/" { current == "/" } else { current.starts_with(href) };
                                li { a href=(href) aria-current=[here.then_some("page")] { (t.s(key)) } }
                            }
                        }
                    }
                }
                form method="post" action="/auth/signout" class="logout" {
                    input type="hidden" name=(CSRF_FIELD) value=(self.csrf);
                    button type="submit" class="link" { (t.s("nav.logout")) }
                }
            }
            main id="main" tabindex="-1" {
                @match &self.flash {
                    Some(session::Flash::Done(m)) => { p class="flash" role="status" { (m) } }
                    Some(session::Flash::Refused(m)) => { p class="alert" role="alert" { (m) } }
                    None => {},
                }
                h1 { (title) }
                (body)
            }
        };
        let mut resp = document(self.t, status, &format!("{title} · {}", self.tenant.name), markup);
        if self.flash.is_some() {
            session::set_cookie(&mut resp, &session::cookie(self.state, CookieNames::of(self.state).flash, "", 0));
        }
        if let Some(n) = &self.new_nonce {
            session::set_cookie(&mut resp, &session::nonce_cookie(self.state, n));
        }
        resp
    }

    /// A page with only a message (refusals, not found).
    pub fn message(&self, status: StatusCode, text: &str) -> HttpResponse {
        self.page_with_status(status, text, html! { p { a href="/" { (self.t.s("nav.dashboard")) } } })
    }

    /// A transaction of the page's tenant, for the services a page calls.
    pub async fn tx(&self) -> crate::domain::DomainResult<infra::db::TenantTx> {
        self.state.tenant_tx(self.tenant).await
    }

    /// A create/edit page: GET shows the form (filled from `loaded`); POST checks the CSRF
    /// token, decodes the fields (plus `p.fixed`) into the service's typed input `I`, runs
    /// `save` in a tenant transaction and either goes to `to(result)` with a flash message or
    /// shows the form again with the user's input and the refusal next to the field it names.
    pub async fn form_page<I, O, F>(
        &self,
        p: FormPage<'_>,
        loaded: Option<&serde_json::Value>,
        save: F,
        to: impl FnOnce(&O) -> String,
    ) -> ApiResult<HttpResponse>
    where
        I: serde::de::DeserializeOwned,
        F: for<'t> FnOnce(&'t infra::db::TenantTx, I) -> Save<'t, O>,
    {
        let render = |form: &Form| form::render(&p.action, &self.csrf, p.fields, form, self.t, p.submit);
        if self.req.method == Method::GET {
            let mut form = loaded.map(|v| Form::from_json(v, p.fields)).unwrap_or_default();
            form.choices = p.choices;
            return Ok(self.page(p.title, html! { (p.before) (render(&form)) }));
        }
        let posted = match self.posted() {
            Ok(v) => v,
            Err(refused) => return Ok(refused),
        };
        let mut body = form::to_json(p.fields, &posted);
        for (k, v) in p.fixed {
            body[k] = v;
        }
        let saved = async {
            let input: I = crate::http::parse_value(body)?;
            let tx = self.tx().await?;
            let out = save(&tx, input).await?;
            tx.commit().await?;
            Ok::<O, crate::error::ApiError>(out)
        };
        match saved.await {
            Ok(v) => Ok(self.done(&to(&v), p.flash)),
            Err(e) => {
                let mut form = Form::with_posted(posted);
                form.choices = p.choices;
                form.fail(e, self.t);
                Ok(self.page_with_status(StatusCode::UNPROCESSABLE_ENTITY, p.title, html! { (p.before) (render(&form)) }))
            }
        }
    }

    /// 303 to `to` with a confirmation for the next page.
    pub fn done(&self, to: &str, flash: &str) -> HttpResponse {
        let mut resp = redirect(to);
        session::set_flash(self.state, &mut resp, &session::Flash::Done(flash.to_owned()));
        resp
    }

    /// 303 to `to` with an error message for the next page.
    pub fn refused(&self, to: &str, message: &str) -> HttpResponse {
        let mut resp = redirect(to);
        session::set_flash(self.state, &mut resp, &session::Flash::Refused(message.to_owned()));
        resp
    }

    /// A posted `multipart/form-data` form (file uploads): its text fields and the bytes of its
    /// `file` field, if its CSRF token is good; otherwise the refusal page.
    pub async fn posted_multipart(&self) -> Result<(HashMap<String, String>, Option<bytes::Bytes>), HttpResponse> {
        let refused = || self.message(StatusCode::FORBIDDEN, self.t.s("error.csrf"));
        let ct = self.req.header("content-type").unwrap_or("");
        let Ok(boundary) = multer::parse_boundary(ct) else { return Err(refused()) };
        let body = self.req.body.clone();
        let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut parts = multer::Multipart::new(stream, boundary);
        let (mut fields, mut file) = (HashMap::new(), None);
        loop {
            match parts.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_owned();
                    if name == "file" {
                        file = field.bytes().await.ok().filter(|b| !b.is_empty());
                    } else if let Ok(text) = field.text().await {
                        fields.insert(name, text);
                    }
                }
                Ok(None) => break,
                Err(_) => return Err(refused()),
            }
        }
        if session::csrf_ok(self.state, self.tenant, self.req, CsrfScope::of(&self.who), fields.get(CSRF_FIELD).map(String::as_str)) {
            Ok((fields, file))
        } else {
            Err(refused())
        }
    }
}

/// What [`Ctx::form_page`] shows and sends.
pub struct FormPage<'f> {
    pub title: &'f str,
    pub fields: &'f [Field],
    pub action: String,
    pub submit: &'f str,
    /// Confirmation after a successful save.
    pub flash: &'f str,
    pub choices: HashMap<&'static str, Vec<(String, String)>>,
    /// Values sent with the fields but not editable here (the client of a new site).
    pub fixed: Vec<(&'static str, serde_json::Value)>,
    /// Shown above the form.
    pub before: Markup,
}

impl<'f> FormPage<'f> {
    pub fn new(title: &'f str, fields: &'f [Field], action: impl Into<String>, submit: &'f str, flash: &'f str) -> Self {
        Self { title, fields, action: action.into(), submit, flash, choices: HashMap::new(), fixed: Vec::new(), before: html! {} }
    }
}

/// Tenant name and logo (an uploaded logo, else the branding's `logo_url`).
pub fn brand(state: &AppState, tenant: &Tenant) -> Markup {
    let uploaded = crate::catalog::images::url(state, &infra::files::FileKey::logo(tenant.id), "/files/branding/logo.webp");
    let logo = uploaded.or_else(|| tenant.branding.logo_url.clone().filter(|u| u.starts_with('/') || u.starts_with("https://")));
    html! {
        a class="brand" href="/" {
            @if let Some(logo) = logo {
                img src=(logo) alt="" height="32";
            }
            span { (tenant.name) }
        }
    }
}

/// An HTML document with the UI's headers: no caching of private pages, CSP, no framing.
pub fn document(t: &Text, status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    let page = html! {
        (DOCTYPE)
        html lang=(t.s("app.lang")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                // No favicon request per page (it would only meet the session redirect).
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(assets::CSS.url());
                link rel="stylesheet" href="/brand.css";
                script src=(assets::JS.url()) defer {}
            }
            body { (body) }
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from(page.into_string())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

/// 303 See Other (the answer to a form post).
pub fn redirect(to: &str) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn path_and_query(req: &Req) -> String {
    match &req.query {
        Some(q) if !q.is_empty() => format!("{}?{q}", req.path),
        _ => req.path.clone(),
    }
}

/// A local path to go back to after sign-in: only `/…` on this host (never `//host`).
pub fn safe_next(next: Option<&String>) -> String {
    // Browsers drop tabs and newlines in URLs ("/\t/evil" becomes "//evil"), so no control or
    // space characters either.
    next.filter(|n| {
        n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.starts_with("/auth/") && !n.chars().any(|c| c.is_control() || c.is_whitespace())
    })
    .cloned()
    .unwrap_or_else(|| "/".into())
}

/// One column of a [`table`]: its label key and how a row shows in it.
pub type Column<'c, T> = (&'static str, &'c dyn Fn(&T) -> Markup);

/// A table of typed rows, one column per `(label key, cell)`; the first cell links to
/// `link(row)` when given.
pub fn table<T>(t: &Text, rows: &[T], cols: &[Column<'_, T>], link: Option<&dyn Fn(&T) -> String>) -> Markup {
    html! {
        @if rows.is_empty() {
            p class="empty" { (t.s("common.none")) }
        } @else {
            div class="scroll" {
                table class="cards" {
                    thead { tr { @for (label, _) in cols { th scope="col" { (t.dynamic(label)) } } } }
                    tbody {
                        @for r in rows {
                            tr {
                                @for (i, (label, cell)) in cols.iter().enumerate() {
                                    td data-label=(t.dynamic(label)) {
                                        @match link.filter(|_| i == 0) {
                                            Some(link) => { a href=(link(r)) { (cell(r)) } }
                                            None => { (cell(r)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Cells as a person reads them: absent values as a dash, statuses and kinds translated,
/// times shortened to the minute.
pub mod cell {
    use chrono::{DateTime, Utc};
    use maud::{html, Markup};

    use crate::ui::text::Text;

    pub fn text(v: &str) -> Markup {
        html! { (v) }
    }
    pub fn opt<D: std::fmt::Display>(v: Option<D>) -> Markup {
        match v {
            Some(v) => html! { (v) },
            None => html! { "—" },
        }
    }
    pub fn num<D: std::fmt::Display>(v: D) -> Markup {
        html! { (v) }
    }
    pub fn yes_no(t: &Text, v: bool) -> Markup {
        html! { (t.s(if v { "common.yes" } else { "common.no" })) }
    }
    /// A status or risk badge (`status.<value>` text).
    pub fn status(t: &Text, v: &str) -> Markup {
        html! { span class={ "badge " (v) } { (t.dynamic(&format!("status.{v}"))) } }
    }
    /// A kind or role (`<prefix>.<value>` text).
    pub fn word(t: &Text, prefix: &str, v: &str) -> Markup {
        html! { (t.dynamic(&format!("{prefix}.{v}"))) }
    }
    pub fn time(v: &DateTime<Utc>) -> Markup {
        html! { time datetime=(v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)) { (v.format("%Y-%m-%d %H:%M")) } }
    }
}
