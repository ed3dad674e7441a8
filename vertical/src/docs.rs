//! The OpenAPI 3 document of the whole API, generated from the handlers' annotations and the
//! request/response types themselves (utoipa), served at `GET /api/openapi.json`.

use std::sync::OnceLock;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

pub use crate::error::{ErrorBody, ErrorDetail};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// Error statuses any operation can answer with the same `ErrorBody`, declared once here
/// instead of on every handler (schemathesis checks that each observed status is documented).
struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
                .build()
        };
        let always = [
            ("400", "Malformed request (query, path or body)"),
            ("401", "Missing, expired or invalid token, or a token of another tenant"),
            ("403", "Not allowed for this role, or the request did not come through the edge"),
            ("404", "No such resource in this tenant (or no such tenant)"),
            ("503", "A dependency (database) is unavailable; retry later"),
        ];
        let with_body = [
            ("409", "Conflicts with the current state (a duplicate, or a status that does not allow it)"),
            ("413", "Request body too large"),
            ("415", "Body is not application/json"),
            ("422", "Validation failed (see error.field)"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for (has_body, op) in ops.into_iter().enumerate().filter_map(|(i, op)| op.as_mut().map(|op| (i != 0 && i != 3, op))) {
                let extra: &[(&str, &str)] = if has_body { &with_body } else { &[] };
                for (status, description) in always.iter().chain(extra) {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "basecommerce construction API", description = "A construction-materials dealer's API, per tenant. \
        Reach it at https://<tenant>.<domain>; tokens are valid only on their own tenant."),
    modifiers(&BearerAuth, &CommonErrors),
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

/// The methods the document declares for a concrete path (`/api/v1/clients/<uuid>` matches
/// `/api/v1/clients/{id}`), so a known path asked with another method gets 405 and `Allow`
/// instead of 404. The document is the route table's public face; this keeps the two honest.
pub fn declared_methods(path: &str) -> Option<Vec<&'static str>> {
    static TABLE: OnceLock<Vec<(Vec<String>, Vec<&'static str>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(pattern, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ];
                (pattern.trim_matches('/').split('/').map(str::to_owned).collect(), methods.into_iter().filter(|m| m.1).map(|m| m.0).collect())
            })
            .collect()
    });
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut allowed: Vec<&'static str> = table
        .iter()
        .filter(|(pattern, _)| pattern.len() == segments.len() && pattern.iter().zip(&segments).all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty())))
        .flat_map(|(_, methods)| methods.iter().copied())
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    (!allowed.is_empty()).then_some(allowed)
}
