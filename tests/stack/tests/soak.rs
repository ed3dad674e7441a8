//! Load and faults: the real proxy, two real verticals, the relay and two workers, driven by one
//! virtual user per tenant (50 tenants, each user on its own loopback address so the proxy's
//! per-IP limits are real) plus one abusive address, for `BASECOMMERCE_SOAK_SECS` (default 45)
//! at up to `BASECOMMERCE_SOAK_USER_RPS` requests per second per user (default 1).
//!
//! 1. **Soak**: browse/quote/order traffic with 0 errors for the normal users, 429s (with
//!    `Retry-After`) for the abusive address only, and flat memory in every service.
//! 2. **Faults** while the load continues: SIGKILL a worker, the relay, a vertical (the test
//!    restarts each, like systemd's `Restart=on-failure`); restart Redis and PostgreSQL; stop the
//!    workers while orders keep coming (the stream fills faster than it drains), then resume them.
//!    Client errors are expected here; users re-read state before retrying a write whose answer
//!    was lost.
//! 3. **Calm**: once every service reports healthy again, 0 errors again.
//! 4. **Drain**: every delivered order's sale is in the sale facts and in stock exactly once,
//!    the outbox is fully relayed, nothing is pending in the consumer group, nothing was
//!    dead-lettered, and no process exited on its own.
//!
//! The report goes to stdout and to `$CARGO_TARGET_TMPDIR/soak-report.md`; service logs to
//! `$CARGO_TARGET_TMPDIR/soak-logs/`. `bench/soak.sh` runs this longer, in release.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::{KillOnDrop, Options, Services};
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stack::{eventually, rss_kib, workspace_binary as binary, Stack, PASSWORD};
use uuid::Uuid;

const TENANTS: usize = 50;
const PRODUCTS_PER_TENANT: usize = 4;
/// Received once per product at setup: far above what the run can sell, so a sale never oversells
/// and on-hand stays an exact function of the deliveries.
const INITIAL_STOCK: i64 = 1_000_000;
const BASE_DOMAIN: &str = "soak.test";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Setup = 0,
    Soak = 1,
    Faults = 2,
    Calm = 3,
}
const PHASES: [Phase; 4] = [Phase::Setup, Phase::Soak, Phase::Faults, Phase::Calm];

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Soak => "soak",
            Phase::Faults => "faults",
            Phase::Calm => "calm",
        }
    }
}

/// Knobs from the environment.
struct Plan {
    soak: Duration,
    /// Time between faults (and the length of the calm phase).
    gap: Duration,
    /// Requests per second of one normal user (at most: users pace themselves).
    user_rps: u64,
}

impl Plan {
    fn from_env() -> Self {
        let secs: u64 = std::env::var("BASECOMMERCE_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(45).max(15);
        let user_rps: u64 = std::env::var("BASECOMMERCE_SOAK_USER_RPS").ok().and_then(|s| s.parse().ok()).unwrap_or(1).clamp(1, 20);
        Self { soak: Duration::from_secs(secs), gap: Duration::from_secs((secs / 8).clamp(4, 30)), user_rps }
    }
    /// The proxy's general per-IP budget: 2.5 times what a paced user can send, so normal users
    /// never reach it while the abusive address (20 times a user's rate) always does.
    fn rate_limit_per_minute(&self) -> u64 {
        self.user_rps * 150
    }
    fn abuse_interval(&self) -> Duration {
        Duration::from_millis(1000 / (20 * self.user_rps))
    }
}

// ---------------------------------------------------------------------------------------------
// Processes (the harness plays systemd)

/// One service process, restartable with the same command line, environment and ports.
struct Service {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    health: String,
    log: PathBuf,
    child: Option<KillOnDrop>,
    /// Exits nobody asked for (each was restarted, as systemd would, and is a finding).
    unexpected_exits: Vec<String>,
}

impl Service {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("service log");
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(KillOnDrop(child));
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.0.id())
    }

    /// SIGKILL and reap.
    fn kill9(&mut self) {
        drop(self.child.take()); // KillOnDrop: SIGKILL, then wait
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args([format!("-{sig}"), pid.to_string()]).status();
        }
    }

    /// Restarts the process if it exited by itself, recording why.
    fn supervise(&mut self) {
        let exited = self.child.as_mut().and_then(|c| c.0.try_wait().ok().flatten());
        if let Some(status) = exited {
            self.unexpected_exits.push(format!("{} exited by itself ({status}); restarted", self.name));
            self.child = None;
            self.spawn();
        }
    }
}

type Procs = Arc<Mutex<Vec<Service>>>;

fn with<T>(services: &Procs, name: &str, f: impl FnOnce(&mut Service) -> T) -> T {
    let mut all = services.lock().unwrap();
    let s = all.iter_mut().find(|s| s.name == name).unwrap_or_else(|| panic!("no service {name}"));
    f(s)
}

