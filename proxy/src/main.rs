//! `basecommerce-proxy`: the edge in front of the verticals.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clap::Parser;
use pingora::lb::health_check::TcpHealthCheck;
use pingora::lb::{selection::RoundRobin, LoadBalancer};
use pingora::listeners::tls::TlsSettings;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use proxy::acme::challenge::Http01Answers;
use proxy::acme::AcmeManager;
use proxy::proxy::{parse_trusted, EdgeProxy};
use proxy::ratelimit::Limits;
use proxy::tenants::TenantResolver;
use proxy::tls::{load_dir, watch_dir, CertStore, SniResolver};

/// mimalloc instead of glibc's malloc: a proxied request allocates and frees many small header
/// buffers, and under callgrind glibc's malloc/free were a quarter of the edge's instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The basecommerce edge: tenants by subdomain, TLS, rate limits, load balancing.
#[derive(Parser)]
#[command(name = "basecommerce-proxy", version, about)]
struct Args {
    /// Configuration file (TOML); environment BASECOMMERCE_<SECTION>__<KEY> overrides it.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Take over the listening sockets of a running proxy (graceful reload), which must then
    /// receive SIGQUIT.
    #[arg(short = 'u', long)]
    upgrade: bool,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("basecommerce-proxy: {message}");
    ExitCode::from(78)
}

