//! `basecommerce status`: one screen of what operators watch, read from the services' own
//! endpoints (`/metrics`, `/health`), systemd, pgBackRest and `df` — the same figures the
//! shipped alert rules use, with the same thresholds, so the exit status says whether
//! something needs attention.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One scrape in the Prometheus text format: `(name, labels) → value`. Comments and malformed
/// lines are skipped (the services' exposition comes from the `prometheus` crate).
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let samples = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).filter_map(parse_sample).collect();
        Self { samples }
    }

    /// The metric names present.
    pub fn names(&self) -> std::collections::BTreeSet<&str> {
        self.samples.iter().map(|s| s.name.as_str()).collect()
    }

    /// Samples of `name` whose labels include every `(key, value)` of `matching`.
    pub fn find<'a>(&'a self, name: &'a str, matching: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name && matching.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
    }

    /// Sum of the matching samples (0 when none).
    pub fn sum(&self, name: &str, matching: &[(&str, &str)]) -> f64 {
        self.find(name, matching).map(|s| s.value).sum()
    }

    /// The one unlabelled value of a gauge, if present.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.find(name, &[]).map(|s| s.value).reduce(f64::max)
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(after) => parse_labels(after)?,
        None => (BTreeMap::new(), &line[name_end..]),
    };
    let value = match rest.split_whitespace().next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample { name: name.to_owned(), labels, value })
}

/// `a="x",b="y"}` with `\"`, `\\` and `\n` escapes (values may hold braces: route templates
/// do); returns the labels and what follows the closing brace.
fn parse_labels(mut rest: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim().to_owned(), value);
        rest = &after[end + 1..];
    }
}

/// The p`q` latency from cumulative histogram buckets (`le` → count), linearly interpolated
/// within the bucket as Prometheus's `histogram_quantile` does.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.iter().find(|(le, _)| le.is_infinite()).map(|b| b.1).or_else(|| buckets.last().map(|b| b.1))?;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(previous.0);
            }
            let width = count - previous.1;
            return Some(if width > 0.0 { previous.0 + (le - previous.0) * (rank - previous.1) / width } else { le });
        }
        previous = (le, count);
    }
    None
}

/// A service endpoint and whether it answered.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub service: String,
    pub address: String,
    pub up: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    pub unit: String,
    pub state: String,
}

/// The vertical's traffic over the sampling interval (cumulative since start when idle).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Traffic {
    pub requests_per_second: f64,
    pub error_ratio: Option<f64>,
    pub p99_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Events {
    pub outbox_lag_seconds: Option<f64>,
    pub outbox_unpublished: Option<f64>,
    pub stream_lag: Option<f64>,
    pub pending: Option<f64>,
    pub oldest_pending_seconds: Option<f64>,
    pub dead_letters: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    pub name: String,
    pub expires_in_days: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Disk {
    pub mount: String,
    pub used_percent: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub last: Option<chrono::DateTime<chrono::Utc>>,
    pub age_hours: Option<f64>,
    pub status: String,
}

/// Everything `basecommerce status` shows; `attention` lists what is wrong (empty: all well).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub units: Vec<Unit>,
    pub endpoints: Vec<Endpoint>,
    pub traffic: Traffic,
    pub events: Events,
    pub certificates: Vec<Certificate>,
    pub backup: Option<Backup>,
    pub disk: Vec<Disk>,
    pub attention: Vec<String>,
}

/// Thresholds shared with `infra/monitoring/alerts.yml`.
const OUTBOX_LAG_SECS: f64 = 60.0;
const PENDING_SECS: f64 = 300.0;
const ERROR_RATIO: f64 = 0.05;
const P99_SECS: f64 = 1.0;
const CERT_DAYS: f64 = 14.0;
const DISK_PERCENT: u32 = 85;
const BACKUP_HOURS: f64 = 26.0;

async fn get(http: &reqwest::Client, addr: SocketAddr, path: &str) -> Option<String> {
    let resp = http.get(format!("http://{addr}{path}")).send().await.ok()?;
    resp.status().is_success().then_some(())?;
    resp.text().await.ok()
}

