//! Prometheus metrics of the engines process, and the loopback HTTP endpoint that serves them
//! with a JSON health document (`/health`, `/metrics`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Counters shared by relay and worker.
pub struct Metrics {
    pub registry: Registry,
    /// Events by outcome: applied, duplicate, ignored, skipped, failed, dead_lettered.
    pub events: IntCounterVec,
    pub event_seconds: Histogram,
    pub published: IntCounter,
    pub is_leader: IntGauge,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let events = IntCounterVec::new(Opts::new("basecommerce_engines_events_total", "Events handled by the worker, by outcome"), &["outcome"])
            .expect("static metric");
        let event_seconds = Histogram::with_opts(
            HistogramOpts::new("basecommerce_engines_event_seconds", "Time to apply one event (one Postgres transaction)")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0]),
        )
        .expect("static metric");
        let published = IntCounter::new("basecommerce_relay_published_total", "Outbox rows published to the stream").expect("static metric");
        let is_leader = IntGauge::new("basecommerce_relay_leader", "1 while this relay holds the leader lock").expect("static metric");
        for c in [
            Box::new(events.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(event_seconds.clone()),
            Box::new(published.clone()),
            Box::new(is_leader.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Arc::new(Self { registry, events, event_seconds, published, is_leader })
    }

    fn render(&self, extra: &str) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        let mut text = String::from_utf8(buf).unwrap_or_default();
        text.push_str(extra);
        text
    }
}

/// Produces the JSON health document and extra metric lines at request time.
pub type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = (bool, serde_json::Value, String)> + Send>> + Send + Sync>;

/// Serves `/health` and `/metrics` on `addr` until `shutdown`; a bind failure is logged, not
/// fatal (the work matters more than its dashboard). Returns the bound address.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>, probe: Probe, shutdown: tokio::sync::watch::Receiver<bool>) -> Option<SocketAddr> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "health endpoint not started");
            return None;
        }
    };
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, "health endpoint listening");
    tokio::spawn(async move {
        let mut shutdown = shutdown;
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r { Ok(c) => c, Err(_) => continue },
                _ = shutdown.changed() => break,
            };
            let metrics = metrics.clone();
            let probe = probe.clone();
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                let probe = probe.clone();
                async move {
                    let (ok, doc, extra) = probe().await;
                    let resp = match req.uri().path() {
                        "/metrics" => text(StatusCode::OK, "text/plain; version=0.0.4", metrics.render(&extra)),
                        "/health" => text(if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, "application/json", doc.to_string()),
                        _ => text(StatusCode::NOT_FOUND, "application/json", r#"{"error":{"code":"not_found","message":"try /health or /metrics"}}"#.into()),
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    local
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    r
}