async fn healthy(http: &reqwest::Client, url: &str) -> bool {
    matches!(http.get(url).timeout(Duration::from_secs(2)).send().await, Ok(r) if r.status() == StatusCode::OK)
}

async fn wait_healthy(http: &reqwest::Client, services: &Procs, names: &[&str], what: &str) -> Duration {
    let start = Instant::now();
    let urls: Vec<String> = names.iter().map(|n| with(services, n, |s| s.health.clone())).collect();
    eventually(Duration::from_secs(90), what, || async {
        for u in &urls {
            if !healthy(http, u).await {
                return None;
            }
        }
        Some(())
    })
    .await;
    start.elapsed()
}

// ---------------------------------------------------------------------------------------------
// Tallies

#[derive(Default)]
struct Tally {
    requests: [AtomicU64; 4],
    errors: [AtomicU64; 4],
    /// 429s seen by normal users (must stay 0: their pace is below the limit).
    limited: [AtomicU64; 4],
    latencies_ms: Mutex<[Vec<u32>; 4]>,
    /// A few error samples per phase for the report.
    samples: Mutex<[Vec<String>; 4]>,
    /// Error kinds (status or "transport") per phase.
    kinds: Mutex<[BTreeMap<String, u64>; 4]>,
    /// Errors while each fault was being injected or recovered from.
    per_fault: Mutex<BTreeMap<String, u64>>,
    abuse_sent: AtomicU64,
    abuse_429: AtomicU64,
    abuse_429_without_retry_after: AtomicU64,
    orders_delivered: AtomicU64,
    flows_abandoned: [AtomicU64; 4],
}

struct Shared {
    proxy: SocketAddr,
    phase: AtomicUsize,
    /// The fault being injected (or whose gap is running), for the error tally.
    fault: Mutex<String>,
    /// Users logged in and ready.
    ready: AtomicUsize,
    stop: AtomicBool,
    tally: Tally,
    interval: Duration,
}

