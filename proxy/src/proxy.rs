//! The edge as a Pingora `ProxyHttp`. Phases, top to bottom:
//! 1. `request_filter`: client IP, request id, `/health`, HTTP→HTTPS, rate limits, then the host
//!    decides: platform page, unknown (404) or suspended (403) answered here without touching the
//!    upstream, or an active tenant that goes on.
//! 2. `upstream_peer`: a healthy vertical, round-robin (503 when none).
//! 3. `upstream_request_filter`: whatever the client claimed about tenant, edge secret or
//!    forwarding is removed; the edge's own values are set.
//! 4. `response_filter`: security headers the vertical did not set.
//! 5. `fail_to_connect` / `fail_to_proxy`: retry idempotent requests elsewhere; a branded 502/503/504.
//! 6. `logging`: one JSON access-log line and the metrics.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use pingora::lb::{selection::RoundRobin, LoadBalancer};
use pingora::prelude::*;
use pingora::proxy::FailToProxy;

use crate::host::{HostRouter, Route};
use crate::metrics;
use crate::pages::{self, Page};
use crate::ratelimit::Limits;
use crate::tenants::{TenantResolver, TenantState};
use infra::TenantSlug;

/// Header carrying the shared edge secret to the vertical.
pub const EDGE_SECRET_HEADER: &str = "x-basecommerce-edge";
/// Headers a client must never be able to set on the vertical's side.
const SPOOFABLE: &[&str] = &["x-tenant-slug", EDGE_SECRET_HEADER, "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded"];

/// Header names and fixed values parsed once, not on every request (parsing names showed up
/// in the edge's callgrind profile).
mod hdr {
    use http::{HeaderName, HeaderValue};
    pub const TENANT_SLUG: HeaderName = HeaderName::from_static("x-tenant-slug");
    pub const EDGE_SECRET: HeaderName = HeaderName::from_static(super::EDGE_SECRET_HEADER);
    pub const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    pub const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    pub const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
    pub const HSTS: HeaderName = HeaderName::from_static("strict-transport-security");
    pub const HTTPS: HeaderValue = HeaderValue::from_static("https");
    pub const HTTP: HeaderValue = HeaderValue::from_static("http");
    pub const HSTS_VALUE: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");
    pub const DEFAULTS: [(HeaderName, HeaderValue); 3] = [
        (HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff")),
        (HeaderName::from_static("x-frame-options"), HeaderValue::from_static("SAMEORIGIN")),
        (HeaderName::from_static("referrer-policy"), HeaderValue::from_static("strict-origin-when-cross-origin")),
    ];
}

/// Per-request state.
pub struct Ctx {
    started: Instant,
    request_id: String,
    client_ip: Option<IpAddr>,
    tenant: Option<TenantSlug>,
    host: String,
    tls: bool,
    tries: usize,
    upstream: Option<String>,
    /// Upstreams this request could not connect to: its retries go elsewhere.
    failed: Vec<String>,
    upstream_started: Option<Instant>,
}

/// The edge's configuration and shared parts.
pub struct EdgeProxy {
    pub router: HostRouter,
    pub tenants: Arc<TenantResolver>,
    pub upstreams: Arc<LoadBalancer<RoundRobin>>,
    pub limits: Arc<Limits>,
    /// Parsed once at start-up (validated as a header value there).
    pub edge_secret: http::HeaderValue,
    pub trusted: Vec<(IpAddr, u8)>,
    pub tls_enabled: bool,
    pub redirect_http: bool,
    pub retries: usize,
    pub landing_redirect: Option<String>,
    pub platform: String,
    /// HTTP-01 tokens being answered for the CA (empty when ACME is off).
    pub answers: Arc<crate::acme::challenge::Http01Answers>,
}

fn in_cidr(ip: IpAddr, (net, bits): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = bits.min(32) as u32;
            bits == 0 || (u32::from(a) >> (32 - bits)) == (u32::from(b) >> (32 - bits))
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = bits.min(128) as u32;
            bits == 0 || (u128::from(a) >> (128 - bits)) == (u128::from(b) >> (128 - bits))
        }
        _ => false,
    }
}