/// Collects the status; `sample` is how long to watch the vertical's counters for rates.
pub async fn collect(settings: &infra::Settings, sample: Duration) -> Status {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build().unwrap_or_default();
    let units = units();
    let enabled = |unit: &str| units.as_ref().is_none_or(|u| u.iter().any(|x| x.unit == unit));
    let mut targets: Vec<(String, String, SocketAddr)> = vec![
        ("proxy".into(), "basecommerce-proxy.service".into(), settings.proxy.metrics_listen),
        ("vertical".into(), "basecommerce-vertical.service".into(), settings.vertical.metrics_listen),
        ("relay".into(), "basecommerce-relay.service".into(), settings.engines.relay_health_listen),
        ("worker".into(), "basecommerce-worker.service".into(), settings.engines.worker_health_listen),
    ];
    // Extra workers (`basecommerce-worker@NN`) are found through systemd, each on its own port.
    for unit in units.iter().flatten() {
        if let Some((instance, addr)) = worker_instance(&unit.unit) {
            targets.push((format!("worker@{instance}"), unit.unit.clone(), addr));
        }
    }
    let mut attention = Vec::new();
    let mut endpoints = Vec::new();
    let mut scrapes: BTreeMap<String, Scrape> = BTreeMap::new();
    let started = Instant::now();
    for (service, unit, addr) in targets {
        let text = get(&http, addr, "/metrics").await;
        let up = text.is_some();
        if let Some(t) = text {
            scrapes.insert(service.clone(), Scrape::parse(&t));
        }
        if !up && enabled(&unit) {
            attention.push(format!("{service}: no answer from {addr}/metrics (systemctl status {unit})"));
        }
        endpoints.push(Endpoint { service, address: addr.to_string(), up });
    }
    for u in units.iter().flatten().filter(|u| u.state != "active") {
        attention.push(format!("{} is {} (journalctl -u {} -n 50)", u.unit, u.state, u.unit));
    }

    let traffic = match scrapes.get("vertical") {
        Some(first) => {
            tokio::time::sleep(sample.saturating_sub(started.elapsed())).await;
            let second = get(&http, settings.vertical.metrics_listen, "/metrics").await.map(|t| Scrape::parse(&t));
            traffic(first, second.as_ref().unwrap_or(first), started.elapsed())
        }
        None => Traffic::default(),
    };
    if traffic.error_ratio.is_some_and(|r| r > ERROR_RATIO) {
        attention.push(format!("{:.1} % of the vertical's answers are 5xx (journalctl -u basecommerce-vertical)", traffic.error_ratio.unwrap_or(0.0) * 100.0));
    }
    if traffic.p99_seconds.is_some_and(|p| p > P99_SECS) {
        attention.push(format!("the vertical's p99 latency is {:.2} s", traffic.p99_seconds.unwrap_or(0.0)));
    }

    let engines: Vec<&Scrape> = scrapes.iter().filter(|(service, _)| service.starts_with("worker") || *service == "relay").map(|(_, s)| s).collect();
    let max = |name: &str| engines.iter().filter_map(|s| s.value(name)).reduce(f64::max);
    let events = Events {
        outbox_lag_seconds: max("basecommerce_outbox_lag_seconds"),
        outbox_unpublished: max("basecommerce_outbox_unpublished"),
        stream_lag: max("basecommerce_stream_lag"),
        pending: max("basecommerce_stream_pending"),
        oldest_pending_seconds: max("basecommerce_stream_oldest_pending_seconds"),
        dead_letters: max("basecommerce_dlq_length"),
    };
    if let Some(lag) = events.outbox_lag_seconds.filter(|l| *l > OUTBOX_LAG_SECS) {
        attention.push(format!("events wait {lag:.0} s in the outbox: is a relay leading? (basecommerce events status)"));
    }
    if let Some(age) = events.oldest_pending_seconds.filter(|a| *a > PENDING_SECS) {
        attention.push(format!("an event has been pending for {age:.0} s (journalctl -u basecommerce-worker)"));
    }
    if let Some(n) = events.dead_letters.filter(|n| *n > 0.0) {
        attention.push(format!("{n:.0} dead letters (basecommerce dlq list)"));
    }

    let certificates: Vec<Certificate> = scrapes
        .get("proxy")
        .map(|s| {
            s.find("basecommerce_proxy_certificate_expiry_seconds", &[])
                .map(|c| Certificate { name: c.labels.get("name").cloned().unwrap_or_default(), expires_in_days: c.value / 86400.0 })
                .collect()
        })
        .unwrap_or_default();
    for c in certificates.iter().filter(|c| c.expires_in_days < CERT_DAYS) {
        attention.push(format!("certificate {} expires in {:.1} days (basecommerce cert status)", c.name, c.expires_in_days));
    }

    let backup = backup();
    if let Some(b) = &backup {
        if b.age_hours.is_none_or(|h| h > BACKUP_HOURS) {
            attention.push(format!("no backup in the last {BACKUP_HOURS} h (basecommerce backup status)"));
        }
    }
    let disk = disk();
    for d in disk.iter().filter(|d| d.used_percent > DISK_PERCENT) {
        attention.push(format!("{} is {} % full", d.mount, d.used_percent));
    }
    Status { units: units.unwrap_or_default(), endpoints, traffic, events, certificates, backup, disk, attention }
}

