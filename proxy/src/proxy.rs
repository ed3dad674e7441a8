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
use http::{HeaderName, HeaderValue};
use pingora::lb::{selection::RoundRobin, LoadBalancer};
use pingora::prelude::*;
use pingora::proxy::FailToProxy;

use crate::connlimit::{ConnectionSlot, ConnectionSlots};
use crate::host::{HostRouter, Route};
use crate::metrics;
use crate::pages::{self, Page};
use crate::ratelimit::Limits;
use crate::tenants::{TenantResolver, TenantState};
use infra::TenantSlug;

/// Header names and fixed values parsed once, not on every request (parsing names showed up
/// in the edge's callgrind profile).
mod hdr {
    use http::{HeaderName, HeaderValue};
    pub const TENANT_SLUG: HeaderName = HeaderName::from_static(infra::edge::TENANT_SLUG_HEADER);
    pub const EDGE_SECRET: HeaderName = HeaderName::from_static(infra::edge::EDGE_SECRET_HEADER);
    pub const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    pub const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    pub const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    pub const REQUEST_ID: HeaderName = HeaderName::from_static(infra::edge::REQUEST_ID_HEADER);
    pub const REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
    /// Headers a client must never be able to set on the vertical's side.
    pub const SPOOFABLE: [HeaderName; 7] = [TENANT_SLUG, EDGE_SECRET, FORWARDED_FOR, FORWARDED_PROTO, FORWARDED_HOST, REAL_IP, http::header::FORWARDED];
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
    /// Kept as a header value: it is sent up and down, and a client's valid id is reused as is.
    request_id: http::HeaderValue,
    client_ip: Option<IpAddr>,
    tenant: Option<TenantSlug>,
    host: String,
    tls: bool,
    tries: usize,
    upstream: Option<pingora::protocols::l4::socket::SocketAddr>,
    /// Upstreams this request could not connect to: its retries go elsewhere.
    failed: Vec<pingora::protocols::l4::socket::SocketAddr>,
    upstream_started: Option<Instant>,
    /// This connection's place in its IP's connection count, carried across keep-alive requests.
    slot: Option<Arc<ConnectionSlot>>,
}

/// The edge's configuration and shared parts.
pub struct EdgeProxy {
    pub router: HostRouter,
    pub tenants: Arc<TenantResolver>,
    pub upstreams: Arc<LoadBalancer<RoundRobin>>,
    pub limits: Arc<Limits>,
    pub connections: Arc<ConnectionSlots>,
    /// Idle keep-alive connections close after this many seconds (Pingora keeps them forever).
    pub keepalive_secs: u64,
    /// Longest wait for more bytes of a request from the client.
    pub client_read_timeout: Duration,
    /// Longest time a client may take to send a whole request.
    pub request_deadline: Duration,
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

/// The header edits of the edge, applied to a plain `http` header map (the usual case, see
/// `edit_request`) or through pingora's case-preserving headers (the rare rest).
trait HeaderEdit {
    fn has(&self, name: &HeaderName) -> bool;
    fn drop_header(&mut self, name: &HeaderName);
    fn set(&mut self, name: HeaderName, value: HeaderValue) -> Result<()>;
}

impl HeaderEdit for http::HeaderMap {
    fn has(&self, name: &HeaderName) -> bool {
        self.contains_key(name)
    }
    fn drop_header(&mut self, name: &HeaderName) {
        self.remove(name);
    }
    fn set(&mut self, name: HeaderName, value: HeaderValue) -> Result<()> {
        self.insert(name, value);
        Ok(())
    }
}

/// Pingora's own headers: every edit goes through both of its maps.
macro_rules! pingora_header_edit {
    ($($t:ty),*) => {$(
        impl HeaderEdit for $t {
            fn has(&self, name: &HeaderName) -> bool {
                self.headers.contains_key(name)
            }
            fn drop_header(&mut self, name: &HeaderName) {
                self.remove_header(name);
            }
            fn set(&mut self, name: HeaderName, value: HeaderValue) -> Result<()> {
                self.insert_header(name, value)
            }
        }
    )*};
}
pingora_header_edit!(RequestHeader, ResponseHeader);

/// Edits a request's headers as plain `http` parts. Pingora keeps a second map beside `http`'s
/// to preserve the case of each header name, and each of its inserts re-parses the name and
/// updates both maps: in callgrind that was most of the edge's own instructions per request.
/// Header case means nothing in HTTP, so the parts are taken out, edited in their one map and
/// put back (names then go out lower-case, as HTTP/2 sends them anyway). A request-target
/// pingora keeps verbatim because its URI cannot reproduce it (non-UTF-8 bytes, absolute
/// form) would not survive that round trip; such requests are edited in place.
fn edit_request(h: &mut RequestHeader, edit: impl FnOnce(&mut dyn HeaderEdit) -> Result<()>) -> Result<()> {
    let round_trips = h.uri.path_and_query().is_some_and(|pq| pq.as_str().as_bytes() == h.raw_path());
    if !round_trips {
        return edit(h);
    }
    let placeholder = RequestHeader::build_no_case(http::Method::GET, b"/", Some(0))?;
    let mut parts: http::request::Parts = std::mem::replace(h, placeholder).into();
    let result = edit(&mut parts.headers);
    *h = RequestHeader::from(parts);
    result
}

/// The same for a response; one with a non-standard reason phrase (which the parts cannot
/// carry) is edited in place.
fn edit_response(h: &mut ResponseHeader, edit: impl FnOnce(&mut dyn HeaderEdit) -> Result<()>) -> Result<()> {
    if h.get_reason_phrase() != h.status.canonical_reason() {
        return edit(h);
    }
    let placeholder = ResponseHeader::build_no_case(200, Some(0))?;
    let mut parts: http::response::Parts = std::mem::replace(h, placeholder).into();
    let result = edit(&mut parts.headers);
    *h = ResponseHeader::from(parts);
    result
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

    async fn respond(&self, session: &mut Session, ctx: &Ctx, status: u16, page: Page, extra: &[(HeaderName, String)]) -> Result<bool> {
        let body = Bytes::from(page.body);
        let mut resp = ResponseHeader::build_no_case(status, Some(8))?;
        edit_response(&mut resp, |h| {
            h.set(http::header::CONTENT_TYPE, HeaderValue::from_static(page.content_type))?;
            h.set(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()))?;
            h.set(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"))?;
            for (k, v) in extra {
                h.set(k.clone(), HeaderValue::try_from(v.as_str()).or_err(InternalError, "header value")?)?;
            }
            self.security_headers(h, ctx)
        })?;
        session.write_response_header(Box::new(resp), false).await?;
        session.write_response_body(Some(body), true).await?;
        Ok(true)
    }

    /// Security headers the response does not already carry, and the request id.
    fn security_headers(&self, resp: &mut dyn HeaderEdit, ctx: &Ctx) -> Result<()> {
        for (k, v) in hdr::DEFAULTS {
            if !resp.has(&k) {
                resp.set(k, v)?;
            }
        }
        if ctx.tls && !resp.has(&hdr::HSTS) {
            resp.set(hdr::HSTS, hdr::HSTS_VALUE)?;
        }
        resp.set(hdr::REQUEST_ID, ctx.request_id.clone())
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
            request_id: http::HeaderValue::from_static(""),
            client_ip: None,
            tenant: None,
            host: String::new(),
            tls: false,
            tries: 0,
            upstream: None,
            failed: Vec::new(),
            upstream_started: None,
            slot: None,
        }
    }

