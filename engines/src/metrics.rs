//! Prometheus metrics of the engines process, and the loopback HTTP endpoint that serves them
//! with a JSON health document (`/health`, `/metrics`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus::{Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Counters shared by relay and worker.
pub struct Metrics {
    pub registry: Registry,
    /// Events by outcome: applied, duplicate, ignored, skipped, failed, dead_lettered.
    pub events: IntCounterVec,
    pub event_seconds: Histogram,
    pub published: IntCounter,
    pub is_leader: IntGauge,
    /// The bus and the outbox as they stand, set at scrape time by the [`Probe`].
    pub bus: BusGauges,
}

/// What operators alert on: the backlog before the stream (outbox), on it (lag, pending) and
/// beside it (dead letters). Gauges, read fresh at each scrape.
pub struct BusGauges {
    pub stream_length: IntGauge,
    pub pending: IntGauge,
    pub lag: IntGauge,
    pub dlq_length: IntGauge,
    pub consumers: IntGauge,
    pub oldest_pending_seconds: Gauge,
    pub outbox_lag_seconds: Gauge,
    pub outbox_unpublished: IntGauge,
}

/// Time and failures per engine, process-wide: the engines' code runs deep below the worker,
/// so a static is simpler than threading a handle through every call. Registered with each
/// [`Metrics`] registry.
static ENGINE_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    HistogramVec::new(
        HistogramOpts::new(
            "basecommerce_engines_engine_seconds",
            "Time in one engine's step of a batch (apply, or the batched stock and replenishment refresh)",
        )
        .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0]),
        &["engine"],
    )
    .expect("static metric")
});
static ENGINE_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new("basecommerce_engines_engine_failures_total", "Engine steps that failed (the batch is then retried event by event)"),
        &["engine"],
    )
    .expect("static metric")
});

/// Runs one engine step, recording its time and whether it failed.
pub async fn engine_step<T, E>(engine: &'static str, step: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let timer = ENGINE_SECONDS.with_label_values(&[engine]).start_timer();
    let result = step.await;
    timer.observe_duration();
    if result.is_err() {
        ENGINE_FAILURES.with_label_values(&[engine]).inc();
    }
    result
}

/// Makes every engine's series exist (at zero) before its first event, so rates and alerts
/// see them from the start.
pub fn init_engines<'a>(names: impl IntoIterator<Item = &'a str>) {
    for name in names {
        ENGINE_SECONDS.with_label_values(&[name]);
        ENGINE_FAILURES.with_label_values(&[name]);
    }
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
        let int = |name: &str, help: &str| IntGauge::new(name, help).expect("static metric");
        let float = |name: &str, help: &str| Gauge::new(name, help).expect("static metric");
        let bus = BusGauges {
            stream_length: int("basecommerce_stream_length", "Entries in the event stream"),
            pending: int("basecommerce_stream_pending", "Entries delivered to the consumer group and not acknowledged"),
            lag: int("basecommerce_stream_lag", "Entries not yet delivered to the consumer group"),
            dlq_length: int("basecommerce_dlq_length", "Entries in the dead-letter stream"),
            consumers: int("basecommerce_stream_consumers", "Consumers in the group"),
            oldest_pending_seconds: float("basecommerce_stream_oldest_pending_seconds", "Age of the oldest unacknowledged entry (0 when none)"),
            outbox_lag_seconds: float("basecommerce_outbox_lag_seconds", "Age of the oldest unpublished outbox row (0 when none)"),
            outbox_unpublished: int("basecommerce_outbox_unpublished", "Outbox rows not yet published to the stream"),
        };
        let b = &bus;
        for c in [
            Box::new(events.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(event_seconds.clone()),
            Box::new(published.clone()),
            Box::new(is_leader.clone()),
            Box::new(ENGINE_SECONDS.clone()),
            Box::new(ENGINE_FAILURES.clone()),
            Box::new(b.stream_length.clone()),
            Box::new(b.pending.clone()),
            Box::new(b.lag.clone()),
            Box::new(b.dlq_length.clone()),
            Box::new(b.consumers.clone()),
            Box::new(b.oldest_pending_seconds.clone()),
            Box::new(b.outbox_lag_seconds.clone()),
            Box::new(b.outbox_unpublished.clone()),
        ] {
            registry.register(c).expect("unique metric names");
        }
        Arc::new(Self { registry, events, event_seconds, published, is_leader, bus })
    }

    /// Sets the bus gauges from a fresh status.
    pub fn observe_bus(&self, s: &infra::bus::StreamStatus) {
        let b = &self.bus;
        b.stream_length.set(s.length as i64);
        b.pending.set(s.pending as i64);
        b.lag.set(s.lag.unwrap_or(0) as i64);
        b.dlq_length.set(s.dlq_length as i64);
        b.consumers.set(s.consumers as i64);
        b.oldest_pending_seconds.set(s.oldest_pending_ms.unwrap_or(0) as f64 / 1000.0);
    }

    /// Sets the outbox gauges.
    pub fn observe_outbox(&self, backlog: &crate::relay::OutboxBacklog) {
        self.bus.outbox_lag_seconds.set(backlog.oldest_seconds);
        self.bus.outbox_unpublished.set(backlog.unpublished);
    }

    fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Produces the JSON health document at request time (and refreshes the bus gauges).
pub type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = (bool, serde_json::Value)> + Send>> + Send + Sync>;

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
                    let (ok, doc) = probe().await;
                    let resp = match req.uri().path() {
                        "/metrics" => text(StatusCode::OK, "text/plain; version=0.0.4", metrics.render()),
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
