//! `GET /tenant.json`: the public face of a tenant (name and branding) for its login page.

use http::StatusCode;

use crate::domain::tenant::Tenant;
use crate::http::{json, HttpResponse};

pub fn show(tenant: &Tenant) -> HttpResponse {
    json(StatusCode::OK, &serde_json::json!({ "slug": tenant.slug, "name": tenant.name, "branding": tenant.branding }))
}
