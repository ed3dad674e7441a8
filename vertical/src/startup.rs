//! Building and running the vertical's HTTP server: bind, serve connections, drain on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::OnceCell;
use tracing::Instrument;

use crate::auth::password;
use crate::auth::tokens::TokenKeys;
use crate::error::ApiError;
use crate::http::{HttpResponse, Req};
use crate::state::AppState;
use infra::{ConfigError, Settings};

/// Why the vertical could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source} (is another process using the port? set vertical.listen)")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Database(#[from] infra::db::DbError),
}

/// A bound, ready-to-run vertical.
pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
    metrics_addr: Option<SocketAddr>,
}

impl Application {
    /// Validates what the vertical needs, builds the pool and binds the listener (port 0 picks a
    /// free port: tests use that).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let jwt = settings.require_jwt_secret()?.clone();
        let edge = settings.require_edge_secret()?.clone();
        let redis_url = settings.require_redis_url()?.clone();
        let pool = infra::db::pool(settings.require_database_url()?, &settings.database, settings.database.pool_size)?;
        let addr = settings.vertical.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr, source })?;

        let redis = Arc::new(OnceCell::new());
        tokio::spawn(connect_redis(redis_url.clone(), redis.clone()));
        let tenant_ttl = settings.vertical.tenant_cache_ttl_ms;
        let tenants = (tenant_ttl > 0).then(|| moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_millis(tenant_ttl)).build());
        if let Some(cache) = &tenants {
            tokio::spawn(follow_tenant_changes(redis_url.clone(), cache.clone()));
        }
        let standings = crate::auth::revocation::cache(tenant_ttl);
        if let Some(cache) = &standings {
            tokio::spawn(crate::auth::revocation::follow_user_changes(redis_url, cache.clone()));
        }
        let body_budget = tokio::sync::Semaphore::new(body_budget_bytes(&settings));

        let state = AppState {
            tokens: TokenKeys::new(jwt.expose(), settings.auth.access_token_ttl_secs),
            edge_secret_digest: Sha256::digest(edge.expose().as_bytes()).into(),
            dummy_password_hash: password::dummy_hash().await,
            files: infra::files::LocalDisk::new(&settings.files.dir),
            upload_slots: Default::default(),
            tenants,
            standings,
            body_budget,
            metrics: crate::metrics::Metrics::new(),
            pool,
            redis,
            settings,
        };
        let state = Arc::new(state);
        let metrics = crate::metrics::bind(state.settings.vertical.metrics_listen).await;
        let metrics_addr = metrics.as_ref().and_then(|l| l.local_addr().ok());
        if let Some(l) = metrics {
            tokio::spawn(crate::metrics::serve(l, state.clone()));
        }
        Ok(Self { listener, state, metrics_addr })
    }

    /// Where `/metrics` is served (`None` if `vertical.metrics_listen` could not be bound).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish
    /// (up to 30 s).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let Self { listener, state, .. } = self;
        tracing::info!(addr = %listener.local_addr()?, "vertical listening");
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10)).keep_alive(true).max_buf_size(64 * 1024);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _peer) = match accepted {
                        Ok(c) => c,
                        Err(e) => {
                            // EMFILE and friends: back off briefly instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(serve(state, req).await) }
                    });
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(listener);
        tokio::select! {
            _ = graceful.shutdown() => tracing::info!("all connections drained"),
            _ = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("shutdown timed out with connections open"),
        }
        Ok(())
    }
}

/// Drops cached tenant rows when the admin CLI announces a change (all of them after a
/// reconnect, when announcements may have been missed). Lives as long as the runtime.
async fn follow_tenant_changes(url: infra::Secret, tenants: moka::sync::Cache<String, crate::domain::tenant::Tenant>) {
    let on_change = |slug: Option<String>| {
        match slug {
            Some(slug) => tenants.invalidate(&slug),
            None => tenants.invalidate_all(),
        }
        std::future::ready(())
    };
    infra::redis::follow_tenant_changes(url, on_change, std::future::pending()).await;
}

