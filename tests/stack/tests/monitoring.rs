//! Monitoring as shipped (`infra/monitoring/`): the alert rules pass `promtool check rules` and
//! their unit tests; every service's `/metrics` is scraped after real traffic and holds the named
//! series with plausible values (requests by route template, outbox lag rising while the relay
//! is stopped and falling after); every metric the dashboard and the alert rules name is one the
//! services really export; `basecommerce status` reads the same endpoints and says when
//! something needs attention.
//!
//! Needs Debian's `prometheus` package (promtool) and the workspace's binaries
//! (`cargo build --workspace --bins`, which `cargo test --workspace` does).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use admin::status::Scrape;
use infra::redis::acl::RedisService;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stack::{eventually, workspace_binary, Stack};

const BASE_DOMAIN: &str = "mon.test";
const WAIT: Duration = Duration::from_secs(60);

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/monitoring")
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    for args in [["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(monitoring_dir())
            .output()
            .expect("promtool is needed (Debian's prometheus package; tests/ensure-packages.sh installs it)");
        assert!(out.status.success(), "promtool {args:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
}

/// A service process, killed when dropped.
struct Proc(std::process::Child);

impl Proc {
    fn spawn(program: &Path, args: &[&str], env: &[(String, String)]) -> Self {
        let child = Command::new(program).args(args).envs(env.iter().cloned()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn();
        Self(child.unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display())))
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    format!("127.0.0.1:{}", harness::free_port()).parse().unwrap()
}

async fn scrape(http: &reqwest::Client, addr: SocketAddr) -> Option<Scrape> {
    let resp = http.get(format!("http://{addr}/metrics")).send().await.ok()?;
    (resp.status() == StatusCode::OK).then_some(())?;
    Some(Scrape::parse(&resp.text().await.ok()?))
}

async fn scrape_now(http: &reqwest::Client, addr: SocketAddr) -> Scrape {
    eventually(WAIT, &format!("{addr}/metrics answering"), || scrape(http, addr)).await
}

/// Metric names a PromQL expression reads: identifiers that are not functions, keywords,
/// label names (inside `{}` or `by (…)`), strings or durations.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "inf",
        "nan",
        // Aggregations may put `by (…)` before their parenthesis.
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let (mut i, mut skip_list) = (0, false);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    i += if chars[i] == '"' { 1 + chars[i + 1..].iter().position(|&x| x == '"').unwrap_or(0) + 1 } else { 1 };
                }
                i += 1;
            }
            '(' if skip_list => {
                i += chars[i..].iter().position(|&x| x == ')').unwrap_or(chars.len() - i) + 1;
                skip_list = false;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|x| !x.is_whitespace()).copied();
                if matches!(word.as_str(), "by" | "without" | "on" | "ignoring" | "group_left" | "group_right") {
                    skip_list = true;
                } else if next != Some('(') && !KEYWORDS.contains(&word.to_lowercase().as_str()) {
                    names.insert(word);
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number or a duration (5m, 1h30m).
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    names
}

fn dashboard_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(monitoring_dir().join("dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is valid JSON");
    let mut exprs = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(e)) = m.get("expr") {
                    out.push(e.clone());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "the dashboard has its panels' queries: {}", exprs.len());
    exprs
}

fn alert_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(monitoring_dir().join("alerts.yml")).unwrap();
    text.lines().filter_map(|l| l.trim().strip_prefix("expr:")).map(|e| e.trim().to_owned()).collect()
}