/// Parses `proxy.trusted_proxies` (already validated at start-up).
pub fn parse_trusted(list: &[String]) -> Vec<(IpAddr, u8)> {
    list.iter()
        .filter_map(|p| {
            let (ip, bits) = p.split_once('/').unwrap_or((p, ""));
            let ip: IpAddr = ip.parse().ok()?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            Some((ip, bits.parse().unwrap_or(max)))
        })
        .collect()
}

fn valid_request_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl EdgeProxy {
    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| in_cidr(ip, *n))
    }

    /// The socket peer, unless it is a trusted proxy: then the right-most untrusted address of
    /// `X-Forwarded-For` (the left part is whatever the client wrote).
    fn client_ip(&self, session: &Session) -> Option<IpAddr> {
        let peer = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip())?;
        if !self.trusted(peer) {
            return Some(peer);
        }
        let xff = session.req_header().headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or("");
        let chain: Vec<IpAddr> = xff.split(',').filter_map(|s| s.trim().parse().ok()).collect();
        chain.iter().rev().find(|ip| !self.trusted(**ip)).copied().or(Some(peer))
    }

    async fn respond(&self, session: &mut Session, ctx: &Ctx, status: u16, page: Page, extra: &[(&'static str, String)]) -> Result<bool> {
        let body = Bytes::from(page.body);
        let mut resp = ResponseHeader::build(status, Some(8))?;
        resp.insert_header(http::header::CONTENT_TYPE, page.content_type)?;
        resp.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
        for (k, v) in extra {
            resp.insert_header(*k, v.as_str())?;
        }
        self.security_headers(&mut resp, ctx)?;
        session.write_response_header(Box::new(resp), false).await?;
        session.write_response_body(Some(body), true).await?;
        Ok(true)
    }

    fn security_headers(&self, resp: &mut ResponseHeader, ctx: &Ctx) -> Result<()> {
        for (k, v) in hdr::DEFAULTS {
            if !resp.headers.contains_key(&k) {
                resp.insert_header(k, v)?;
            }
        }
        if ctx.tls && !resp.headers.contains_key(&hdr::HSTS) {
            resp.insert_header(hdr::HSTS, hdr::HSTS_VALUE)?;
        }
        resp.insert_header(hdr::REQUEST_ID, ctx.request_id.as_str())?;
        Ok(())
    }

    fn error_page(&self, session: &Session, code: &str, title: &str, message: &str) -> Page {
        let accept = session.req_header().headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
        pages::error(pages::wants_json(accept), &self.platform, code, title, message)
    }
}

#[async_trait]
impl ProxyHttp for EdgeProxy {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            started: Instant::now(),
            request_id: String::new(),
            client_ip: None,
            tenant: None,
            host: String::new(),
            tls: false,
            tries: 0,
            upstream: None,
            failed: Vec::new(),
            upstream_started: None,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        ctx.tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        ctx.client_ip = self.client_ip(session);
        let req = session.req_header();
        ctx.request_id = req
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| valid_request_id(v))
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        ctx.host = req
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| req.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned))
            .unwrap_or_default();
        let path = req.uri.path().to_owned();
        let is_login = req.method == http::Method::POST && path == "/auth/login";

        if path == "/health" {
            let page = Page { content_type: "application/json", body: r#"{"status":"ok","edge":true}"#.into() };
            return self.respond(session, ctx, 200, page, &[]).await;
        }
        if let Some(token) = path.strip_prefix("/.well-known/acme-challenge/") {
            // Answered on plain HTTP before any redirect or tenant check: the CA is neither a
            // browser nor a tenant's customer.
            if let Some(key_authorization) = self.answers.answer(token).await {
                let page = Page { content_type: "text/plain", body: key_authorization };
                return self.respond(session, ctx, 200, page, &[]).await;
            }
            let page = self.error_page(session, "not_found", "Not found", "No such challenge.");
            return self.respond(session, ctx, 404, page, &[]).await;
        }
        if self.tls_enabled && self.redirect_http && !ctx.tls {
            let host = crate::host::normalize(&ctx.host).unwrap_or_default();
            let pq = session.req_header().uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
            let page = Page { content_type: "text/plain", body: String::new() };
            return self.respond(session, ctx, 301, page, &[("location", format!("https://{host}{pq}"))]).await;
        }
        if let Some(ip) = ctx.client_ip {
            if let Err(refused) = self.limits.check(ip, is_login) {
                metrics::RATE_LIMITED.inc();
                let secs = refused.0.as_secs().max(1);
                let page = self.error_page(session, "rate_limited", "Slow down", "Too many requests from your address; try again shortly.");
                return self.respond(session, ctx, 429, page, &[("retry-after", secs.to_string())]).await;
            }
        }

        let looked_up = match self.router.route(&ctx.host) {
            Route::Platform => {
                if let Some(url) = &self.landing_redirect {
                    let page = Page { content_type: "text/plain", body: String::new() };
                    return self.respond(session, ctx, 302, page, &[("location", url.clone())]).await;
                }
                return self.respond(session, ctx, 200, pages::landing(&self.platform), &[]).await;
            }
            Route::Invalid => Ok(TenantState::Unknown),
            Route::Tenant(slug) => self.tenants.by_slug(&slug).await,
            Route::CustomDomain(host) => self.tenants.by_domain(&host).await,
        };
        let state = match looked_up {
            Ok(state) => state,
            Err(e) => {
                // The database is away (a restart, a failover): the store exists as far as
                // anyone knows, so say "try again" rather than "no such store" — a 404 would
                // tell browsers, crawlers and API clients that the store is gone.
                tracing::error!(error = %e, "tenant lookup failed");
                let page = self.error_page(session, "upstream_unavailable", "Temporarily unavailable", "The store is restarting or overloaded; try again in a moment.");
                return self.respond(session, ctx, 503, page, &[("retry-after", "1".to_string())]).await;
            }
        };
        match state {
            TenantState::Active(slug) => {
                ctx.tenant = Some(slug);
                Ok(false)
            }
            TenantState::Suspended(slug) => {
                ctx.tenant = Some(slug);
                let page = self.error_page(session, "tenant_suspended", "Store unavailable", "This store is suspended. Please contact its owner.");
                self.respond(session, ctx, 403, page, &[]).await
            }
            TenantState::Unknown => {
                let page = self.error_page(session, "tenant_not_found", "Store not found", "There is no store at this address.");
                self.respond(session, ctx, 404, page, &[]).await
            }
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        // A retry skips the upstreams that already refused this request. Round robin alone
        // does not: under concurrent load the counter moves between tries, and the soak test
        // saw GETs tried three times on the same just-killed vertical (502) while another was up.
        let failed = &ctx.failed;
        let selected = if failed.is_empty() {
            self.upstreams.select(b"", 256)
        } else {
            self.upstreams
                .select_with(b"", 256, |b, healthy| healthy && !failed.iter().any(|f| *f == b.addr.to_string()))
                // Every healthy upstream failed once already: try them again rather than give up.
                .or_else(|| self.upstreams.select(b"", 256))
        };
        let Some(backend) = selected else {
            return Error::e_explain(HTTPStatus(503), "no healthy upstream");
        };
        ctx.upstream = Some(backend.addr.to_string());
        ctx.upstream_started = Some(Instant::now());
        let mut peer = HttpPeer::new(backend, false, String::new());
        peer.options.connection_timeout = Some(Duration::from_secs(2));
        peer.options.total_connection_timeout = Some(Duration::from_secs(3));
        peer.options.read_timeout = Some(Duration::from_secs(60));
        peer.options.write_timeout = Some(Duration::from_secs(60));
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        Ok(Box::new(peer))
    }

    /// A connection that could not be made carried nothing of the request, so any method (a
    /// POST too) is safe to send to another upstream; the soak test saw writes answered 502
    /// while a vertical restarted and another was up. Errors after the connection exist go to
    /// pingora's `error_while_proxy`, which retries only idempotent requests.
    fn fail_to_connect(&self, _session: &mut Session, _peer: &HttpPeer, ctx: &mut Ctx, mut e: Box<Error>) -> Box<Error> {
        if let Some(upstream) = &ctx.upstream {
            ctx.failed.push(upstream.clone());
        }
        if ctx.tries < self.retries {
            ctx.tries += 1;
            e.set_retry(true);
        }
        e
    }

    async fn upstream_request_filter(&self, session: &mut Session, upstream: &mut RequestHeader, ctx: &mut Ctx) -> Result<()> {
        for h in SPOOFABLE {
            upstream.remove_header(*h);
        }
        if let Some(slug) = &ctx.tenant {
            upstream.insert_header(hdr::TENANT_SLUG, slug.as_str())?;
        }
        upstream.insert_header(hdr::EDGE_SECRET, self.edge_secret.clone())?;
        if let Some(ip) = ctx.client_ip {
            upstream.insert_header(hdr::FORWARDED_FOR, ip.to_string())?;
        }
        upstream.insert_header(hdr::FORWARDED_PROTO, if ctx.tls { hdr::HTTPS } else { hdr::HTTP })?;
        if !ctx.host.is_empty() {
            upstream.insert_header(hdr::FORWARDED_HOST, ctx.host.as_str())?;
        }
        upstream.insert_header(hdr::REQUEST_ID, ctx.request_id.as_str())?;
        let _ = session;
        Ok(())
    }

    async fn response_filter(&self, _session: &mut Session, upstream: &mut ResponseHeader, ctx: &mut Ctx) -> Result<()> {
        if let Some(t) = ctx.upstream_started {
            metrics::UPSTREAM_SECONDS.observe(t.elapsed().as_secs_f64());
        }
        self.security_headers(upstream, ctx)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let code = match e.etype() {
            HTTPStatus(c) => *c,
            _ => match e.esource() {
                ErrorSource::Upstream => 502,
                ErrorSource::Downstream => match e.etype() {
                    WriteError | ReadError | ConnectionClosed => 0,
                    _ => 400,
                },
                _ => 500,
            },
        };
        if code > 0 {
            // The connection is not reused after this (`can_reuse_downstream: false`): say so,
            // or a keep-alive client sends its next request into the closing connection (the
            // soak test saw re-reads after a 502 fail that way).
            session.set_keepalive(None);
            let (title, message) = match code {
                503 => ("Temporarily unavailable", "The store is restarting or overloaded; try again in a moment."),
                504 => ("Timed out", "The store took too long to answer; try again."),
                502 => ("Bad gateway", "The store could not be reached; try again in a moment."),
                _ => ("Request failed", "The request could not be completed."),
            };
            let page = self.error_page(session, "upstream_unavailable", title, message);
            if let Err(err) = self.respond(session, ctx, code, page, &[]).await {
                tracing::debug!(error = %err, "could not write the error page");
            }
        }
        FailToProxy { error_code: code, can_reuse_downstream: false }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Ctx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let tenant = ctx.tenant.as_ref().map_or("-", |t| t.as_str());
        // `StatusCode::as_str` is a static string: no allocation per request for the label.
        let status_code = http::StatusCode::from_u16(status).ok();
        let code = status_code.as_ref().map_or("0", http::StatusCode::as_str);
        metrics::REQUESTS.with_label_values(&[tenant, code]).inc();
        let req = session.req_header();
        tracing::info!(
            target: "access",
            tenant,
            request_id = %ctx.request_id,
            host = %ctx.host,
            method = %req.method,
            path = req.uri.path(),
            status,
            bytes = session.body_bytes_sent(),
            ms = ctx.started.elapsed().as_secs_f64() * 1000.0,
            upstream = ctx.upstream.as_deref().unwrap_or("-"),
            client_ip = %ctx.client_ip.map_or_else(|| "-".to_string(), |i| i.to_string()),
            error = e.map(|e| e.to_string()).as_deref().unwrap_or(""),
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_membership() {
        let net = parse_trusted(&["10.10.0.0/16".into(), "192.0.2.7".into()]);
        assert!(in_cidr("10.10.3.4".parse().unwrap(), net[0]));
        assert!(!in_cidr("10.11.0.1".parse().unwrap(), net[0]));
        assert!(in_cidr("192.0.2.7".parse().unwrap(), net[1]));
        assert!(!in_cidr("192.0.2.8".parse().unwrap(), net[1]));
        assert!(!in_cidr("::1".parse().unwrap(), net[0]));
    }

    #[test]
    fn request_ids() {
        assert!(valid_request_id("abc-123_X"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(&"a".repeat(65)));
    }
}
