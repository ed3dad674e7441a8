//! The one test support of the workspace, on the hermetic harness (real PostgreSQL and Redis):
//! [`TestApp`], a running vertical with calls per tenant for the vertical's and the CLI's tests,
//! and [`Stack`], the same plus settings for the engines with a stream of their own (so tests
//! sharing one Redis never see each other's events) and an API [`Session`] per tenant, for
//! whole-system tests.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use admin::Admin;
use basecommerce_vertical::domain::user::{Email, NewPassword};
use basecommerce_vertical::startup::Application;
use harness::{Services, TestDatabase};
use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};
use infra::redis::acl::RedisService;
use infra::{Secret, Settings, TenantSlug};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod app;

pub use app::{TestApp, TestTenant};

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery";

pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Settings a test vertical runs with (and the CLI, through `migrate_url`): the given servers,
/// fresh secrets, port 0, files in a directory of its own.
pub fn test_settings_on(services: &Services, db: &TestDatabase) -> Settings {
    let mut s = Settings::default();
    s.database.url = Some(Secret::new(db.app_url.clone()));
    s.database.migrate_url = Some(Secret::new(db.owner_url.clone()));
    s.database.pool_size = 8;
    s.redis.url = Some(Secret::new(services.redis_url()));
    s.auth.jwt_secret = Some(Secret::new(random_hex(32)));
    s.edge.secret = Some(Secret::new(random_hex(32)));
    s.vertical.listen = "127.0.0.1:0".parse().unwrap();
    s.files.dir = std::env::temp_dir().join(format!("bc-files-{}", random_hex(8)));
    s.validate().expect("test settings are valid");
    s
}

/// [`test_settings_on`] the binary's shared servers.
pub fn test_settings(db: &TestDatabase) -> Settings {
    test_settings_on(harness::services(), db)
}

/// A client connection (no TLS) to a test database.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

/// A vertical plus the settings every service of the test shares.
pub struct Stack {
    pub settings: Settings,
    pub db: TestDatabase,
    pub vertical: SocketAddr,
    /// The vertical's `/metrics` listener.
    pub vertical_metrics: SocketAddr,
    pub http: reqwest::Client,
    /// The administrative (`default`) user's URL, as the admin CLI has it.
    pub redis_url: String,
    /// Each service's own Redis user, with the appliance's rules (the vertical runs as its own).
    pub redis_users: HashMap<RedisService, String>,
}

impl Stack {
    /// On the binary's shared servers.
    pub async fn start() -> Self {
        Self::start_on(harness::services()).await
    }

    /// On the given servers (dedicated ones for restart tests).
    pub async fn start_on(services: &Services) -> Self {
        infra::telemetry::install_crypto_provider();
        let db = services.create_database();
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let mut s = test_settings_on(services, &db);
        s.engines.database_url = Some(Secret::new(db.engines_url.clone()));
        s.vertical.metrics_listen = "127.0.0.1:0".parse().unwrap();
        s.engines.stream = format!("events:{tag}");
        s.engines.dlq_stream = format!("dlq:{tag}");
        s.engines.claim_idle_ms = 300;
        s.engines.poll_interval_ms = 200;
        s.engines.worker_health_listen = "127.0.0.1:0".parse().unwrap();
        s.engines.relay_health_listen = "127.0.0.1:0".parse().unwrap();
        s.validate().expect("valid test settings");
        Admin::new(s.clone()).unwrap().migrate().await.expect("migrations");
        let redis_users = create_redis_users(&services.redis_url(), &tag, &s.engines).await;
        let mut as_vertical = s.clone();
        as_vertical.redis.url = Some(Secret::new(redis_users[&RedisService::Vertical].clone()));
        let app = Application::build(as_vertical).await.expect("vertical builds");
        let vertical = app.local_addr();
        let vertical_metrics = app.metrics_addr().expect("metrics listener on port 0");
        tokio::spawn(app.run_until(std::future::pending()));
        Self { redis_url: services.redis_url(), redis_users, settings: s, db, vertical, vertical_metrics, http: reqwest::Client::new() }
    }

    /// `env` with `service`'s own Redis user, as its unit on the appliance has it.
    pub fn as_redis_user(&self, service: RedisService, env: Vec<(String, String)>) -> Vec<(String, String)> {
        replace_env(env, "BASECOMMERCE_REDIS__URL", &self.redis_users[&service])
    }