async fn connect_redis(url: infra::Secret, cell: Arc<OnceCell<redis::aio::ConnectionManager>>) {
    let mut delay = Duration::from_millis(200);
    loop {
        match infra::redis::connect(&url).await {
            Ok(conn) => {
                let _ = cell.set(conn);
                tracing::info!("redis connected");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "redis not reachable yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Valid incoming request ids are kept (so one id follows a request from the proxy through the
/// logs); anything else is replaced.
fn request_id(req: &Request<Incoming>) -> String {
    req.headers()
        .get(infra::edge::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

async fn serve(state: Arc<AppState>, req: Request<Incoming>) -> HttpResponse {
    let started = Instant::now();
    let request_id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %request_id, tenant = tracing::field::Empty);
    async move {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let (mut parts, body) = req.into_parts();
        let mut resp = match crate::auth::gate::before_body(&state, &mut parts).await {
            Err(refused) => refused,
            Ok(()) => match read_request(&state, parts, body).await {
                // The body's bytes stay reserved until the answer is ready.
                Ok((r, _reserved)) => crate::router::handle(&state, &r).await,
                Err(ApiError::PayloadTooLarge(_)) if crate::routes::files::browser_upload_page(&path).is_some() => {
                    crate::routes::files::too_large_for_browser(&state, &path)
                }
                Err(e) => e.into_response(),
            },
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert(infra::edge::REQUEST_ID_HEADER, v);
        }
        let status = resp.status();
        state.metrics.observe_request(&method, &path, status, started.elapsed());
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::warn!(%method, %path, status = status.as_u16(), ms, "request");
        } else {
            tracing::info!(%method, %path, status = status.as_u16(), ms, "request");
        }
        resp
    }
    .instrument(span)
    .await
}

/// Reads and discards a body, up to `cap` bytes.
async fn drain(mut body: Incoming, cap: usize) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map(|d| d.len()).unwrap_or(0);
        if seen > cap {
            break;
        }
    }
}

/// All request bodies held at once: four uploads at their limit, at least 32 MiB.
fn body_budget_bytes(settings: &Settings) -> usize {
    settings.files.max_upload_bytes.saturating_mul(4).max(32 * 1024 * 1024).min(u32::MAX as usize)
}

/// Longest wait for room in the body budget before answering 503.
const BODY_BUDGET_WAIT: Duration = Duration::from_secs(2);

/// Reads the body up to `vertical.max_body_bytes`; larger bodies are a 413 before any work.
/// The bytes it may take are reserved in the body budget first (the declared length, or the
/// limit when none is declared), so many slow bodies at once get 503s instead of the memory.
async fn read_request(state: &AppState, parts: http::request::Parts, body: Incoming) -> Result<(Req, Option<tokio::sync::SemaphorePermit<'_>>), ApiError> {
    use hyper::body::Body;
    let max = if crate::routes::files::is_upload(&parts.method, parts.uri.path()) {
        state.settings.files.max_upload_bytes
    } else {
        state.settings.vertical.max_body_bytes
    };
    let declared = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        if crate::routes::files::browser_upload_page(parts.uri.path()).is_some() {
            // A browser sends the whole form before it reads an answer; answering first and
            // closing would show the user a connection error instead of our message.
            drain(body, max.saturating_mul(8)).await;
        }
        return Err(ApiError::PayloadTooLarge(max));
    }
    let reserve = match body.size_hint().exact() {
        Some(n) => n.min(max as u64) as u32,
        None => max as u32,
    };
    let permit = if reserve == 0 {
        None
    } else {
        match tokio::time::timeout(BODY_BUDGET_WAIT, state.body_budget.acquire_many(reserve)).await {
            Ok(Ok(permit)) => Some(permit),
            _ => return Err(ApiError::Unavailable("too many request bodies in flight; try again shortly".into())),
        }
    };
    let body: Bytes = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return Err(ApiError::PayloadTooLarge(max)),
        Err(e) => return Err(ApiError::bad_request("invalid_request", format!("could not read the request body: {e}"))),
    };
    let req = Req { method: parts.method, path: parts.uri.path().to_owned(), query: parts.uri.query().map(str::to_owned), headers: parts.headers, body };
    Ok((req, permit))
}
