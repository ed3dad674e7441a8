//! The UI's stylesheet and script, compiled into the binary and served under names that carry
//! a hash of their content (`/static/app.3f2a….css`): browsers may cache them for a year
//! because a new build with new content has a new name.

use std::sync::LazyLock;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use sha2::{Digest, Sha256};

use crate::http::HttpResponse;

/// A static file and its versioned name.
pub struct Asset {
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    body: &'static str,
    name: LazyLock<String>,
}

impl Asset {
    /// The URL pages link to.
    pub fn url(&self) -> String {
        format!("/static/{}", *self.name)
    }
}

fn versioned(stem: &str, ext: &str, body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    format!("{stem}.{}.{ext}", &hex::encode(digest)[..12])
}

pub static CSS: Asset = Asset {
    stem: "app",
    ext: "css",
    content_type: "text/css; charset=utf-8",
    body: include_str!("../../assets/app.css"),
    name: LazyLock::new(|| versioned("app", "css", include_str!("../../assets/app.css"))),
};

pub static JS: Asset = Asset {
    stem: "app",
    ext: "js",
    content_type: "text/javascript; charset=utf-8",
    body: include_str!("../../assets/app.js"),
    name: LazyLock::new(|| versioned("app", "js", include_str!("../../assets/app.js"))),
};

/// `GET /static/<name>`: the asset whose current versioned name this is (404 otherwise, so an
/// old name never serves new content under a year-long cache).
pub fn serve(name: &str) -> Option<HttpResponse> {
    let asset = [&CSS, &JS].into_iter().find(|a| *a.name == name && name.starts_with(a.stem) && name.ends_with(a.ext))?;
    let mut resp = Response::new(Full::new(Bytes::from_static(asset.body.as_bytes())));
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Some(resp)
}

/// `GET /brand.css`: the tenant's colours as CSS variables (a file, not inline styles, so the
/// CSP can forbid inline styles). Colours are re-validated here: only `#rgb`/`#rrggbb`.
pub fn brand_css(tenant: &crate::domain::tenant::Tenant) -> HttpResponse {
    let ok = |c: &Option<String>| {
        c.as_deref().filter(|c| (c.len() == 4 || c.len() == 7) && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())).map(str::to_owned)
    };
    let mut css = String::from(":root{");
    if let Some(c) = ok(&tenant.branding.primary_color) {
        css.push_str(&format!("--brand:{c};"));
    }
    if let Some(c) = ok(&tenant.branding.secondary_color) {
        css.push_str(&format!("--brand2:{c};"));
    }
    css.push('}');
    let mut resp = Response::new(Full::new(Bytes::from(css)));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    resp
}
