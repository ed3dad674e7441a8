//! The vertical's Prometheus metrics, served on `vertical.metrics_listen` (loopback or a private
//! address, never behind the edge).
//!
//! Requests are labelled by route *template* (`/api/v1/quotes/{id}`), never by raw path, so the
//! series stay bounded whatever clients send: API templates come from the OpenAPI document
//! (which lists every API path), everything else gets one fixed label (`ui`, `/static/*`,
//! `/files/*`, `/health`, `other`). No label carries a tenant, so the count of series does not
//! grow with tenants; per-tenant business figures live in the database, not here.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus::{Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};
use tokio::net::TcpListener;

use crate::state::AppState;

/// How a login attempt ended (counted by [`Metrics::login`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    /// Unknown e-mail or wrong password.
    Failure,
    /// Refused because the account is locked (or deactivated).
    Locked,
}

impl LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Locked => "locked",
        }
    }
}

/// The vertical's metrics; one set per [`crate::startup::Application`].
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    logins: IntCounterVec,
    uploads: IntCounterVec,
    pool_connections: IntGaugeVec,
    pool_waiting: IntGauge,
    oldest_transaction: Gauge,
    wal_archived: Gauge,
    wal_failed: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("basecommerce_vertical_requests_total", "Requests answered, by route template, method and status class"),
            &["route", "method", "status"],
        )
        .expect("static metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("basecommerce_vertical_request_seconds", "Time to answer a request, by route template")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["route"],
        )
        .expect("static metric");
        let logins = IntCounterVec::new(Opts::new("basecommerce_vertical_logins_total", "Login attempts by outcome: success, failure, locked"), &["outcome"])
            .expect("static metric");
        let uploads = IntCounterVec::new(Opts::new("basecommerce_vertical_uploads_total", "File uploads (product images, logos) by status class"), &["status"])
            .expect("static metric");
        let pool_connections = IntGaugeVec::new(Opts::new("basecommerce_vertical_db_pool_connections", "Database pool connections: in_use, idle"), &["state"])
            .expect("static metric");
        let pool_waiting = IntGauge::new("basecommerce_vertical_db_pool_waiting", "Requests waiting for a database connection").expect("static metric");
        let oldest_transaction = Gauge::new(
            "basecommerce_vertical_db_oldest_transaction_seconds",
            "Age of the oldest open transaction of the vertical's database role (0 when none)",
        )
        .expect("static metric");
        let wal_archived = Gauge::new("basecommerce_vertical_db_wal_last_archived_timestamp_seconds", "When PostgreSQL last archived a WAL segment (0: never)")
            .expect("static metric");
        let wal_failed = Gauge::new("basecommerce_vertical_db_wal_last_failed_timestamp_seconds", "When archiving a WAL segment last failed (0: never)")
            .expect("static metric");
        // Series exist at zero from the start, so dashboards and rates see them before the first event.
        for outcome in [LoginOutcome::Success, LoginOutcome::Failure, LoginOutcome::Locked] {
            logins.with_label_values(&[outcome.label()]);
        }
        for class in ["2xx", "3xx", "4xx", "5xx"] {
            uploads.with_label_values(&[class]);
        }
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_seconds.clone()),
            Box::new(logins.clone()),
            Box::new(uploads.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_waiting.clone()),
            Box::new(oldest_transaction.clone()),
            Box::new(wal_archived.clone()),
            Box::new(wal_failed.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Self { registry, requests, request_seconds, logins, uploads, pool_connections, pool_waiting, oldest_transaction, wal_archived, wal_failed }
    }

    /// Counts one login attempt.
    pub fn login(&self, outcome: LoginOutcome) {
        self.logins.with_label_values(&[outcome.label()]).inc();
    }

    /// Counts one answered request.
    pub fn observe_request(&self, method: &Method, path: &str, status: StatusCode, elapsed: Duration) {
        let route = route_template(path);
        let class = status_class(status);
        self.requests.with_label_values(&[route, method_label(method), class]).inc();
        self.request_seconds.with_label_values(&[route]).observe(elapsed.as_secs_f64());
        if crate::routes::files::is_upload(method, path) {
            self.uploads.with_label_values(&[class]).inc();
        }
    }

    /// The text exposition, with the pool and transaction gauges read now.
    async fn render(&self, state: &AppState) -> String {
        let status = state.pool.status();
        self.pool_connections.with_label_values(&["in_use"]).set(status.size.saturating_sub(status.available) as i64);
        self.pool_connections.with_label_values(&["idle"]).set(status.available as i64);
        self.pool_waiting.set(status.waiting as i64);
        if let Some(db) = database_figures(state).await {
            self.oldest_transaction.set(db.oldest_transaction);
            self.wal_archived.set(db.wal_archived);
            self.wal_failed.set(db.wal_failed);
        }
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// What PostgreSQL itself says: the oldest open transaction of the vertical's role and the WAL
/// archiver's last success and failure (the backups' continuous archiving).
struct DatabaseFigures {
    oldest_transaction: f64,
    wal_archived: f64,
    wal_failed: f64,
}

/// Only from an idle pooled connection: a scrape never waits behind requests for one.
async fn database_figures(state: &AppState) -> Option<DatabaseFigures> {
    if state.pool.status().available == 0 {
        return None;
    }
    let client = tokio::time::timeout(Duration::from_millis(200), state.pool.get()).await.ok()?.ok()?;
    let row = client
        .query_one(
            "SELECT (SELECT COALESCE(EXTRACT(EPOCH FROM max(now() - xact_start)), 0)::float8 FROM pg_stat_activity \
                     WHERE usename = current_user AND pid <> pg_backend_pid() AND xact_start IS NOT NULL), \
                    COALESCE(EXTRACT(EPOCH FROM last_archived_time), 0)::float8, COALESCE(EXTRACT(EPOCH FROM last_failed_time), 0)::float8 \
             FROM pg_stat_archiver",
            &[],
        )
        .await
        .ok()?;
    Some(DatabaseFigures { oldest_transaction: row.get::<_, f64>(0).max(0.0), wal_archived: row.get(1), wal_failed: row.get(2) })
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The label for a request path: the OpenAPI template it matches (the one with the most
/// literal segments), else a fixed label for the UI, assets, files, health and the rest.
pub fn route_template(path: &str) -> &'static str {
    static TEMPLATES: OnceLock<Vec<(&'static str, Vec<String>)>> = OnceLock::new();
    let templates = TEMPLATES.get_or_init(|| {
        use utoipa::OpenApi;
        crate::docs::ApiDoc::openapi()
            .paths
            .paths
            .keys()
            .map(|t| {
                let t: &'static str = Box::leak(t.clone().into_boxed_str());
                (t, t.trim_matches('/').split('/').map(str::to_owned).collect())
            })
            .collect()
    });
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let best = templates
        .iter()
        .filter(|(_, pattern)| pattern.len() == segments.len() && pattern.iter().zip(&segments).all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty())))
        .max_by_key(|(_, pattern)| pattern.iter().filter(|p| !p.starts_with('{')).count());
    if let Some((template, _)) = best {
        return template;
    }
    match segments.as_slice() {
        ["health"] => "/health",
        ["health", "ready"] => "/health/ready",
        ["tenant.json"] => "/tenant.json",
        ["api", "openapi.json"] => "/api/openapi.json",
        ["static", ..] => "/static/*",
        ["files", ..] => "/files/*",
        ["api", ..] | ["auth", ..] => "other",
        _ => "ui",
    }
}

/// Binds the metrics listener; a failure is logged, not fatal (serving tenants matters more
/// than the dashboard).
pub async fn bind(addr: SocketAddr) -> Option<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(%addr, error = %e, "metrics endpoint not started (set vertical.metrics_listen)");
            None
        }
    }
}

