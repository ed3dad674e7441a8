//! The edge's Prometheus metrics (default registry, served on `proxy.metrics_listen`).

use std::sync::atomic::{AtomicU64, Ordering};

use once_cell::sync::Lazy;
use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge_vec, Histogram, IntCounter, IntCounterVec, IntGaugeVec,
};

/// Requests by tenant (or `-`) and status.
pub static REQUESTS: Lazy<IntCounterVec> =
    Lazy::new(|| register_int_counter_vec!("basecommerce_proxy_requests_total", "Requests by tenant and status", &["tenant", "status"]).expect("metric"));
/// Time from request to upstream response header.
pub static UPSTREAM_SECONDS: Lazy<Histogram> = Lazy::new(|| {
    register_histogram!(
        "basecommerce_proxy_upstream_seconds",
        "Upstream latency",
        vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
    )
    .expect("metric")
});
pub static RATE_LIMITED: Lazy<IntCounter> =
    Lazy::new(|| register_int_counter!("basecommerce_proxy_rate_limited_total", "Requests refused with 429").expect("metric"));
pub static CONNECTIONS_REFUSED: Lazy<IntCounter> = Lazy::new(|| {
    register_int_counter!("basecommerce_proxy_connections_refused_total", "Requests refused because their IP held max_connections_per_ip connections")
        .expect("metric")
});
pub static CACHE: Lazy<IntCounterVec> =
    Lazy::new(|| register_int_counter_vec!("basecommerce_proxy_tenant_cache_total", "Tenant cache lookups by result", &["result"]).expect("metric"));
/// The two children of `CACHE`, bound once: a labelled lookup hashes its labels on every call.
static CACHE_HIT: Lazy<IntCounter> = Lazy::new(|| CACHE.with_label_values(&["hit"]));
static CACHE_MISS: Lazy<IntCounter> = Lazy::new(|| CACHE.with_label_values(&["miss"]));
/// Seconds until each served certificate expires.
pub static CERT_EXPIRY: Lazy<IntGaugeVec> =
    Lazy::new(|| register_int_gauge_vec!("basecommerce_proxy_certificate_expiry_seconds", "Seconds until the certificate expires", &["name"]).expect("metric"));
pub static CERT_FAILURES: Lazy<IntGaugeVec> = Lazy::new(|| {
    register_int_gauge_vec!(
        "basecommerce_proxy_certificate_failures",
        "Consecutive failed attempts to obtain or renew the certificate (0 after a success)",
        &["name"]
    )
    .expect("metric")
});

/// Hit/miss counts of the tenant cache (also exported to Prometheus).
#[derive(Debug, Default)]
pub struct CacheMetrics {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheMetrics {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        CACHE_HIT.inc();
    }
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        CACHE_MISS.inc();
    }
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// Serves the default registry in Prometheus text format on `addr` (loopback; one request per
/// connection — scrapers need nothing more).
pub async fn serve(addr: std::net::SocketAddr, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    use prometheus::Encoder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // After a graceful reload the old process keeps the port until it has drained: retry while
    // the address is in use instead of giving up on metrics for the new process's lifetime.
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
            }
            Err(e) => {
                tracing::warn!(%addr, error = %e, "metrics endpoint not started");
                return;
            }
        }
    };
    loop {
        let (mut stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(c) => c, Err(_) => continue },
            _ = shutdown.changed() => return,
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut buf)).await;
            let mut body = Vec::new();
            let _ = prometheus::TextEncoder::new().encode(&prometheus::gather(), &mut body);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        });
    }
}