impl Shared {
    fn phase(&self) -> Phase {
        PHASES[self.phase.load(Ordering::SeqCst)]
    }
    fn set_phase(&self, p: Phase) {
        self.phase.store(p as usize, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// Virtual users

#[derive(Clone)]
struct Seed {
    slug: String,
    products: Vec<String>,
    client: String,
    site: String,
}

struct User {
    shared: Arc<Shared>,
    http: reqwest::Client,
    seed: Seed,
    host: String,
    token: String,
    next_at: tokio::time::Instant,
}

/// A user's own HTTP client, bound to its own loopback address.
fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder().local_address(ip).timeout(Duration::from_secs(20)).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

impl User {
    /// One paced request through the proxy; `None` on a transport error. Non-2xx answers and
    /// transport errors are counted in the phase during which they arrive.
    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Option<(StatusCode, Value)> {
        tokio::time::sleep_until(self.next_at).await;
        self.next_at = tokio::time::Instant::now() + self.shared.interval;
        let mut rb =
            self.http.request(method.clone(), format!("http://{}{path}", self.shared.proxy)).header("host", &self.host).header("accept", "application/json");
        if !self.token.is_empty() {
            rb = rb.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let started = Instant::now();
        let result = match rb.send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.text().await {
                    Ok(text) => Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null))),
                    Err(e) => Err(format!("reading body: {e}")),
                }
            }
            Err(e) => Err(format!("{e}")),
        };
        let phase = self.shared.phase() as usize;
        let t = &self.shared.tally;
        t.requests[phase].fetch_add(1, Ordering::Relaxed);
        t.latencies_ms.lock().unwrap()[phase].push(started.elapsed().as_millis() as u32);
        let problem = match &result {
            Ok((s, _)) if s.is_success() => None,
            Ok((s, b)) => {
                if *s == StatusCode::TOO_MANY_REQUESTS {
                    t.limited[phase].fetch_add(1, Ordering::Relaxed);
                }
                Some((s.as_u16().to_string(), format!("{s} {}", b["error"]["code"].as_str().unwrap_or(""))))
            }
            Err(e) => Some(("transport".to_string(), format!("transport: {e}"))),
        };
        if let Some((kind, p)) = problem {
            t.errors[phase].fetch_add(1, Ordering::Relaxed);
            *t.kinds.lock().unwrap()[phase].entry(kind).or_default() += 1;
            if phase == Phase::Faults as usize {
                *t.per_fault.lock().unwrap().entry(self.shared.fault.lock().unwrap().clone()).or_default() += 1;
            }
            let mut samples = t.samples.lock().unwrap();
            if samples[phase].len() < 12 {
                samples[phase].push(format!("{} {method} {path}: {p}", self.seed.slug));
            }
        }
        result.ok()
    }

    async fn ok(&mut self, method: Method, path: &str, body: Option<Value>) -> Option<Value> {
        match self.call(method, path, body).await {
            Some((s, b)) if s.is_success() => Some(b),
            _ => None,
        }
    }

    async fn login(&mut self) {
        let body = json!({"email": format!("admin@{}.test", self.seed.slug), "password": PASSWORD});
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(b) = self.ok(Method::POST, "/auth/login", Some(body.clone())).await {
                self.token = b["access_token"].as_str().expect("access token").to_owned();
                return;
            }
            assert!(Instant::now() < deadline, "{} cannot log in through the proxy", self.seed.slug);
        }
    }

    async fn browse(&mut self) {
        for path in ["/api/v1/products", "/api/v1/clients", "/api/v1/quotes?limit=20", "/api/v1/dashboard"] {
            self.call(Method::GET, path, None).await;
        }
    }

    /// Retries `attempt` until it succeeds; before each retry, `done` re-reads the state (the
    /// lost answer may have been a success). Gives up after a minute.
    async fn until_done(&mut self, attempt: (Method, String, Option<Value>), done: Option<(String, &[&str])>) -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(b) = self.ok(attempt.0.clone(), &attempt.1, attempt.2.clone()).await {
                return Some(b);
            }
            loop {
                if Instant::now() > deadline || self.shared.stop.load(Ordering::SeqCst) {
                    return None;
                }
                let Some((path, states)) = &done else { break };
                match self.ok(Method::GET, path, None).await {
                    Some(b) if states.contains(&b["status"].as_str().unwrap_or("")) => return Some(b),
                    Some(_) => break,
                    None => continue, // cannot tell yet: read again before writing again
                }
            }
        }
    }

    /// Quote → send → approve → order → preparing → out for delivery → delivered.
    async fn order_flow(&mut self) -> Option<String> {
        let n = rand::thread_rng().gen_range(1..=2);
        let mut products = self.seed.products.clone();
        let items: Vec<Value> = (0..n)
            .map(|_| {
                let p = products.remove(rand::thread_rng().gen_range(0..products.len()));
                json!({"product_id": p, "quantity": rand::thread_rng().gen_range(1..=5).to_string()})
            })
            .collect();
        // A lost answer to a create may still have committed: the draft is then left alone
        // (harmless), and the flow starts again with a new one.
        let quote = self.ok(Method::POST, "/api/v1/quotes", Some(json!({"client_id": self.seed.client, "site_id": self.seed.site, "items": items}))).await?;
        let qid = quote["id"].as_str()?.to_owned();
        let at = format!("/api/v1/quotes/{qid}");
        self.until_done((Method::POST, format!("{at}/send"), None), Some((at.clone(), &["sent", "approved", "converted"]))).await?;
        self.until_done((Method::POST, format!("{at}/approve"), None), Some((at.clone(), &["approved", "converted"]))).await?;
        // Converting again returns the same order: retrying is safe as is.
        let order = self.until_done((Method::POST, format!("/api/v1/orders/from-quote/{qid}"), None), None).await?;
        let oid = order["id"].as_str()?.to_owned();
        let at = format!("/api/v1/orders/{oid}");
        for (to, done) in [
            ("preparing", &["preparing", "out_for_delivery", "delivered"][..]),
            ("out_for_delivery", &["out_for_delivery", "delivered"][..]),
            ("delivered", &["delivered"][..]),
        ] {
            self.until_done((Method::PATCH, at.clone(), Some(json!({"status": to}))), Some((at.clone(), done))).await?;
        }
        Some(oid)
    }

    async fn run(mut self) {
        self.login().await;
        self.shared.ready.fetch_add(1, Ordering::SeqCst);
        while self.shared.phase() == Phase::Setup {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while !self.shared.stop.load(Ordering::SeqCst) {
            self.browse().await;
            let phase = self.shared.phase() as usize;
            match self.order_flow().await {
                Some(_) => {
                    self.shared.tally.orders_delivered.fetch_add(1, Ordering::Relaxed);
                }
                None if !self.shared.stop.load(Ordering::SeqCst) => {
                    self.shared.tally.flows_abandoned[phase].fetch_add(1, Ordering::Relaxed);
                }
                None => {}
            }
        }
    }
}

