//! Tenant files: product images and the tenant's logo.
//!
//! An upload is accepted only when its content is a JPEG, PNG or WebP that decodes within
//! limits ([`infra::images`]); the original is stored privately and an event asks the engines
//! worker to make the WebP variants (thumbnail, card, full) — the request never resizes. Files
//! are served from keys derived from the host's tenant, so a tenant can only ever name its own
//! files. Product images need a signed-in user of the tenant; the logo is public (the login
//! page shows it). URLs carry `?v=<version>`, so files are cached for a year.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use uuid::Uuid;

use crate::auth::Principal;
use crate::catalog::images;
use crate::domain::tenant::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::http::{json, HttpResponse, Req};
use crate::state::AppState;
use infra::files::{FileKey, FileStore, Variant};

/// Requests whose body may be as large as `files.max_upload_bytes` (everything else is limited
/// to `vertical.max_body_bytes`).
pub fn is_upload(method: &Method, path: &str) -> bool {
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(
        (method, seg.as_slice()),
        (&Method::POST, ["api", "v1", "products", _, "images"])
            | (&Method::PUT, ["api", "v1", "branding", "logo"])
            | (&Method::POST, ["products", _, "image"])
            | (&Method::POST, ["branding"])
    )
}

/// For a UI upload path (`/products/{id}/image`, `/branding`), the page the form was on.
pub fn browser_upload_page(path: &str) -> Option<String> {
    match path.trim_matches('/').split('/').collect::<Vec<_>>().as_slice() {
        ["products", id, "image"] if Uuid::parse_str(id).is_ok() => Some(format!("/products/{id}/edit")),
        ["branding"] => Some("/branding".into()),
        _ => None,
    }
}

/// A UI upload over the size limit: back to its page with the reason (the JSON 413 is for the API).
pub fn too_large_for_browser(state: &AppState, path: &str) -> HttpResponse {
    let mut resp = crate::ui::layout::redirect(&browser_upload_page(path).unwrap_or_else(|| "/".into()));
    let message = crate::ui::text::EN.s("files.too_large");
    crate::ui::session::set_flash(state, &mut resp, &crate::ui::session::Flash::Refused(message.into()));
    resp
}

/// `POST /api/v1/products/{id}/images`: the image file as the request body (any media type:
/// the content decides). 202: the variants appear once the engines worker has made them.
#[utoipa::path(post, path = "/api/v1/products/{id}/images", tag = "products", params(("id" = Uuid, Path)),
    request_body(content = Vec<u8>, description = "JPEG, PNG or WebP, at most files.max_upload_bytes", content_type = "application/octet-stream"),
    responses((status = 202, body = images::ImageAccepted), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn upload_product_image(state: &AppState, tenant: &Tenant, who: &Principal, product: Uuid, req: &Req) -> ApiResult<HttpResponse> {
    let accepted = images::store_product_image(state, tenant, who, product, req.body.clone()).await?;
    Ok(json(StatusCode::ACCEPTED, &accepted))
}

/// `PUT /api/v1/branding/logo`: the logo file as the request body.
#[utoipa::path(put, path = "/api/v1/branding/logo", tag = "branding",
    request_body(content = Vec<u8>, description = "JPEG, PNG or WebP, at most files.max_upload_bytes", content_type = "application/octet-stream"),
    responses((status = 202, body = images::LogoAccepted), (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn upload_logo(state: &AppState, tenant: &Tenant, who: &Principal, req: &Req) -> ApiResult<HttpResponse> {
    let accepted = images::store_logo(state, tenant, who, req.body.clone()).await?;
    Ok(json(StatusCode::ACCEPTED, &accepted))
}

/// `GET /files/products/{id}/{variant}.webp` (signed-in users of the tenant) and
/// `GET /files/branding/logo.webp` (public).
pub async fn serve(state: &AppState, tenant: &Tenant, req: &Req, path: &[&str]) -> ApiResult<HttpResponse> {
    let (key, public) = match path {
        ["products", id, file] => {
            signed_in(state, tenant, req)?;
            let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found("file"))?;
            let variant = file.strip_suffix(".webp").and_then(Variant::parse).ok_or_else(|| ApiError::not_found("file"))?;
            (FileKey::product_variant(tenant.id, id, variant), false)
        }
        ["branding", "logo.webp"] => (FileKey::logo(tenant.id), true),
        _ => return Err(ApiError::not_found("file")),
    };
    let bytes = state.files.get(&key).await.map_err(|e| ApiError::Internal(format!("read file: {e}")))?.ok_or_else(|| ApiError::not_found("file"))?;
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/webp"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let cache = if public { "public, max-age=31536000, immutable" } else { "private, max-age=31536000, immutable" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(resp)
}

/// A bearer token or the session cookie of this tenant (reads need no CSRF header).
fn signed_in(state: &AppState, tenant: &Tenant, req: &Req) -> ApiResult<Principal> {
    match req.header("authorization") {
        Some(_) => Principal::authenticate(state, tenant, req),
        None => crate::ui::session::principal(state, tenant, req).ok_or_else(|| ApiError::unauthorized("authentication required")),
    }
}
