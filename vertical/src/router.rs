//! Request routing: the whole URL space of the vertical, read top to bottom.
//!
//! `/health*` is open; everything else needs the edge secret and a known, active tenant;
//! `/api/v1/*` and `/auth/me` also need a token of that tenant. The JSON API's handlers live in
//! [`crate::routes`], the browser UI's pages in [`crate::ui`]; neither knows the other.

use http::Method;

use crate::auth::Principal;
use crate::domain::tenant::Tenant;
use crate::edge::{check_edge_secret, resolve_tenant};
use crate::error::{ApiError, ApiResult};
use crate::http::{path_uuid, HttpResponse, Req};
use crate::routes::*;
use crate::sales::quotes::QuoteAction;
use crate::state::AppState;

/// Routes one request; every error becomes its JSON response here.
pub async fn handle(state: &AppState, req: &Req) -> HttpResponse {
    if let Some(answer) = cors::preflight(state, req) {
        return answer;
    }
    let mut resp = match route(state, req).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    };
    cors::decorate(state, req, &mut resp);
    crate::compress::maybe_gzip(&req.headers, resp).await
}

async fn route(state: &AppState, req: &Req) -> ApiResult<HttpResponse> {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (&req.method, segments.as_slice()) {
        (&Method::GET, ["health"]) => return Ok(health::live()),
        (&Method::GET, ["health", "ready"]) => return Ok(health::ready(state).await),
        _ => {}
    }

    check_edge_secret(state, req)?;
    if let (&Method::GET, ["static", name]) = (&req.method, segments.as_slice()) {
        return crate::ui::assets::serve(name).ok_or_else(|| ApiError::not_found("file"));
    }
    let tenant = resolve_tenant(state, req).await?;
    tracing::Span::current().record("tenant", tenant.slug.as_str());

    match (&req.method, segments.as_slice()) {
        (&Method::GET, ["tenant.json"]) => Ok(tenant::show(&tenant)),
        (&Method::GET, ["files", rest @ ..]) => files::serve(state, &tenant, req, rest).await,
        (&Method::GET, ["api", "openapi.json"]) => Ok(crate::http::raw_json(crate::docs::openapi_json())),
        // The sign-in form posts here too, so the edge's stricter login rate limit covers it.
        (&Method::POST, ["auth", "login"]) if crate::ui::is_form_post(req) => Ok(crate::ui::sign_in(state, &tenant, req).await),
        (&Method::POST, ["auth", "login"]) => auth::login(state, &tenant, req).await,
        (&Method::POST, ["auth", "refresh"]) => auth::refresh(state, &tenant, req).await,
        (&Method::POST, ["auth", "logout"]) => auth::logout(state, &tenant, req).await,
        (&Method::GET, ["auth", "me"]) => {
            let who = Principal::authenticate(state, &tenant, req)?;
            auth::me(state, &tenant, &who).await
        }
        (_, ["api", "v1", rest @ ..]) => {
            let who = Principal::authenticate(state, &tenant, req)?;
            api_v1(state, &tenant, &who, req, rest).await
        }
        (_, ["api", ..]) => no_route(req),
        // A documented API path asked with another method: 405, not a page.
        _ if crate::docs::declared_methods(&req.path).is_some() => no_route(req),
        // Everything else is the browser UI (HTML pages, their own errors included).
        _ => Ok(crate::ui::route(state, &tenant, req, &segments).await),
    }
}

