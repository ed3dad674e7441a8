//! gzip for text responses (pages, CSS, JS, JSON) when the client accepts it: a 12 KB page
//! becomes ~3 KB on a phone's connection. Small bodies are sent as they are (compression
//! would not pay for its header and CPU).

use std::io::Write;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::{header, HeaderMap, HeaderValue};
use http_body_util::{BodyExt, Full};

use crate::http::HttpResponse;

/// Below this many bytes responses are not compressed.
const MIN_BYTES: usize = 1024;

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|part| {
        let mut it = part.trim().split(';');
        let coding = it.next().unwrap_or("").trim();
        let refused = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn compressible(resp: &HttpResponse) -> bool {
    let ct = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    (ct.starts_with("text/") || ct.starts_with("application/json")) && !resp.headers().contains_key(header::CONTENT_ENCODING)
}

/// The response, gzipped when the request accepts it and it is worth it.
pub async fn maybe_gzip(request: &HeaderMap, resp: HttpResponse) -> HttpResponse {
    if !compressible(&resp) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    parts.headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if bytes.len() < MIN_BYTES || !accepts_gzip(request) {
        return HttpResponse::from_parts(parts, Full::new(bytes));
    }
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::fast());
    if enc.write_all(&bytes).is_err() {
        return HttpResponse::from_parts(parts, Full::new(bytes));
    }
    match enc.finish() {
        Ok(gz) => {
            parts.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            parts.headers.remove(header::CONTENT_LENGTH);
            HttpResponse::from_parts(parts, Full::new(Bytes::from(gz)))
        }
        Err(_) => HttpResponse::from_parts(parts, Full::new(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(accepts_gzip(&h("gzip, deflate, br")));
        assert!(accepts_gzip(&h("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(&h("gzip;q=0, br")));
        assert!(!accepts_gzip(&h("br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
