//! The OpenAPI 3 document of the whole API, generated from the handlers' annotations and the
//! request/response types themselves (utoipa), served at `GET /api/openapi.json`.

use std::sync::OnceLock;

use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes;

/// Every error response: `{"error":{"code","message","field"?}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`, `quote_not_approved`.
    pub code: String,
    pub message: String,
    /// The offending field (`items[0].quantity`), when there is one.
    pub field: Option<String>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "basecommerce construction API", description = "A construction-materials dealer's API, per tenant. \
        Reach it at https://<tenant>.<domain>; tokens are valid only on their own tenant."),
    modifiers(&BearerAuth),
    paths(
        routes::auth::login, routes::auth::refresh, routes::auth::logout, routes::auth::me,
        routes::users::list, routes::users::create, routes::users::update,
        routes::clients::list, routes::clients::create, routes::clients::get, routes::clients::update, routes::clients::delete,
        routes::sites::list, routes::sites::create, routes::sites::get, routes::sites::update, routes::sites::delete,
        routes::products::list, routes::products::create, routes::products::get, routes::products::update, routes::products::deactivate,
        routes::files::upload_product_image, routes::files::upload_logo,
        routes::quotes::list, routes::quotes::create, routes::quotes::get, routes::quotes::replace, routes::quotes::transition,
        routes::orders::list, routes::orders::from_quote, routes::orders::get, routes::orders::update,
        routes::stock::levels, routes::stock::movements, routes::stock::receipt, routes::stock::adjustment,
        routes::suppliers::list, routes::suppliers::create, routes::suppliers::get, routes::suppliers::update, routes::suppliers::deactivate,
        routes::suppliers::set_price, routes::suppliers::prices,
        routes::dashboard::show,
        routes::insights::stock_alerts, routes::insights::replenishment, routes::insights::sales_suggestions,
        routes::insights::complementary, routes::insights::supplier_price_alerts, routes::insights::delivery_routes,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

/// The document as JSON, rendered once.
pub fn openapi_json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
}