/// Serves `GET /metrics` (anything else: 404) for as long as the runtime lives.
pub async fn serve(listener: TcpListener, state: Arc<AppState>) {
    tracing::info!(addr = ?listener.local_addr().ok(), "metrics endpoint listening");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let state = state.clone();
        let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let state = state.clone();
            async move {
                let (status, content_type, body) = match req.uri().path() {
                    "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", state.metrics.render(&state).await),
                    _ => (StatusCode::NOT_FOUND, "application/json", r#"{"error":{"code":"not_found","message":"try /metrics"}}"#.to_owned()),
                };
                let mut resp = Response::new(Full::new(Bytes::from(body)));
                *resp.status_mut() = status;
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                Ok::<_, Infallible>(resp)
            }
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::route_template;

    #[test]
    fn paths_map_to_bounded_templates() {
        assert_eq!(route_template("/api/v1/quotes/5b1e0c1e-0000-4000-8000-000000000000"), "/api/v1/quotes/{id}");
        assert_eq!(route_template("/api/v1/quotes/anything/send"), "/api/v1/quotes/{id}/{action}");
        assert_eq!(route_template("/api/v1/orders/from-quote/x"), "/api/v1/orders/from-quote/{quote_id}");
        assert_eq!(route_template("/api/v1/stock/movements"), "/api/v1/stock/movements");
        assert_eq!(route_template("/auth/login"), "/auth/login");
        assert_eq!(route_template("/health/ready"), "/health/ready");
        assert_eq!(route_template("/static/app.abc123.css"), "/static/*");
        assert_eq!(route_template("/files/products/x/card.webp"), "/files/*");
        assert_eq!(route_template("/quotes/123/edit"), "ui");
        assert_eq!(route_template("/api/v2/whatever/1/2/3"), "other");
    }
}