    fn persist_connection_context(&self, _session: &Session, ctx: &Ctx) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        ctx.slot.clone().map(|slot| Box::new(slot) as Box<dyn std::any::Any + Send + Sync>)
    }

    fn on_connection_reuse(&self, _session: &mut Session, ctx: &mut Ctx, prev: Box<dyn std::any::Any + Send + Sync>) {
        ctx.slot = prev.downcast::<Arc<ConnectionSlot>>().ok().map(|b| *b);
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        ctx.tls = session.digest().is_some_and(|d| d.ssl_digest.is_some());
        ctx.client_ip = self.client_ip(session);
        // Pingora keeps an HTTP/1.1 connection open forever unless the client asks otherwise.
        if session.get_keepalive().is_some_and(|t| t == 0 || t > self.keepalive_secs) {
            session.set_keepalive(Some(self.keepalive_secs));
        }
        session.set_read_timeout(Some(self.client_read_timeout));
        let req = session.req_header();
        ctx.request_id = match req.headers.get(hdr::REQUEST_ID) {
            Some(v) if v.to_str().is_ok_and(valid_request_id) => v.clone(),
            _ => {
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                http::HeaderValue::from_str(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf)).expect("a UUID is a valid header value")
            }
        };
        ctx.host = req
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| req.headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).map(str::to_owned))
            .unwrap_or_default();
        let path = req.uri.path();
        // Every spelling of the login path spends the login budget (the vertical refuses the
        // non-canonical ones too, but the budget must not depend on that).
        let is_login = infra::paths::is_login(req.method.as_str(), path);
        let is_health = path == "/health";
        let challenge = path.strip_prefix("/.well-known/acme-challenge/").map(str::to_owned);

        if is_health {
            let page = Page { content_type: "application/json", body: r#"{"status":"ok","edge":true}"#.into() };
            return self.respond(session, ctx, 200, page, &[]).await;
        }
        if let (None, Some(ip)) = (&ctx.slot, ctx.client_ip) {
            match self.connections.acquire(ip) {
                Some(slot) => ctx.slot = Some(slot),
                None => {
                    metrics::CONNECTIONS_REFUSED.inc();
                    let page =
                        self.error_page(session, "too_many_connections", "Slow down", "Too many open connections from your address; close some and try again.");
                    session.set_keepalive(None);
                    return self.respond(session, ctx, 429, page, &[(http::header::RETRY_AFTER, "1".into())]).await;
                }
            }
        }
        if let Some(ip) = ctx.client_ip {
            if let Err(refused) = self.limits.check(ip, is_login) {
                metrics::RATE_LIMITED.inc();
                let secs = refused.0.as_secs().max(1);
                let page = self.error_page(session, "rate_limited", "Slow down", "Too many requests from your address; try again shortly.");
                return self.respond(session, ctx, 429, page, &[(http::header::RETRY_AFTER, secs.to_string())]).await;
            }
        }
        if let Some(token) = challenge {
            // Answered on plain HTTP before any redirect or tenant check (the CA is neither a
            // browser nor a tenant's customer), but after the limits, and from memory only.
            if let Some(key_authorization) = self.answers.answer(&token) {
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
            return self.respond(session, ctx, 301, page, &[(http::header::LOCATION, format!("https://{host}{pq}"))]).await;
        }

        let looked_up = match self.router.route(&ctx.host) {
            Route::Platform => {
                if let Some(url) = &self.landing_redirect {
                    let page = Page { content_type: "text/plain", body: String::new() };
                    return self.respond(session, ctx, 302, page, &[(http::header::LOCATION, url.clone())]).await;
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
                let page = self.error_page(
                    session,
                    "upstream_unavailable",
                    "Temporarily unavailable",
                    "The store is restarting or overloaded; try again in a moment.",
                );
                return self.respond(session, ctx, 503, page, &[(http::header::RETRY_AFTER, "1".to_string())]).await;
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

    /// The request deadline: each wait for more of the body is cut to what is left of it, so a
    /// client trickling a body (each byte just inside the read timeout) is cut off at the
    /// deadline instead of holding the connection and an upstream for as long as it likes.
    async fn request_body_filter(&self, session: &mut Session, _body: &mut Option<Bytes>, end_of_stream: bool, ctx: &mut Ctx) -> Result<()> {
        if end_of_stream {
            return Ok(());
        }
        match self.request_deadline.checked_sub(ctx.started.elapsed()) {
            Some(left) if !left.is_zero() => {
                session.set_read_timeout(Some(left.min(self.client_read_timeout)));
                Ok(())
            }
            _ => {
                tracing::info!(client_ip = ?ctx.client_ip, "request deadline exceeded: connection cut");
                Error::e_explain(HTTPStatus(408), "request deadline exceeded")
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
                .select_with(b"", 256, |b, healthy| healthy && !failed.contains(&b.addr))
                // Every healthy upstream failed once already: try them again rather than give up.
                .or_else(|| self.upstreams.select(b"", 256))
        };
        let Some(backend) = selected else {
            return Error::e_explain(HTTPStatus(503), "no healthy upstream");
        };
        ctx.upstream = Some(backend.addr.clone());
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

    async fn upstream_request_filter(&self, _session: &mut Session, upstream: &mut RequestHeader, ctx: &mut Ctx) -> Result<()> {
        edit_request(upstream, |h| {
            for name in &hdr::SPOOFABLE {
                h.drop_header(name);
            }
            if let Some(slug) = &ctx.tenant {
                h.set(hdr::TENANT_SLUG, HeaderValue::from_str(slug.as_str()).or_err(InternalError, "slug")?)?;
            }
            h.set(hdr::EDGE_SECRET, self.edge_secret.clone())?;
            if let Some(ip) = ctx.client_ip {
                h.set(hdr::FORWARDED_FOR, HeaderValue::try_from(ip.to_string()).or_err(InternalError, "ip")?)?;
            }
            h.set(hdr::FORWARDED_PROTO, if ctx.tls { hdr::HTTPS } else { hdr::HTTP })?;
            if !ctx.host.is_empty() {
                // Came from the request's Host, so it is a valid value.
                h.set(hdr::FORWARDED_HOST, HeaderValue::from_str(&ctx.host).or_err(InternalError, "host")?)?;
            }
            h.set(hdr::REQUEST_ID, ctx.request_id.clone())
        })
    }

    async fn response_filter(&self, _session: &mut Session, upstream: &mut ResponseHeader, ctx: &mut Ctx) -> Result<()> {
        if let Some(t) = ctx.upstream_started {
            metrics::UPSTREAM_SECONDS.observe(t.elapsed().as_secs_f64());
        }
        edit_response(upstream, |h| self.security_headers(h, ctx))
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
            request_id = ctx.request_id.to_str().unwrap_or("-"),
            host = %ctx.host,
            method = %req.method,
            path = req.uri.path(),
            status,
            bytes = session.body_bytes_sent(),
            ms = ctx.started.elapsed().as_secs_f64() * 1000.0,
            upstream = %ctx.upstream.as_ref().map_or_else(|| "-".to_string(), ToString::to_string),
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