/// Rates between two scrapes of the vertical; with no request in between, the totals since start.
fn traffic(first: &Scrape, second: &Scrape, elapsed: Duration) -> Traffic {
    const REQUESTS: &str = "basecommerce_vertical_requests_total";
    const BUCKETS: &str = "basecommerce_vertical_request_seconds_bucket";
    let delta = second.sum(REQUESTS, &[]) - first.sum(REQUESTS, &[]);
    let (base, total) = if delta > 0.0 { (Some(first), delta) } else { (None, second.sum(REQUESTS, &[])) };
    let errors = second.sum(REQUESTS, &[("status", "5xx")]) - base.map_or(0.0, |b| b.sum(REQUESTS, &[("status", "5xx")]));
    let mut by_le: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for s in second.find(BUCKETS, &[]) {
        let Some(le) = s.labels.get("le").and_then(|l| if l == "+Inf" { Some(f64::INFINITY) } else { l.parse().ok() }) else { continue };
        let route = s.labels.get("route").map(String::as_str).unwrap_or_default();
        if route.starts_with("/health") {
            continue;
        }
        let before = base.map_or(0.0, |b| b.sum(BUCKETS, &[("le", s.labels["le"].as_str()), ("route", route)]));
        by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += s.value - before;
    }
    let mut buckets: Vec<(f64, f64)> = by_le.into_values().collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Traffic {
        requests_per_second: if delta > 0.0 { delta / elapsed.as_secs_f64().max(0.001) } else { 0.0 },
        error_ratio: (total > 0.0).then(|| errors / total),
        p99_seconds: quantile(0.99, &buckets),
    }
}

/// Enabled basecommerce units and running instances of templates (`basecommerce-worker@11`),
/// with their state; `None` where systemd cannot be asked.
fn units() -> Option<Vec<Unit>> {
    let listing = crate::doctor::run_output("systemctl", &["list-unit-files", "basecommerce-*.service", "--state=enabled", "--no-legend", "--plain"])?;
    let mut names: Vec<String> = listing.lines().filter_map(|l| l.split_whitespace().next()).filter(|u| !u.contains("@.")).map(str::to_owned).collect();
    // Instances are not unit files of their own: systemctl lists them among the loaded units.
    let instances = crate::doctor::run_output("systemctl", &["list-units", "basecommerce-*@*.service", "--no-legend", "--plain"]).unwrap_or_default();
    for unit in instances.lines().filter_map(|l| l.split_whitespace().next()) {
        if !names.iter().any(|n| n == unit) {
            names.push(unit.to_owned());
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(
        names
            .into_iter()
            .map(|unit| {
                let state = crate::doctor::run_output("systemctl", &["is-active", &unit]).unwrap_or_default().trim().to_owned();
                Unit { unit, state }
            })
            .collect(),
    )
}

/// `basecommerce-worker@NN.service` → its instance and health/metrics address, 127.0.0.1:91NN
/// (as `systemd/basecommerce-worker@.service` sets it).
pub fn worker_instance(unit: &str) -> Option<(String, SocketAddr)> {
    let instance = unit.strip_prefix("basecommerce-worker@")?.strip_suffix(".service")?;
    if instance.len() != 2 || !instance.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port: u16 = format!("91{instance}").parse().ok()?;
    Some((instance.to_owned(), SocketAddr::from(([127, 0, 0, 1], port))))
}

/// The newest backup; `None` where pgBackRest is not set up (no backups to judge).
fn backup() -> Option<Backup> {
    let status = crate::backup::status().ok()?;
    let last = status.backups.iter().filter_map(|b| b.stopped_at).max();
    let age_hours = last.map(|t| (chrono::Utc::now() - t).num_seconds() as f64 / 3600.0);
    Some(Backup { last, age_hours, status: status.status })
}

fn disk() -> Vec<Disk> {
    let paths: Vec<&str> = ["/", "/var/lib/postgresql", "/var/lib/redis"].into_iter().filter(|p| std::path::Path::new(p).exists()).collect();
    let mut args = vec!["-P"];
    args.extend(&paths);
    let Some(df) = crate::doctor::run_output("df", &args) else { return Vec::new() };
    let mut seen = std::collections::BTreeSet::new();
    crate::doctor::parse_df(&df)
        .into_iter()
        .filter(|(mount, _, _)| seen.insert(mount.clone()))
        .map(|(mount, used_percent, _)| Disk { mount, used_percent })
        .collect()
}

/// `basecommerce status [--sample-secs N] [--json]`: exit 0 when all is well, 1 when something
/// needs attention, 78 when the configuration cannot be read.
pub async fn command(loaded: Result<infra::Settings, infra::ConfigError>, sample_secs: u64, json: bool) -> std::process::ExitCode {
    let settings = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("basecommerce: {e}");
            return std::process::ExitCode::from(78);
        }
    };
    let status = collect(&settings, Duration::from_secs(sample_secs)).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&status).unwrap_or_default());
    } else {
        print!("{}", render(&status));
    }
    if status.attention.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// The one-screen text.
