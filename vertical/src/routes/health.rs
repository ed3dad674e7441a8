//! `/health` (liveness: the process serves) and `/health/ready` (its dependencies answer and the
//! schema is current). Neither needs the edge secret, so load balancers and systemd can probe.

use http::StatusCode;

use crate::http::{json, HttpResponse};
use crate::state::AppState;
use infra::health::{check_postgres, check_redis, Probe, Readiness};

pub fn live() -> HttpResponse {
    json(StatusCode::OK, &serde_json::json!({ "status": "ok", "service": "vertical", "version": env!("CARGO_PKG_VERSION") }))
}

pub async fn ready(state: &AppState) -> HttpResponse {
    let mut probes = check_postgres(&state.pool).await;
    probes.push(match state.redis.get() {
        Some(conn) => check_redis(&mut conn.clone()).await,
        None => Probe::failed("redis", "not connected yet"),
    });
    let readiness = Readiness::from_probes(probes);
    let status = if readiness.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json(status, &readiness)
}
