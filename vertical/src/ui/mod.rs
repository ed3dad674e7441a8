//! The tenant's browser UI: server-rendered HTML at `/` on each tenant's host (the tenant comes
//! from the proxy's `X-Tenant-Slug`, like every other request).
//!
//! Templates are [maud] macros rather than askama files: they compile into the binary (nothing
//! to install or find at run time), escape by default, are type-checked with the code around
//! them, and reusable pieces (the page shell, a labelled field, a table) are ordinary Rust
//! functions instead of a template-inheritance language. maud has no runtime dependencies.
//!
//! Pages hold no business rules: they decode a form into a service's typed input, call the
//! same services the JSON API calls (`crate::people`, `crate::catalog`, `crate::sales`,
//! `crate::insights`) in a tenant transaction, and render the typed values they return — so
//! validation, state machines, RLS and outbox events have exactly one implementation. Plain
//! forms and links do everything; `assets/app.js` only adds live quote totals and confirmation
//! prompts. Every English string is in [`text`].

pub mod assets;
mod auth_pages;
mod catalog;
pub mod form;
mod home;
pub mod layout;
mod people;
mod sales;
pub mod session;
pub mod text;

use http::{Method, StatusCode};

use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::{HttpResponse, Req};
use crate::state::AppState;
use layout::Ctx;

/// Whether a request is an HTML form submission (not a JSON API call).
pub fn is_form_post(req: &Req) -> bool {
    req.header("content-type").is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// `POST /auth/login` from the sign-in form (the JSON API login answers everything else).
pub async fn sign_in(state: &AppState, tenant: &Tenant, req: &Req) -> HttpResponse {
    auth_pages::login(state, tenant, req).await
}

/// Routes a request for a UI page (anything outside `/api`, `/auth/*` JSON endpoints and
/// `/health`).
pub async fn route(state: &AppState, tenant: &Tenant, req: &Req, seg: &[&str]) -> HttpResponse {
    use Method as M;
    match (&req.method, seg) {
        (&M::GET, ["login"]) => return auth_pages::login_page(state, tenant, req, None, StatusCode::OK),
        (&M::GET, ["auth", "renew"]) => return auth_pages::renew(state, tenant, req).await,
        (&M::POST, ["auth", "signout"]) => return auth_pages::signout(state, tenant, req).await,
        (&M::GET, ["brand.css"]) => return assets::brand_css(tenant),
        _ => {}
    }
    let ctx = match Ctx::load(state, tenant, req) {
        Ok(c) => c,
        Err(redirect) => return redirect,
    };
    match pages(&ctx, seg).await {
        Ok(resp) => resp,
        Err(ApiError::NotFound(_)) => ctx.message(StatusCode::NOT_FOUND, ctx.t.s("error.not_found")),
        Err(ApiError::Forbidden { .. }) => ctx.message(StatusCode::FORBIDDEN, ctx.t.s("error.forbidden")),
        Err(e) => {
            let (_, message) = form::describe(e, ctx.t);
            ctx.message(StatusCode::BAD_REQUEST, &message)
        }
    }
}

async fn pages(ctx: &Ctx<'_>, seg: &[&str]) -> ApiResult<HttpResponse> {
    use Method as M;
    let id = |s: &str| uuid::Uuid::parse_str(s).map_err(|_| ApiError::not_found("page"));
    match (&ctx.req.method, seg) {
        (&M::GET, [""]) => home::dashboard(ctx).await,
        (&M::GET, ["insights"]) => home::insights(ctx).await,

        (&M::GET, ["clients"]) => people::clients(ctx).await,
        (_, ["clients", "new"]) => people::client_form(ctx, None).await,
        (&M::GET, ["clients", c]) => people::client(ctx, id(c)?).await,
        (_, ["clients", c, "edit"]) => people::client_form(ctx, Some(id(c)?)).await,
        (_, ["clients", c, "sites", "new"]) => people::site_form(ctx, id(c)?).await,
        (&M::GET, ["sites", s]) => people::site_edit(ctx, id(s)?).await,
        (_, ["sites", s, "edit"]) => people::site_edit(ctx, id(s)?).await,
        (&M::GET, ["users"]) => people::users(ctx).await,
        (&M::POST, ["users"]) => people::user_create(ctx).await,
        (&M::POST, ["users", u]) => people::user_update(ctx, id(u)?).await,

        (&M::GET, ["products"]) => catalog::products(ctx).await,
        (_, ["products", "new"]) => catalog::product_form(ctx, None).await,
        (_, ["products", p, "edit"]) => catalog::product_form(ctx, Some(id(p)?)).await,
        (&M::POST, ["products", p, "image"]) => catalog::product_image(ctx, id(p)?).await,
        (&M::GET, ["branding"]) => catalog::branding(ctx).await,
        (&M::POST, ["branding"]) => catalog::branding_upload(ctx).await,
        (&M::POST, ["products", p, "deactivate"]) => catalog::product_deactivate(ctx, id(p)?).await,
        (&M::GET, ["stock"]) => catalog::stock(ctx, None).await,
        (&M::POST, ["stock", kind @ ("receipts" | "adjustments")]) => catalog::stock_post(ctx, kind).await,
        (&M::GET, ["suppliers"]) => catalog::suppliers(ctx).await,
        (_, ["suppliers", "new"]) => catalog::supplier_form(ctx, None).await,
        (&M::GET, ["suppliers", s]) => catalog::supplier(ctx, id(s)?, None).await,
        (_, ["suppliers", s, "edit"]) => catalog::supplier_form(ctx, Some(id(s)?)).await,
        (&M::POST, ["suppliers", s, "prices"]) => catalog::supplier_price(ctx, id(s)?).await,

        (&M::GET, ["quotes"]) => sales::quotes(ctx).await,
        (_, ["quotes", "new"]) => sales::quote_new(ctx).await,
        (&M::GET, ["quotes", q]) => sales::quote(ctx, id(q)?, None).await,
        (&M::POST, ["quotes", q]) => sales::quote_save(ctx, id(q)?).await,
        (&M::POST, ["quotes", q, "add"]) => sales::quote_add(ctx, id(q)?).await,
        (&M::POST, ["quotes", q, action]) => sales::quote_action(ctx, id(q)?, action).await,
        (&M::GET, ["orders"]) => sales::orders(ctx).await,
        (&M::GET, ["orders", o]) => sales::order(ctx, id(o)?).await,
        (&M::POST, ["orders", o, "status"]) => sales::order_status(ctx, id(o)?).await,

        _ => Err(ApiError::not_found("page")),
    }
}