pub fn render(s: &Status) -> String {
    use std::fmt::Write;
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".to_owned(), |v| format!("{v:.0}{unit}"));
    let mut out = String::new();
    for u in &s.units {
        let _ = writeln!(out, "{:<40} {}", u.unit, u.state);
    }
    for e in &s.endpoints {
        let _ = writeln!(out, "{:<10} {:<22} {}", e.service, e.address, if e.up { "up" } else { "DOWN" });
    }
    let t = &s.traffic;
    let _ = writeln!(
        out,
        "requests   {:.1}/s, 5xx {}, p99 {}",
        t.requests_per_second,
        t.error_ratio.map_or("-".into(), |r| format!("{:.2} %", r * 100.0)),
        t.p99_seconds.map_or("-".into(), |p| format!("{:.0} ms", p * 1000.0))
    );
    let e = &s.events;
    let _ = writeln!(
        out,
        "events     outbox lag {} ({} unpublished), undelivered {}, pending {} (oldest {}), dead letters {}",
        opt(e.outbox_lag_seconds, " s"),
        opt(e.outbox_unpublished, ""),
        opt(e.stream_lag, ""),
        opt(e.pending, ""),
        opt(e.oldest_pending_seconds, " s"),
        opt(e.dead_letters, "")
    );
    match &s.backup {
        Some(b) => {
            let _ = writeln!(out, "backup     {} ({})", b.last.map_or("none".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string()), b.status);
        }
        None => {
            let _ = writeln!(out, "backup     pgBackRest not set up here");
        }
    }
    for c in &s.certificates {
        let _ = writeln!(out, "cert       {} expires in {:.1} days", c.name, c.expires_in_days);
    }
    for d in &s.disk {
        let _ = writeln!(out, "disk       {} {} % used", d.mount, d.used_percent);
    }
    if s.attention.is_empty() {
        out.push_str("all well\n");
    } else {
        out.push_str("needs attention:\n");
        for a in &s.attention {
            let _ = writeln!(out, "  - {a}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{quantile, worker_instance, Scrape};

    #[test]
    fn worker_instances_have_their_own_port() {
        assert_eq!(worker_instance("basecommerce-worker@11.service"), Some(("11".into(), "127.0.0.1:9111".parse().unwrap())));
        assert_eq!(worker_instance("basecommerce-worker@.service"), None);
        assert_eq!(worker_instance("basecommerce-worker@1x.service"), None);
        assert_eq!(worker_instance("basecommerce-relay.service"), None);
    }

    #[test]
    fn parses_the_exposition_format() {
        let s = Scrape::parse(
            "# HELP x y\n# TYPE a counter\na_total{route=\"/api/v1/quotes/{id}\",status=\"2xx\"} 3\nb 1.5\nc{le=\"+Inf\"} 7\nd{v=\"q\\\"x\"} 1\n",
        );
        assert_eq!(s.sum("a_total", &[("status", "2xx")]), 3.0);
        assert_eq!(s.value("b"), Some(1.5));
        assert_eq!(s.find("c", &[("le", "+Inf")]).count(), 1);
        assert_eq!(s.find("d", &[("v", "q\"x")]).count(), 1);
    }

    #[test]
    fn quantile_interpolates_within_the_bucket() {
        let b = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (f64::INFINITY, 100.0)];
        assert!((quantile(0.5, &b).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(0.99, &b).unwrap() - 0.95).abs() < 1e-9);
        assert_eq!(quantile(0.99, &[(f64::INFINITY, 0.0)]), None);
    }
}