    pub fn admin(&self) -> Admin {
        Admin::new(self.settings.clone()).unwrap()
    }

    /// Creates a tenant with admin `admin@<slug>.test` and returns an API session for it.
    pub async fn tenant(&self, slug: &str) -> Session {
        let email = format!("admin@{slug}.test");
        let change = self
            .admin()
            .create_tenant(&TenantSlug::parse(slug).unwrap(), slug, Some((Email::parse(&email).unwrap(), NewPassword::parse(PASSWORD).unwrap())))
            .await
            .unwrap();
        let mut session = Session {
            base: format!("http://{}", self.vertical),
            http: self.http.clone(),
            slug: slug.into(),
            token: String::new(),
            edge: self.settings.edge.secret.clone().unwrap().expose().to_owned(),
            tenant_id: change.tenant.id,
        };
        let (s, login) = session.call(Method::POST, "/auth/login", Some(json!({"email": email, "password": PASSWORD}))).await;
        assert_eq!(s, StatusCode::OK, "{login}");
        session.token = login["access_token"].as_str().unwrap().to_owned();
        session
    }

    /// Superuser connection to the test database (sees every tenant's rows).
    pub async fn superuser(&self) -> tokio_postgres::Client {
        connect(&self.db.superuser_url).await
    }

    /// The environment of the edge (`basecommerce-proxy`): like [`Stack::env`], but connected as
    /// the edge's own role, as install.sh hands it out.
    pub fn edge_env(&self) -> Vec<(String, String)> {
        self.as_edge(self.env())
    }

    /// `env` (a process environment built from [`Stack::env`]) with the edge's database role.
    pub fn as_edge(&self, env: Vec<(String, String)>) -> Vec<(String, String)> {
        replace_env(env, "BASECOMMERCE_DATABASE__URL", &self.db.edge_url)
    }

    /// Environment that configures a `basecommerce-*` process exactly like these settings.
    pub fn env(&self) -> Vec<(String, String)> {
        let s = &self.settings;
        let e = &s.engines;
        vec![
            ("BASECOMMERCE_DATABASE__URL".into(), s.database.url.as_ref().unwrap().expose().into()),
            ("BASECOMMERCE_ENGINES__DATABASE_URL".into(), e.database_url.as_ref().unwrap().expose().into()),
            ("BASECOMMERCE_REDIS__URL".into(), s.redis.url.as_ref().unwrap().expose().into()),
            ("BASECOMMERCE_ENGINES__STREAM".into(), e.stream.clone()),
            ("BASECOMMERCE_ENGINES__DLQ_STREAM".into(), e.dlq_stream.clone()),
            ("BASECOMMERCE_ENGINES__CLAIM_IDLE_MS".into(), e.claim_idle_ms.to_string()),
            ("BASECOMMERCE_ENGINES__POLL_INTERVAL_MS".into(), e.poll_interval_ms.to_string()),
            ("BASECOMMERCE_ENGINES__WORKER_HEALTH_LISTEN".into(), "127.0.0.1:0".into()),
            ("BASECOMMERCE_ENGINES__RELAY_HEALTH_LISTEN".into(), "127.0.0.1:0".into()),
            ("BASECOMMERCE_VERTICAL__METRICS_LISTEN".into(), "127.0.0.1:0".into()),
            ("BASECOMMERCE_DATABASE__MIGRATE_URL".into(), s.database.migrate_url.as_ref().unwrap().expose().into()),
            ("BASECOMMERCE_AUTH__JWT_SECRET".into(), s.auth.jwt_secret.as_ref().unwrap().expose().into()),
            ("BASECOMMERCE_LOG__FORMAT".into(), "json".into()),
            ("BASECOMMERCE_FILES__DIR".into(), s.files.dir.display().to_string()),
        ]
    }
}

/// `env` with `key` set to `value` where it appears.
fn replace_env(mut env: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    for (k, v) in env.iter_mut() {
        if k == key {
            *v = value.to_owned();
        }
    }
    env
}