/// One address sending far more than its budget; every 429 must carry `Retry-After`.
async fn abuse(shared: Arc<Shared>, host: String, every: Duration) {
    let http = client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1)));
    let mut tick = tokio::time::interval(every);
    while !shared.stop.load(Ordering::SeqCst) {
        tick.tick().await;
        let sent = http.get(format!("http://{}/tenant.json", shared.proxy)).header("host", &host).send().await;
        shared.tally.abuse_sent.fetch_add(1, Ordering::Relaxed);
        if let Ok(r) = sent {
            if r.status() == StatusCode::TOO_MANY_REQUESTS {
                shared.tally.abuse_429.fetch_add(1, Ordering::Relaxed);
                let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
                if retry.is_none_or(|s| s < 1) {
                    shared.tally.abuse_429_without_retry_after.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Setup

async fn seed_tenant(stack: &Stack, i: usize) -> Seed {
    let slug = format!("soak{i:02}");
    let s = stack.tenant(&slug).await;
    let mut products = Vec::new();
    for p in 0..PRODUCTS_PER_TENANT {
        let id = s.product(&format!("P{p}"), &format!("{}.50", 10 + p)).await;
        s.post("/api/v1/stock/receipts", json!({"product_id": id, "quantity": INITIAL_STOCK.to_string()})).await;
        products.push(id);
    }
    let (client, site) = s.client_with_site(&format!("11.222.333/0001-{i:02}"), "Campinas", "13010-000").await;
    Seed { slug, products, client, site }
}

/// Stream status as the workers report it (length, pending, lag, dead letters).
async fn stream_status(stack: &Stack) -> Option<infra::bus::StreamStatus> {
    let mut redis = tokio::time::timeout(Duration::from_secs(5), infra::redis::connect(stack.settings.redis.url.as_ref().unwrap())).await.ok()?.ok()?;
    infra::bus::status(&mut redis, &stack.settings.engines).await.ok()
}

async fn superuser(stack: &Stack) -> tokio_postgres::Client {
    eventually(Duration::from_secs(60), "postgres accepting connections", || async {
        let (c, conn) = tokio_postgres::connect(&stack.db.superuser_url, tokio_postgres::NoTls).await.ok()?;
        tokio::spawn(conn);
        Some(c)
    })
    .await
}

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_tenants_under_load_survive_kills_and_restarts_with_every_effect_exactly_once() {
    let plan = Plan::from_env();
    let binaries = [binary("basecommerce-proxy"), binary("basecommerce-vertical"), binary("basecommerce-engines")];
    let servers = Services::start_with(Options { redis_aof: true }).expect("dedicated servers");
    let stack = Stack::start_on(&servers).await;
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak-logs");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).unwrap();

    let setup_started = Instant::now();
    let mut seeds = Vec::new();
    for i in 0..TENANTS {
        seeds.push(seed_tenant(&stack, i).await);
    }
    let setup_secs = setup_started.elapsed().as_secs_f64();

    // --- processes
    let mut base_env = stack.env();
    let edge = stack.settings.edge.secret.as_ref().unwrap().expose().to_owned();
    base_env.extend([
        ("BASECOMMERCE_EDGE__SECRET".into(), edge),
        ("BASECOMMERCE_LOG__LEVEL".into(), "warn".into()),
        ("BASECOMMERCE_VERTICAL__SECURE_COOKIES".into(), "false".into()),
        ("BASECOMMERCE_AUTH__ACCESS_TOKEN_TTL_SECS".into(), "3600".into()),
        // A worker's pending entries are reclaimed by the other this long after it died.
        ("BASECOMMERCE_ENGINES__CLAIM_IDLE_MS".into(), "3000".into()),
    ]);
    let service = |name: &str, program: &PathBuf, args: &[&str], extra: Vec<(String, String)>, health: String| {
        let mut env = base_env.clone();
        env.extend(extra);
        Service {
            name: name.into(),
            program: program.clone(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env,
            health,
            log: logs.join(format!("{name}.log")),
            child: None,
            unexpected_exits: Vec::new(),
        }
    };
    let verticals: Vec<SocketAddr> = (0..2).map(|_| format!("127.0.0.1:{}", harness::free_port()).parse().unwrap()).collect();
    let proxy_addr: SocketAddr = format!("127.0.0.1:{}", harness::free_port()).parse().unwrap();
    let mut all = Vec::new();
    for (i, v) in verticals.iter().enumerate() {
        all.push(service(
            &format!("vertical-{}", i + 1),
            &binaries[1],
            &[],
            vec![("BASECOMMERCE_VERTICAL__LISTEN".into(), v.to_string())],
            format!("http://{v}/health/ready"),
        ));
    }
    let relay_health = format!("127.0.0.1:{}", harness::free_port());
    all.push(service(
        "relay",
        &binaries[2],
        &["relay"],
        vec![("BASECOMMERCE_ENGINES__RELAY_HEALTH_LISTEN".into(), relay_health.clone())],
        format!("http://{relay_health}/health"),
    ));
    for i in 1..=2 {
        let h = format!("127.0.0.1:{}", harness::free_port());
        all.push(service(
            &format!("worker-{i}"),
            &binaries[2],
            &["worker"],
            vec![("BASECOMMERCE_ENGINES__WORKER_HEALTH_LISTEN".into(), h.clone())],
            format!("http://{h}/health"),
        ));
    }
    let upstreams = verticals.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",");
    all.push(service(
        "proxy",
        &binaries[0],
        &[],
        vec![
            ("BASECOMMERCE_PROXY__HTTP_LISTEN".into(), proxy_addr.to_string()),
            ("BASECOMMERCE_PROXY__HTTPS_LISTEN".into(), format!("127.0.0.1:{}", harness::free_port())),
            ("BASECOMMERCE_PROXY__BASE_DOMAINS".into(), format!("[{BASE_DOMAIN}]")),
            ("BASECOMMERCE_PROXY__UPSTREAMS".into(), format!("[{upstreams}]")),
            ("BASECOMMERCE_PROXY__METRICS_LISTEN".into(), format!("127.0.0.1:{}", harness::free_port())),
            ("BASECOMMERCE_PROXY__UPGRADE_SOCK".into(), std::env::temp_dir().join(format!("bc-soak-{}.sock", Uuid::new_v4().simple())).display().to_string()),
            ("BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE".into(), plan.rate_limit_per_minute().to_string()),
            ("BASECOMMERCE_PROXY__HEALTH_CHECK_INTERVAL_SECS".into(), "1".into()),
            ("BASECOMMERCE_PROXY__GRACE_PERIOD_SECS".into(), "1".into()),
            // Short, so tenant lookups (not only cache hits) happen while PostgreSQL restarts.
            ("BASECOMMERCE_PROXY__TENANT_CACHE_TTL_SECS".into(), "2".into()),
        ],
        format!("http://{proxy_addr}/health"),
    ));
    for s in &mut all {
        s.spawn();
    }
    let names: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let procs: Procs = Arc::new(Mutex::new(all));
    let probe_http = reqwest::Client::new();
    wait_healthy(&probe_http, &procs, &name_refs, "every service healthy at start").await;

    // --- supervisor (systemd's Restart=on-failure) and RSS sampler: (phase, service, KiB)
    let samples: Arc<Mutex<Vec<(Phase, String, u64)>>> = Arc::default();
    let shared = Arc::new(Shared {
        proxy: proxy_addr,
        phase: AtomicUsize::new(Phase::Setup as usize),
        fault: Mutex::new(String::new()),
        ready: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        tally: Tally::default(),
        interval: Duration::from_millis(1000 / plan.user_rps),
    });
    let sampler = {
        let (procs, samples, shared) = (procs.clone(), samples.clone(), shared.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while !shared.stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let phase = shared.phase();
                let mut all = procs.lock().unwrap();
                for s in all.iter_mut() {
                    s.supervise();
                    if let Some(kib) = s.pid().and_then(rss_kib) {
                        samples.lock().unwrap().push((phase, s.name.clone(), kib));
                    }
                }
            }
        })
    };

    // --- load
    let mut users = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        let user = User {
            shared: shared.clone(),
            http: client_from(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 10 + i as u8))),
            host: format!("{}.{BASE_DOMAIN}", seed.slug),
            seed: seed.clone(),
            token: String::new(),
            next_at: tokio::time::Instant::now() + Duration::from_millis(rand::thread_rng().gen_range(0..1000)),
        };
        users.push(tokio::spawn(user.run()));
    }
    let abuser = tokio::spawn(abuse(shared.clone(), format!("{}.{BASE_DOMAIN}", seeds[0].slug), plan.abuse_interval()));

    // Every user logs in (50 logins at once: a login storm), then the soak starts.
    eventually(Duration::from_secs(120), "every user logged in", || async { (shared.ready.load(Ordering::SeqCst) == TENANTS).then_some(()) }).await;
    let after_logins: Vec<(String, u64)> = procs.lock().unwrap().iter().filter_map(|s| Some((s.name.clone(), rss_kib(s.pid()?)?))).collect();

    // Phase 1: soak.
    shared.set_phase(Phase::Soak);
    let soak_started = Instant::now();
    tokio::time::sleep(plan.soak).await;
    let soak_secs = soak_started.elapsed().as_secs_f64();

    // Phase 2: faults, one every `gap`, while the load continues.
    shared.set_phase(Phase::Faults);
    let faults_started = Instant::now();
    // (fault, time until every affected service was healthy again, note)
    let mut recoveries: Vec<(String, Duration, String)> = Vec::new();
    let down = Duration::from_secs(1);
    let label = |what: &str| *shared.fault.lock().unwrap() = what.to_owned();
    for victim in ["worker-1", "relay", "vertical-1"] {
        label(&format!("SIGKILL {victim}"));
        let t = Instant::now();
        with(&procs, victim, Service::kill9);
        tokio::time::sleep(down).await;
        with(&procs, victim, Service::spawn);
        wait_healthy(&probe_http, &procs, &[victim], &format!("{victim} healthy after SIGKILL")).await;
        recoveries.push((format!("SIGKILL {victim}"), t.elapsed(), format!("restarted {down:?} after the kill")));
        tokio::time::sleep(plan.gap).await;
    }
    let everything: Vec<&str> = name_refs.clone();
    label("Redis restart");
    let t = Instant::now();
    tokio::task::block_in_place(|| servers.restart_redis()).expect("redis restarts");
    wait_healthy(&probe_http, &procs, &everything, "every service healthy after the Redis restart").await;
    recoveries.push(("Redis restart".into(), t.elapsed(), "append-only file kept".into()));
    tokio::time::sleep(plan.gap).await;
    label("PostgreSQL restart");
    let t = Instant::now();
    tokio::task::block_in_place(|| servers.restart_postgres()).expect("postgres restarts");
    wait_healthy(&probe_http, &procs, &everything, "every service healthy after the PostgreSQL restart").await;
    recoveries.push(("PostgreSQL restart".into(), t.elapsed(), "fast shutdown: connections cut".into()));
    tokio::time::sleep(plan.gap).await;
    // The stream fills faster than it drains: both workers stopped while orders keep coming.
    label("workers stopped");
    for w in ["worker-1", "worker-2"] {
        with(&procs, w, |s| s.signal("STOP"));
    }
    tokio::time::sleep(plan.gap).await;
    let backlog = stream_status(&stack).await.map(|s| (s.lag.unwrap_or(0), s.pending)).unwrap_or_default();
    let t = Instant::now();
    for w in ["worker-1", "worker-2"] {
        with(&procs, w, |s| s.signal("CONT"));
    }
    // One of them dies while it works through the backlog: what it had read but not
    // acknowledged must be reclaimed by the other and applied once.
    tokio::time::sleep(Duration::from_millis(100)).await;
    with(&procs, "worker-2", Service::kill9);
    tokio::time::sleep(down).await;
    with(&procs, "worker-2", Service::spawn);
    wait_healthy(&probe_http, &procs, &["worker-1", "worker-2"], "workers healthy after the backlog").await;
    eventually(Duration::from_secs(120), "the backlog drained", || async { stream_status(&stack).await.filter(|s| s.lag.unwrap_or(0) < 50).map(|_| ()) }).await;
    recoveries.push((
        "workers stopped".into(),
        t.elapsed(),
        format!(
            "SIGSTOP both for {:?}: {} entries undelivered, {} pending; SIGCONT, then worker-2 SIGKILLed mid-drain and restarted; time until the lag was under 50",
            plan.gap, backlog.0, backlog.1
        ),
    ));
    let faults_secs = faults_started.elapsed().as_secs_f64();

    // Phase 3: calm. Every service says it is healthy: users must see no errors at all again.
    wait_healthy(&probe_http, &procs, &everything, "every service healthy after the faults").await;
    shared.set_phase(Phase::Calm);
    tokio::time::sleep(plan.gap).await;
    shared.stop.store(true, Ordering::SeqCst);
    for u in users {
        tokio::time::timeout(Duration::from_secs(120), u).await.expect("users stop").expect("user task");
    }
    abuser.await.unwrap();
    sampler.await.unwrap();

    // --- drain: the engines catch up with everything the load produced.
    let db = superuser(&stack).await;
    let drain_started = Instant::now();
    eventually(Duration::from_secs(180), "outbox relayed and every event processed", || async {
        let unpublished = count(&db, "SELECT count(*) FROM event_outbox WHERE published_at IS NULL").await;
        let unprocessed = count(
            &db,
            "SELECT count(*) FROM event_outbox o, (VALUES ('stock', 'sale_recorded'), ('sales', 'sale_recorded'), ('stock', 'stock_received'), \
                                                          ('delivery', 'order_status_changed')) AS e(engine, event_type) \
             WHERE o.event_type = e.event_type AND NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.engine = e.engine AND p.event_id = o.event_id)",
        )
        .await;
        let status = stream_status(&stack).await?;
        (unpublished == 0 && unprocessed == 0 && status.pending == 0 && status.lag.unwrap_or(0) == 0).then_some(())
    })
    .await;
    let drain_secs = drain_started.elapsed().as_secs_f64();

    // --- effects exactly once
    let delivered = count(&db, "SELECT count(*) FROM orders WHERE status = 'delivered'").await;
    let sales_events = count(&db, "SELECT count(*) FROM event_outbox WHERE event_type = 'sale_recorded'").await;
    let events = count(&db, "SELECT count(*) FROM event_outbox").await;
    // Sale facts = the delivered orders' items, row for row (nothing missing, nothing extra).
    let facts_mismatch = count(
        &db,
        "SELECT count(*) FROM ((SELECT i.tenant_id, i.order_id, i.product_id, i.quantity FROM order_items i \
                                 JOIN orders o ON o.id = i.order_id AND o.tenant_id = i.tenant_id WHERE o.status = 'delivered' \
                                 EXCEPT SELECT tenant_id, order_id, product_id, quantity FROM sale_facts) \
                                UNION ALL (SELECT tenant_id, order_id, product_id, quantity FROM sale_facts \
                                 EXCEPT SELECT i.tenant_id, i.order_id, i.product_id, i.quantity FROM order_items i \
                                 JOIN orders o ON o.id = i.order_id AND o.tenant_id = i.tenant_id WHERE o.status = 'delivered')) d",
    )
    .await;
    // On hand = receipts − delivered quantities, per product: a sale applied twice (or never)
    // shows here even though sale_facts' key would hide a duplicate.
    let stock_rows = db
        .query(
            "SELECT p.tenant_id::text, p.id::text, coalesce(l.on_hand, 0)::text, coalesce(l.oversold, 0)::text, \
                    ((SELECT coalesce(sum(quantity), 0) FROM stock_movements m WHERE m.tenant_id = p.tenant_id AND m.product_id = p.id AND m.kind = 'receipt') \
                     - (SELECT coalesce(sum(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id AND o.tenant_id = i.tenant_id \
                        WHERE i.tenant_id = p.tenant_id AND i.product_id = p.id AND o.status = 'delivered'))::numeric(14, 3)::text \
             FROM products p LEFT JOIN stock_levels l ON l.tenant_id = p.tenant_id AND l.product_id = p.id",
            &[],
        )
        .await
        .unwrap();
    let stock_wrong: Vec<String> = stock_rows
        .iter()
        .filter(|r| r.get::<_, String>(2) != r.get::<_, String>(4) || r.get::<_, String>(3) != "0.000")
        .map(|r| {
            format!(
                "tenant {} product {}: on hand {} oversold {}, expected {}",
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                r.get::<_, String>(4)
            )
        })
        .collect();
    let final_stream = stream_status(&stack).await.expect("stream status");
    let proxy_answers = healthy(&probe_http, &format!("http://{proxy_addr}/health")).await;
    // Panics unless every service reports healthy once the load is over.
    wait_healthy(&probe_http, &procs, &everything, "every service healthy at the end").await;
    let unexpected: Vec<String> = procs.lock().unwrap().iter().flat_map(|s| s.unexpected_exits.clone()).collect();

    // --- memory: soak-phase samples only (faults restart processes).
    let samples = samples.lock().unwrap().clone();
    let csv: String = samples.iter().map(|(p, n, k)| format!("{},{n},{k}\n", p.name())).collect();
    let _ = std::fs::write(logs.join("rss.csv"), format!("phase,service,rss_kib\n{csv}"));
    let mut memory: BTreeMap<String, (u64, u64, u64, u64)> = BTreeMap::new(); // first-third mean, last-third mean, min, max (KiB)
    let mut leaks = Vec::new();
    for name in &names {
        let rss: Vec<u64> = samples.iter().filter(|(p, n, _)| *p == Phase::Soak && n == name).map(|(_, _, k)| *k).collect();
        if rss.len() < 6 {
            continue;
        }
        let third = rss.len() / 3;
        let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len() as u64;
        let (first, last) = (mean(&rss[..third]), mean(&rss[rss.len() - third..]));
        memory.insert(name.clone(), (first, last, *rss.iter().min().unwrap(), *rss.iter().max().unwrap()));
        // Flat means: the last third's mean RSS stays within 16 MiB + 25 % of the first third's.
        // Allocator arenas, pools filling up to their size and caches warming move RSS by a few
        // MiB at most; a leak does not stop growing. At the CI length (45 s soak, ~50 req/s) this
        // fails on leaks of roughly 8 KiB per request or more; bench/soak.sh runs longer and so
        // sees proportionally smaller ones.
        if last > first + 16 * 1024 + first / 4 {
            leaks.push(format!("{name}: {first} KiB → {last} KiB"));
        }
    }

    // --- report
    let t = &shared.tally;
    let lat = t.latencies_ms.lock().unwrap().clone();
    let err_samples = t.samples.lock().unwrap().clone();
    let mut r = String::new();
    let _ = writeln!(r, "# Soak and faults\n");
    let _ = writeln!(
        r,
        "{TENANTS} tenants, one user each at ≤ {} req/s on its own address; proxy limit {}/min per IP; 2 verticals, 1 relay, 2 workers; \
         setup {setup_secs:.1} s, soak {soak_secs:.1} s, faults {faults_secs:.1} s (one every {:?}), calm {:?}, drain {drain_secs:.1} s.\n",
        plan.user_rps,
        plan.rate_limit_per_minute(),
        plan.gap,
        plan.gap
    );
    let _ = writeln!(r, "| phase | requests | errors | 429 (normal users) | abandoned flows | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|");
    for p in PHASES {
        let i = p as usize;
        let mut l = lat[i].clone();
        l.sort_unstable();
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            p.name(),
            t.requests[i].load(Ordering::Relaxed),
            t.errors[i].load(Ordering::Relaxed),
            t.limited[i].load(Ordering::Relaxed),
            t.flows_abandoned[i].load(Ordering::Relaxed),
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            l.last().copied().unwrap_or(0)
        );
    }
    let _ = writeln!(
        r,
        "\nAbusive address: {} requests, {} answered 429 ({} without a valid Retry-After).\n",
        t.abuse_sent.load(Ordering::Relaxed),
        t.abuse_429.load(Ordering::Relaxed),
        t.abuse_429_without_retry_after.load(Ordering::Relaxed)
    );
    let per_fault = t.per_fault.lock().unwrap().clone();
    let _ = writeln!(r, "| fault | recovered after | user errors in its window | note |\n|---|---|---|---|");
    for (what, took, note) in &recoveries {
        let _ = writeln!(r, "| {what} | {:.1} s | {} | {note} |", took.as_secs_f64(), per_fault.get(what).copied().unwrap_or(0));
    }
    let kinds = t.kinds.lock().unwrap().clone();
    for p in PHASES {
        if !kinds[p as usize].is_empty() {
            let _ = writeln!(r, "\nError statuses ({}): {:?}", p.name(), kinds[p as usize]);
        }
    }
    let mib = |k: u64| k as f64 / 1024.0;
    let _ = writeln!(r, "\n| service | RSS after the login storm | soak: first third | soak: last third | soak: min | soak: max |\n|---|---|---|---|---|---|");
    for (name, (first, last, min, max)) in &memory {
        let storm = after_logins.iter().find(|(n, _)| n == name).map_or(0.0, |(_, k)| mib(*k));
        let _ = writeln!(r, "| {name} | {storm:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB |", mib(*first), mib(*last), mib(*min), mib(*max));
    }
    let _ = writeln!(
        r,
        "\nOrders delivered: {delivered} (users saw {} complete); events {events}, sale_recorded {sales_events}; \
         stream length {}, pending {}, dead letters {}; drained {drain_secs:.1} s after the load stopped.",
        t.orders_delivered.load(Ordering::Relaxed),
        final_stream.length,
        final_stream.pending,
        final_stream.dlq_length
    );
    for p in PHASES {
        let s = &err_samples[p as usize];
        if !s.is_empty() {
            let _ = writeln!(r, "\nError samples ({}):\n", p.name());
            for e in s {
                let _ = writeln!(r, "- {e}");
            }
        }
    }
    if !unexpected.is_empty() {
        let _ = writeln!(r, "\nUnexpected exits:\n\n- {}", unexpected.join("\n- "));
    }
    println!("{r}");
    let _ = std::fs::write(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak-report.md"), &r);

    // --- verdicts
    let soak = Phase::Soak as usize;
    let calm = Phase::Calm as usize;
    assert!(t.requests[soak].load(Ordering::Relaxed) > 0, "no load ran");
    assert_eq!(t.errors[soak].load(Ordering::Relaxed), 0, "normal users saw errors during the soak: {:?}", err_samples[soak]);
    assert_eq!(t.errors[calm].load(Ordering::Relaxed), 0, "errors after every service reported healthy again: {:?}", err_samples[calm]);
    // While a dependency is away, the only honest answers are "try again" (502/503/504) or a cut
    // connection; a 404 or a 500 there would be a bug (e.g. "store not found" for a live store).
    let wrong: Vec<(&String, &u64)> = kinds[Phase::Faults as usize].iter().filter(|(k, _)| !["502", "503", "504", "transport"].contains(&k.as_str())).collect();
    assert!(wrong.is_empty(), "answers during the faults that are not 'try again': {wrong:?}; samples: {:?}", err_samples[Phase::Faults as usize]);
    for p in PHASES {
        assert_eq!(t.limited[p as usize].load(Ordering::Relaxed), 0, "a normal user was rate-limited in the {} phase", p.name());
    }
    assert!(t.abuse_429.load(Ordering::Relaxed) > 0, "the abusive address was never limited");
    assert_eq!(t.abuse_429_without_retry_after.load(Ordering::Relaxed), 0, "429 without Retry-After");
    assert!(leaks.is_empty(), "memory grew during the soak: {leaks:?}");
    assert!(delivered > 0 && delivered >= t.orders_delivered.load(Ordering::Relaxed) as i64, "delivered orders: {delivered}");
    assert_eq!(sales_events, delivered, "one sale_recorded event per delivered order");
    assert_eq!(facts_mismatch, 0, "sale facts differ from the delivered orders' items");
    assert!(stock_wrong.is_empty(), "stock is not receipts minus deliveries: {stock_wrong:?}");
    assert_eq!(final_stream.pending, 0, "pending entries left in the consumer group");
    assert_eq!(final_stream.dlq_length, 0, "events were dead-lettered");
    assert!(proxy_answers, "the proxy does not answer");
    assert!(unexpected.is_empty(), "processes exited by themselves: {unexpected:?}");
}