#[test]
fn promql_names_are_found() {
    let names =
        metric_names(r#"histogram_quantile(0.99, sum by (le, route) (rate(basecommerce_vertical_request_seconds_bucket{route!~"/health.*"}[5m]))) > 1"#);
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["basecommerce_vertical_request_seconds_bucket"]);
    let names = metric_names("time() - max(a_b) and max(c) > 0 or up == 0");
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a_b", "c", "up"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_exports_the_series_that_alerts_and_dashboard_use_after_real_traffic() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let engines = workspace_binary("basecommerce-engines");
    let http = reqwest::Client::new();
    let (relay_addr, worker_addr, proxy_addr, proxy_metrics) = (free_addr(), free_addr(), free_addr(), free_addr());
    let mut env = stack.env();
    env.extend([
        ("BASECOMMERCE_EDGE__SECRET".into(), stack.settings.edge.secret.as_ref().unwrap().expose().to_owned()),
        ("BASECOMMERCE_LOG__LEVEL".into(), "warn".into()),
        ("BASECOMMERCE_ENGINES__RELAY_HEALTH_LISTEN".into(), relay_addr.to_string()),
        ("BASECOMMERCE_ENGINES__WORKER_HEALTH_LISTEN".into(), worker_addr.to_string()),
        ("BASECOMMERCE_ENGINES__CONSUMER_NAME".into(), "monitoring-worker".into()),
        ("BASECOMMERCE_PROXY__HTTP_LISTEN".into(), proxy_addr.to_string()),
        ("BASECOMMERCE_PROXY__HTTPS_LISTEN".into(), free_addr().to_string()),
        ("BASECOMMERCE_PROXY__METRICS_LISTEN".into(), proxy_metrics.to_string()),
        ("BASECOMMERCE_PROXY__BASE_DOMAINS".into(), format!("[{BASE_DOMAIN}]")),
        ("BASECOMMERCE_PROXY__UPSTREAMS".into(), format!("[{}]", stack.vertical)),
        ("BASECOMMERCE_PROXY__HEALTH_CHECK_INTERVAL_SECS".into(), "1".into()),
        ("BASECOMMERCE_PROXY__UPGRADE_SOCK".into(), std::env::temp_dir().join(format!("bc-mon-{}.sock", uuid::Uuid::new_v4().simple())).display().to_string()),
    ]);
    // Each service as its own Redis user with the appliance's rules (issue 15, finding 7).
    let mut relay = Proc::spawn(&engines, &["relay"], &stack.as_redis_user(RedisService::Relay, env.clone()));
    let _worker = Proc::spawn(&engines, &["worker"], &stack.as_redis_user(RedisService::Worker, env.clone()));
    let _proxy = Proc::spawn(&workspace_binary("basecommerce-proxy"), &[], &stack.as_edge(stack.as_redis_user(RedisService::Proxy, env.clone())));

    // Real traffic: through the edge, and the API as the edge would send it.
    let host = format!("acme.{BASE_DOMAIN}");
    eventually(WAIT, "the edge serving the tenant", || async {
        let r = http.get(format!("http://{proxy_addr}/tenant.json")).header("host", &host).send().await.ok()?;
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
    // The proxy listens for tenant changes and the vertical for user changes, each as its own user.
    let admin_redis = redis::Client::open(stack.redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for service in [RedisService::Proxy, RedisService::Vertical] {
        let user = stack.redis_users[&service].trim_start_matches("redis://").split(':').next().unwrap().to_owned();
        eventually(WAIT, &format!("{user} subscribed"), || {
            let mut c = admin_redis.clone();
            let user = user.clone();
            async move {
                let clients: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut c).await.unwrap();
                clients.lines().any(|l| l.contains(&format!(" user={user} ")) && l.contains(" sub=1 ")).then_some(())
            }
        })
        .await;
    }
    let p = s.product("CIM", "10.00").await;
    for _ in 0..3 {
        assert_eq!(s.call(Method::GET, &format!("/api/v1/products/{p}"), None).await.0, StatusCode::OK);
    }
    assert_eq!(s.call(Method::GET, &format!("/api/v1/products/{}", uuid::Uuid::new_v4()), None).await.0, StatusCode::NOT_FOUND);
    let bad = json!({"email": "admin@acme.test", "password": "wrong password, surely"});
    assert_eq!(s.call(Method::POST, "/auth/login", Some(bad)).await.0, StatusCode::UNAUTHORIZED);
    s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "2"})).await;
    let db = stack.superuser().await;
    eventually(WAIT, "the receipt applied by the worker", || async {
        let r = db.query_opt("SELECT on_hand::text FROM stock_levels", &[]).await.unwrap();
        r.filter(|r| r.get::<_, String>(0) == "2.000").map(|_| ())
    })
    .await;

    // The vertical: requests by route template (never a raw id), logins, pool.
    let vertical = scrape_now(&http, stack.vertical_metrics).await;
    let requests = "basecommerce_vertical_requests_total";
    assert!(vertical.sum(requests, &[("route", "/api/v1/products/{id}"), ("method", "GET"), ("status", "2xx")]) >= 3.0);
    assert!(vertical.sum(requests, &[("route", "/api/v1/products/{id}"), ("status", "4xx")]) >= 1.0);
    assert!(vertical.sum(requests, &[("route", "/api/v1/products"), ("method", "POST"), ("status", "2xx")]) >= 1.0);
    let routes: BTreeSet<&str> = vertical.find(requests, &[]).filter_map(|s| s.labels.get("route").map(String::as_str)).collect();
    assert!(routes.iter().all(|r| !r.contains(&p)), "no raw path as a label: {routes:?}");
    assert!(vertical.sum("basecommerce_vertical_request_seconds_count", &[("route", "/api/v1/products/{id}")]) >= 3.0);
    assert!(vertical.sum("basecommerce_vertical_logins_total", &[("outcome", "success")]) >= 1.0);
    assert!(vertical.sum("basecommerce_vertical_logins_total", &[("outcome", "failure")]) >= 1.0);
    let pool = vertical.sum("basecommerce_vertical_db_pool_connections", &[]);
    assert!((1.0..=8.0).contains(&pool), "pool connections within database.pool_size: {pool}");

    // The engines: events applied, per-engine time, the bus figures.
    let worker = scrape_now(&http, worker_addr).await;
    assert!(worker.sum("basecommerce_engines_events_total", &[("outcome", "applied")]) >= 1.0);
    assert!(worker.sum("basecommerce_engines_engine_seconds_count", &[("engine", "stock")]) >= 1.0);
    assert_eq!(worker.value("basecommerce_dlq_length"), Some(0.0));
    assert!(worker.value("basecommerce_stream_length").is_some_and(|l| l >= 1.0));
    assert_eq!(worker.value("basecommerce_stream_consumers"), Some(1.0), "one stable consumer");
    let relay_scrape = scrape_now(&http, relay_addr).await;
    assert!(relay_scrape.value("basecommerce_relay_published_total").is_some_and(|n| n >= 1.0));
    assert_eq!(relay_scrape.value("basecommerce_relay_leader"), Some(1.0));
    let proxy = scrape_now(&http, proxy_metrics).await;
    assert!(proxy.sum("basecommerce_proxy_requests_total", &[("tenant", "acme"), ("status", "200")]) >= 1.0);

    // Every name the dashboard and the alert rules read is exported. The certificate series
    // exist once the edge's ACME client serves a certificate (tests/stack/tests/acme.rs); they must
    // at least be the proxy's registered names.
    let exported: BTreeSet<String> =
        [&vertical, &worker, &relay_scrape, &proxy].iter().flat_map(|s| s.names().into_iter().map(str::to_owned)).collect::<BTreeSet<_>>();
    let proxy_source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proxy/src/metrics.rs")).unwrap();
    let conditional = ["basecommerce_proxy_certificate_expiry_seconds", "basecommerce_proxy_certificate_failures"];
    for (what, exprs) in [("dashboard", dashboard_exprs()), ("alerts.yml", alert_exprs())] {
        for expr in &exprs {
            for name in metric_names(expr) {
                if name == "up" || name.starts_with("node_") {
                    continue; // Prometheus's own and node-exporter's
                }
                // The proxy's statics register on first use (a first 429, a first certificate).
                if conditional.contains(&name.as_str()) || (name.starts_with("basecommerce_proxy_") && !exported.contains(&name)) {
                    assert!(proxy_source.contains(&format!("\"{name}\"")), "{name} is registered by the proxy");
                    continue;
                }
                assert!(exported.contains(&name), "{what} reads {name} ({expr}), which no service exports");
            }
        }
    }

    // `basecommerce status` from the same endpoints: the stream and outbox figures, all up.
    let status_env: Vec<(String, String)> = vec![
        ("BASECOMMERCE_VERTICAL__METRICS_LISTEN".into(), stack.vertical_metrics.to_string()),
        ("BASECOMMERCE_PROXY__METRICS_LISTEN".into(), proxy_metrics.to_string()),
        ("BASECOMMERCE_ENGINES__RELAY_HEALTH_LISTEN".into(), relay_addr.to_string()),
        ("BASECOMMERCE_ENGINES__WORKER_HEALTH_LISTEN".into(), worker_addr.to_string()),
    ];
    let status = |env: Vec<(String, String)>| {
        let out = Command::new(workspace_binary("basecommerce"))
            .args(["status", "--json", "--sample-secs", "1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("status --json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code(), doc)
    };
    let (_, doc) = status(status_env.clone());
    assert!(doc["endpoints"].as_array().unwrap().iter().all(|e| e["up"] == true), "{doc:#}");
    assert_eq!(doc["events"]["dead_letters"], 0.0, "{doc:#}");
    assert_eq!(doc["events"]["outbox_lag_seconds"], 0.0, "{doc:#}");
    assert!(doc["attention"].as_array().unwrap().iter().all(|a| !a.as_str().unwrap_or("").contains("no answer")), "{doc:#}");

    // The relay stops: the outbox lag (seen by the worker) rises; it falls once a relay is back.
    relay.terminate();
    s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "1"})).await;
    let lag = |scrape: Scrape| scrape.value("basecommerce_outbox_lag_seconds").unwrap_or(-1.0);
    let first = eventually(WAIT, "an unpublished row seen", || async {
        let w = scrape(&http, worker_addr).await?;
        (w.value("basecommerce_outbox_unpublished")? >= 1.0).then(|| lag(w))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = lag(scrape_now(&http, worker_addr).await);
    assert!(later > first && later >= 1.0, "outbox lag rises while no relay runs: {first} → {later}");
    let (code, doc) = status(status_env.clone());
    assert_eq!(code, Some(1), "status exits non-zero with the relay down: {doc:#}");
    assert!(doc["attention"].as_array().unwrap().iter().any(|a| a.as_str().unwrap_or("").starts_with("relay:")), "{doc:#}");

    let _relay = Proc::spawn(&engines, &["relay"], &env);
    eventually(WAIT, "the outbox lag back to 0 with a relay again", || async {
        let w = scrape(&http, worker_addr).await?;
        (w.value("basecommerce_outbox_lag_seconds")? == 0.0 && w.value("basecommerce_outbox_unpublished")? == 0.0).then_some(())
    })
    .await;
}