/// Creates one Redis user per service for this test (names suffixed with `tag`, since tests
/// share the server) with exactly the appliance's rules, and returns their URLs.
async fn create_redis_users(admin_url: &str, tag: &str, engines: &infra::config::EnginesSettings) -> HashMap<RedisService, String> {
    let mut conn = redis::Client::open(admin_url).unwrap().get_multiplexed_async_connection().await.expect("redis");
    let addr = admin_url.trim_start_matches("redis://");
    let mut users = HashMap::new();
    for service in RedisService::ALL {
        let (name, password) = (format!("{}-{tag}", service.user()), random_hex(16));
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER").arg(&name).arg("reset").arg("on").arg(format!(">{password}")).arg(service.rules(engines));
        let () = cmd.query_async(&mut conn).await.unwrap_or_else(|e| panic!("ACL SETUSER {name}: {e}"));
        users.insert(service, format!("redis://{name}:{password}@{addr}"));
    }
    users
}

/// An authenticated API client of one tenant, calling the vertical as the proxy would.
#[derive(Clone)]
pub struct Session {
    base: String,
    http: reqwest::Client,
    pub slug: String,
    pub token: String,
    edge: String,
    pub tenant_id: uuid::Uuid,
}

impl Session {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self.http.request(method, format!("{}{path}", self.base)).header(EDGE_SECRET_HEADER, &self.edge).header(TENANT_SLUG_HEADER, &self.slug);
        if !self.token.is_empty() {
            rb = rb.bearer_auth(&self.token);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Sends raw bytes (an upload) with any content type.
    pub async fn send_bytes(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(EDGE_SECRET_HEADER, &self.edge)
            .header(TENANT_SLUG_HEADER, &self.slug)
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A GET of raw bytes: status, content type, body.
    pub async fn get_bytes(&self, path: &str, token: Option<&str>) -> (StatusCode, String, Vec<u8>) {
        let mut rb = self.http.get(format!("{}{path}", self.base)).header(EDGE_SECRET_HEADER, &self.edge).header(TENANT_SLUG_HEADER, &self.slug);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (status, ct, resp.bytes().await.unwrap().to_vec())
    }

    /// POSTs and expects 200/201; returns the body.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (s, b) = self.call(Method::POST, path, Some(body)).await;
        assert!(s.is_success(), "POST {path}: {s} {b}");
        b
    }

    pub async fn product(&self, code: &str, price: &str) -> String {
        self.post("/api/v1/products", json!({"code": code, "name": code, "unit": "UN", "base_price": price})).await["id"].as_str().unwrap().to_owned()
    }

    /// A client with a site in `city`/`postal_code`; returns (client, site).
    pub async fn client_with_site(&self, document: &str, city: &str, postal_code: &str) -> (String, String) {
        let c = self.post("/api/v1/clients", json!({"kind": "company", "name": format!("Client {document}"), "document": document})).await;
        let cid = c["id"].as_str().unwrap().to_owned();
        let s = self.post("/api/v1/sites", json!({"client_id": cid, "name": "Obra", "city": city, "postal_code": postal_code})).await;
        (cid, s["id"].as_str().unwrap().to_owned())
    }

    /// Quote → send → approve → order; returns the order id.
    pub async fn order(&self, client: &str, site: &str, items: &[(&str, &str)]) -> String {
        let items: Vec<Value> = items.iter().map(|(p, q)| json!({"product_id": p, "quantity": q})).collect();
        let q = self.post("/api/v1/quotes", json!({"client_id": client, "site_id": site, "items": items})).await;
        let qid = q["id"].as_str().unwrap();
        self.post(&format!("/api/v1/quotes/{qid}/send"), json!({})).await;
        self.post(&format!("/api/v1/quotes/{qid}/approve"), json!({})).await;
        self.post(&format!("/api/v1/orders/from-quote/{qid}"), json!({})).await["id"].as_str().unwrap().to_owned()
    }

    pub async fn set_status(&self, order: &str, status: &str) {
        let (s, b) = self.call(Method::PATCH, &format!("/api/v1/orders/{order}"), Some(json!({"status": status}))).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }

    /// Walks an order to `delivered`.
    pub async fn deliver(&self, order: &str) {
        for s in ["preparing", "out_for_delivery", "delivered"] {
            self.set_status(order, s).await;
        }
    }
}

/// A binary of the workspace (`basecommerce-proxy`, `basecommerce-vertical`, …), which cargo puts
/// next to the directory of this test's own executable (`target/<profile>/`). Tests of this
/// package are not given other packages' binaries, so they look there.
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(std::path::Path::parent).expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace's binaries first (`cargo build --workspace --bins`, with the same profile; \
         `cargo test --workspace` does it)",
        path.display()
    );
    path
}

/// Resident memory of a process, in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Polls `check` until it returns `Some` or `timeout` passes (then panics with `what`).
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
