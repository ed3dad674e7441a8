//! Readiness probes shared by every service's `/health/ready`.

use serde::Serialize;

/// The outcome of one dependency check.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Probe {
    pub fn ok(name: &'static str) -> Self {
        Self { name, ok: true, detail: None }
    }
    /// A failed check. The detail goes to the log, not to the (unauthenticated) response.
    pub fn failed(name: &'static str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::warn!(check = name, %detail, "readiness check failed");
        Self { name, ok: false, detail: None }
    }
}

/// The readiness document: `status` is `ready` only when every probe is ok.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub status: &'static str,
    pub checks: Vec<Probe>,
}

impl Readiness {
    pub fn from_probes(checks: Vec<Probe>) -> Self {
        let status = if checks.iter().all(|p| p.ok) { "ready" } else { "not_ready" };
        Self { status, checks }
    }
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// Postgres reachable and the schema at the version this binary was built for.
pub async fn check_postgres(pool: &deadpool_postgres::Pool) -> Vec<Probe> {
    let client = match tokio::time::timeout(std::time::Duration::from_secs(3), pool.get()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return vec![Probe::failed("postgres", e.to_string()), Probe::failed("migrations", "database unreachable")],
        Err(_) => return vec![Probe::failed("postgres", "timed out"), Probe::failed("migrations", "database unreachable")],
    };
    let mut out = vec![Probe::ok("postgres")];
    let want = crate::migrations::latest_version();
    out.push(match crate::migrations::applied_version(&client).await {
        Ok(v) if v == want => Probe::ok("migrations"),
        Ok(v) => Probe::failed("migrations", format!("database at V{v}, binary expects V{want}: run `basecommerce migrate`")),
        Err(e) => Probe::failed("migrations", e.to_string()),
    });
    out
}

/// Redis answers PING.
pub async fn check_redis(conn: &mut redis::aio::ConnectionManager) -> Probe {
    let cmd = redis::cmd("PING");
    match tokio::time::timeout(std::time::Duration::from_secs(3), cmd.query_async::<String>(conn)).await {
        Ok(Ok(_)) => Probe::ok("redis"),
        Ok(Err(e)) => Probe::failed("redis", e.to_string()),
        Err(_) => Probe::failed("redis", "timed out"),
    }
}