fn main() -> ExitCode {
    let args = Args::parse();
    pingora::tls::install_default_crypto_provider();
    let settings = match infra::Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Err(e) = settings.acme.validate() {
        return fail(e);
    }
    let p = settings.proxy.clone();
    let (edge_secret, db_url) = match (settings.require_edge_secret(), settings.require_database_url()) {
        (Ok(e), Ok(d)) => (e.clone(), d.clone()),
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let edge_secret = match http::HeaderValue::from_str(edge_secret.expose()) {
        Ok(mut v) => {
            v.set_sensitive(true);
            v
        }
        Err(_) => return fail("edge.secret: must be printable ASCII (it travels as a header)"),
    };
    if p.base_domains.is_empty() {
        eprintln!("basecommerce-proxy: warning: proxy.base_domains is empty; only verified custom domains will reach tenants");
    }
    // Pingora binds inside its service threads and only logs a failure there; check first so an
    // operator sees "port in use" and a non-zero exit instead.
    let acme = settings.acme.enabled;
    let tls_enabled = p.tls_cert_dir.is_some() || acme;
    if !args.upgrade {
        let mut addrs = vec![p.http_listen];
        if tls_enabled {
            addrs.push(p.https_listen);
        }
        for addr in addrs {
            if let Err(e) = std::net::TcpListener::bind(addr) {
                return fail(format!("cannot listen on {addr}: {e} (proxy.http_listen / proxy.https_listen)"));
            }
        }
    }
    let certs = CertStore::new();
    if let Some(dir) = &p.tls_cert_dir {
        let (loaded, errors) = load_dir(dir);
        for e in &errors {
            eprintln!("basecommerce-proxy: certificate not loaded: {e}");
        }
        if loaded.is_empty() && !acme {
            return fail(format!("no usable certificate in {} (proxy.tls_cert_dir): expected <host>.pem + <host>.key pairs", dir.display()));
        }
        certs.replace(loaded);
    }
    let _log = infra::telemetry::init("basecommerce-proxy", &settings.log);

    let conf = ServerConf {
        threads: p.threads,
        work_stealing: p.work_stealing,
        upgrade_sock: p.upgrade_sock.clone(),
        grace_period_seconds: Some(p.grace_period_secs),
        graceful_shutdown_timeout_seconds: Some(5),
        ..Default::default()
    };
    let opt = Opt { upgrade: args.upgrade, ..Default::default() };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let mut upstreams = match LoadBalancer::<RoundRobin>::try_from_iter(p.upstreams.iter().map(String::as_str)) {
        Ok(lb) => lb,
        Err(e) => return fail(format!("proxy.upstreams: {e}")),
    };
    let mut hc = TcpHealthCheck::new();
    hc.consecutive_failure = 2;
    hc.consecutive_success = 1;
    upstreams.set_health_check(hc);
    upstreams.health_check_frequency = Some(Duration::from_secs(p.health_check_interval_secs.max(1)));
    let health = background_service("upstream health checks", upstreams);
    let upstreams = health.task();

    let pool = match infra::db::pool(&db_url, &settings.database, settings.database.pool_size.min(8)) {
        Ok(pool) => pool,
        Err(e) => return fail(e),
    };
    // Certificates from the ACME cache are served before the listeners open (PostgreSQL may be
    // away); the manager then keeps them present and fresh in the background.
    let manager = if acme {
        match AcmeManager::new(settings.acme.clone(), p.base_domains.clone(), pool.clone(), certs.clone()) {
            Ok(m) => {
                let n = m.load_cache();
                tracing::info!(count = n, cache = %settings.acme.cache_dir.display(), "certificates served from the ACME cache");
                Some(m)
            }
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    let answers = manager.as_ref().map(|m| m.answers()).unwrap_or_else(|| Arc::new(Http01Answers::local_only()));
    let tenants =
        TenantResolver::new(pool, Duration::from_secs(p.tenant_cache_ttl_secs), Duration::from_secs(p.negative_cache_ttl_secs), p.tenant_cache_capacity);
    let limits = Arc::new(Limits::new(p.rate_limit_per_minute, p.login_rate_limit_per_minute));
    let edge = EdgeProxy {
        router: proxy::host::HostRouter::new(&p.base_domains),
        tenants: tenants.clone(),
        upstreams,
        limits: limits.clone(),
        connections: proxy::connlimit::ConnectionSlots::new(p.max_connections_per_ip),
        keepalive_secs: p.keepalive_timeout_secs,
        client_read_timeout: Duration::from_secs(p.client_read_timeout_secs),
        request_deadline: Duration::from_secs(p.request_deadline_secs),
        edge_secret,
        trusted: parse_trusted(&p.trusted_proxies),
        tls_enabled,
        redirect_http: p.redirect_http,
        retries: p.upstream_retries,
        landing_redirect: p.landing_redirect.clone(),
        platform: p.platform_name.clone(),
        answers,
    };
    let mut service = http_proxy_service(&server.configuration, edge);
    service.add_tcp(&p.http_listen.to_string());
    if tls_enabled {
        let mut tls = match TlsSettings::intermediate("", "") {
            Ok(t) => t,
            Err(e) => return fail(format!("TLS settings: {e}")),
        };
        tls.set_cert_resolver(Arc::new(SniResolver(certs.clone())));
        tls.enable_h2();
        service.add_tls_with_settings(&p.https_listen.to_string(), None, tls);
    }
    server.add_service(service);
    server.add_service(health);
    if let Some(m) = manager {
        server.add_service(background_service("acme certificates", m));
    }
    server.add_service(background_service(
        "edge housekeeping",
        Housekeeping {
            tenants,
            limits,
            certs,
            cert_dir: p.tls_cert_dir.clone(),
            redis_url: settings.redis.url.clone(),
            metrics_listen: p.metrics_listen,
            http_listen: p.http_listen,
        },
    ));
    tracing::info!(http = %p.http_listen, https = ?tls_enabled.then_some(p.https_listen), acme, upstreams = ?p.upstreams, "proxy starting");
    server.run_forever()
}

/// Background work of the edge: follow tenant changes, reload certificates, forget idle IPs.
struct Housekeeping {
    tenants: Arc<TenantResolver>,
    limits: Arc<Limits>,
    certs: Arc<CertStore>,
    cert_dir: Option<PathBuf>,
    redis_url: Option<infra::Secret>,
    metrics_listen: std::net::SocketAddr,
    http_listen: std::net::SocketAddr,
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, shutdown: ShutdownWatch) {
        if let Some(url) = self.redis_url.clone() {
            tokio::spawn(self.tenants.clone().follow_changes(url, shutdown.clone()));
        } else {
            tracing::warn!("redis.url unset: tenant changes reach the edge only when cache entries expire");
        }
        if let Some(dir) = self.cert_dir.clone() {
            tokio::spawn(watch_dir(dir, self.certs.clone(), Duration::from_secs(2), shutdown.clone()));
        }
        tokio::spawn(proxy::metrics::serve(self.metrics_listen, shutdown.clone()));
        // systemd (Type=notify): ready once the HTTP listener accepts, then the watchdog is fed
        // from this loop.
        proxy::systemd::ready_when_listening(self.http_listen).await;
        tokio::spawn(proxy::systemd::spawn_successor_on_sighup());
        let mut watchdog = infra::systemd::Watchdog::from_env();
        let tick = watchdog.interval().unwrap_or(Duration::from_secs(60)).min(Duration::from_secs(60));
        let mut last_forget = std::time::Instant::now();
        let mut shutdown = shutdown;
        loop {
            watchdog.tick();
            if last_forget.elapsed() >= Duration::from_secs(60) {
                self.limits.forget_idle();
                last_forget = std::time::Instant::now();
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                // No STOPPING=1 here: after a graceful reload the *old* process ends this way while
                // the new one serves, and systemd (NotifyAccess=all) would stop the whole unit.
                _ = shutdown.changed() => return,
            }
        }
    }
}