/// `/api/v1/*`. Admins manage users, products, suppliers and stock (checked in those handlers);
/// sellers and admins manage clients, sites, quotes and orders; both read everything.
async fn api_v1(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req, path: &[&str]) -> ApiResult<HttpResponse> {
    use Method as M;
    let id = |s: &str| path_uuid(s, "id");
    match (&req.method, path) {
        (&M::GET, ["dashboard"]) => dashboard::show(state, tenant).await,

        (&M::GET, ["users"]) => users::list(state, tenant, who, req).await,
        (&M::POST, ["users"]) => users::create(state, tenant, who, req).await,
        (&M::PATCH, ["users", u]) => users::update(state, tenant, who, id(u)?, req).await,

        (&M::GET, ["clients"]) => clients::list(state, tenant, req).await,
        (&M::POST, ["clients"]) => clients::create(state, tenant, req).await,
        (&M::GET, ["clients", c]) => clients::get(state, tenant, id(c)?).await,
        (&M::PATCH, ["clients", c]) => clients::update(state, tenant, id(c)?, req).await,
        (&M::DELETE, ["clients", c]) => clients::delete(state, tenant, who, id(c)?).await,

        (&M::GET, ["sites"]) => sites::list(state, tenant, req).await,
        (&M::POST, ["sites"]) => sites::create(state, tenant, req).await,
        (&M::GET, ["sites", s]) => sites::get(state, tenant, id(s)?).await,
        (&M::PATCH, ["sites", s]) => sites::update(state, tenant, id(s)?, req).await,
        (&M::DELETE, ["sites", s]) => sites::delete(state, tenant, id(s)?).await,

        (&M::GET, ["products"]) => products::list(state, tenant, req).await,
        (&M::POST, ["products"]) => products::create(state, tenant, who, req).await,
        (&M::GET, ["products", p]) => products::get(state, tenant, id(p)?).await,
        (&M::PATCH, ["products", p]) => products::update(state, tenant, who, id(p)?, req).await,
        (&M::DELETE, ["products", p]) => products::deactivate(state, tenant, who, id(p)?).await,
        (&M::POST, ["products", p, "images"]) => files::upload_product_image(state, tenant, who, id(p)?, req).await,
        (&M::PUT, ["branding", "logo"]) => files::upload_logo(state, tenant, who, req).await,

        (&M::GET, ["quotes"]) => quotes::list(state, tenant, req).await,
        (&M::POST, ["quotes"]) => quotes::create(state, tenant, who, req).await,
        (&M::GET, ["quotes", q]) => quotes::get(state, tenant, id(q)?).await,
        (&M::PUT, ["quotes", q]) => quotes::replace(state, tenant, id(q)?, req).await,
        (&M::POST, ["quotes", q, "send"]) => quotes::transition(state, tenant, id(q)?, QuoteAction::Send).await,
        (&M::POST, ["quotes", q, "approve"]) => quotes::transition(state, tenant, id(q)?, QuoteAction::Approve).await,
        (&M::POST, ["quotes", q, "cancel"]) => quotes::transition(state, tenant, id(q)?, QuoteAction::Cancel).await,

        (&M::GET, ["orders"]) => orders::list(state, tenant, req).await,
        (&M::POST, ["orders", "from-quote", q]) => orders::from_quote(state, tenant, path_uuid(q, "quote_id")?).await,
        (&M::GET, ["orders", o]) => orders::get(state, tenant, id(o)?).await,
        (&M::PATCH, ["orders", o]) => orders::update(state, tenant, id(o)?, req).await,

        (&M::GET, ["stock"]) => stock::levels(state, tenant, req).await,
        (&M::GET, ["stock", "movements"]) => stock::movements(state, tenant, req).await,
        (&M::POST, ["stock", "receipts"]) => stock::receipt(state, tenant, who, req).await,
        (&M::POST, ["stock", "adjustments"]) => stock::adjustment(state, tenant, who, req).await,

        (&M::GET, ["suppliers"]) => suppliers::list(state, tenant, req).await,
        (&M::POST, ["suppliers"]) => suppliers::create(state, tenant, who, req).await,
        (&M::GET, ["suppliers", s]) => suppliers::get(state, tenant, id(s)?).await,
        (&M::PATCH, ["suppliers", s]) => suppliers::update(state, tenant, who, id(s)?, req).await,
        (&M::DELETE, ["suppliers", s]) => suppliers::deactivate(state, tenant, who, id(s)?).await,
        (&M::GET, ["suppliers", s, "prices"]) => suppliers::prices(state, tenant, id(s)?).await,
        (&M::POST, ["suppliers", s, "prices"]) => suppliers::set_price(state, tenant, who, id(s)?, req).await,

        (&M::GET, ["insights", "stock-alerts"]) => insights::stock_alerts(state, tenant).await,
        (&M::GET, ["insights", "replenishment"]) => insights::replenishment(state, tenant).await,
        (&M::GET, ["insights", "sales-suggestions"]) => insights::sales_suggestions(state, tenant).await,
        (&M::GET, ["insights", "complementary", p]) => insights::complementary(state, tenant, path_uuid(p, "product_id")?).await,
        (&M::GET, ["insights", "supplier-price-alerts"]) => insights::supplier_price_alerts(state, tenant).await,
        (&M::GET, ["insights", "delivery-routes"]) => insights::delivery_routes(state, tenant).await,

        _ => no_route(req),
    }
}

/// 405 with `Allow` for a known path asked with another method, else 404.
fn no_route(req: &Req) -> ApiResult<HttpResponse> {
    match crate::docs::declared_methods(&req.path) {
        Some(allowed) if !allowed.contains(&req.method.as_str()) => Err(ApiError::MethodNotAllowed { allow: allowed.join(", ") }),
        _ => Err(ApiError::NotFound(format!("no route for {} {}", req.method, req.path))),
    }
}
