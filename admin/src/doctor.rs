//! `basecommerce doctor`: checks an installation the way an operator would — configuration,
//! credential permissions, PostgreSQL, migrations, Redis, systemd units, certificates, disk and
//! clock — and for each problem prints the command that fixes it. Read-only: it changes nothing.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use infra::{ConfigError, Settings};
use serde::Serialize;

/// How bad a finding is: `Fail` makes `doctor` exit non-zero, `Warn` does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warn,
    Fail,
}

/// One finding: what was checked, what was seen, and how to fix it when it is not right.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub severity: Severity,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Self { check, severity: Severity::Ok, detail: detail.into(), fix: None }
    }
    fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check, severity: Severity::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { check, severity: Severity::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// Where doctor looks besides the configuration itself.
pub struct DoctorInputs {
    pub config_path: PathBuf,
    /// `$CREDENTIALS_DIRECTORY`, or the appliance's `/etc/basecommerce/credentials`.
    pub credentials_dir: Option<PathBuf>,
}

/// Runs every check; a failed configuration skips the checks that need it.
pub async fn run(settings: Result<Settings, ConfigError>, inputs: &DoctorInputs) -> Vec<Finding> {
    let mut out = Vec::new();
    let settings = match settings {
        Ok(s) => {
            out.push(Finding::ok("config", format!("{} is valid", inputs.config_path.display())));
            Some(s)
        }
        Err(e) => {
            out.push(Finding::fail("config", e.to_string(), format!("edit {} (every key: infra/basecommerce.example.toml)", inputs.config_path.display())));
            None
        }
    };
    if let Some(dir) = &inputs.credentials_dir {
        out.extend(check_credentials(dir));
    }
    if let Some(s) = &settings {
        out.extend(check_postgres(s).await);
        out.push(check_redis(s).await);
        out.extend(check_certificates(s));
    }
    out.extend(check_units());
    out.extend(check_disk());
    out.extend(check_clock());
    out
}

/// Secrets must be readable by root only: directory 0700, files 0600, owned by root.
pub fn check_credentials(dir: &Path) -> Vec<Finding> {
    const CHECK: &str = "credentials";
    let fix = format!("chown -R root:root {0} && chmod 0700 {0} && chmod 0600 {0}/*", dir.display());
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => return vec![Finding::fail(CHECK, format!("{}: {e}", dir.display()), "re-run install.sh (it generates missing credentials)")],
    };
    let mut wrong = Vec::new();
    if meta.permissions().mode() & 0o077 != 0 || meta.uid() != 0 {
        wrong.push(format!("{} is {:o} uid {}", dir.display(), meta.permissions().mode() & 0o777, meta.uid()));
    }
    let mut count = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            count += 1;
            if let Ok(m) = entry.metadata() {
                if m.permissions().mode() & 0o077 != 0 || m.uid() != 0 {
                    wrong.push(format!("{} is {:o} uid {}", entry.path().display(), m.permissions().mode() & 0o777, m.uid()));
                }
            }
        }
    }
    if wrong.is_empty() {
        vec![Finding::ok(CHECK, format!("{count} file(s) in {}, root-only", dir.display()))]
    } else {
        vec![Finding::fail(CHECK, format!("readable beyond root: {}", wrong.join(", ")), fix)]
    }
}

async fn check_postgres(s: &Settings) -> Vec<Finding> {
    let mut out = Vec::new();
    let Ok(url) = s.require_database_url() else {
        return vec![Finding::fail("database", "database.url is not set", "re-run install.sh, or set database.url")];
    };
    match probe_postgres(url, s).await {
        Ok(()) => out.push(Finding::ok("database", "reachable as the application role")),
        Err(e) => out.push(Finding::fail("database", e, "systemctl start postgresql; then check database.url (journalctl -u postgresql -n 50)")),
    }
    let owner = match s.require_migrate_url() {
        Ok(u) => u,
        Err(_) => return out,
    };
    let latest = infra::migrations::latest_version();
    let applied = async {
        let client = tokio::time::timeout(Duration::from_secs(s.database.connect_timeout_secs + 1), infra::migrations::connect_owner(owner, &s.database))
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
        infra::migrations::applied_version(&client).await.map_err(|e| e.to_string())
    };
    match applied.await {
        Ok(v) if v == latest => out.push(Finding::ok("migrations", format!("schema current (V{v})"))),
        Ok(v) if v < latest => out.push(Finding::fail("migrations", format!("schema at V{v}, this release needs V{latest}"), "basecommerce migrate")),
        Ok(v) => out.push(Finding::warn(
            "migrations",
            format!("schema at V{v} is newer than this release (V{latest})"),
            "install the matching release (install.sh --from …)",
        )),
        Err(e) => {
            out.push(Finding::fail("migrations", format!("cannot read the schema version: {e}"), "check database.migrate_url, then basecommerce migrate"))
        }
    }
    out
}

async fn probe_postgres(url: &infra::Secret, s: &Settings) -> Result<(), String> {
    let pool = infra::db::pool(url, &s.database, 1).map_err(|e| e.to_string())?;
    let work = async {
        let client = pool.get().await.map_err(|e| e.to_string())?;
        client.query_one("SELECT 1", &[]).await.map_err(|e| infra::db::describe(&e))?;
        Ok::<_, String>(())
    };
    tokio::time::timeout(Duration::from_secs(s.database.connect_timeout_secs + 1), work).await.map_err(|_| "timed out".to_string())?
}

async fn check_redis(s: &Settings) -> Finding {
    let Ok(url) = s.require_redis_url() else {
        return Finding::fail("redis", "redis.url is not set", "re-run install.sh, or set redis.url");
    };
    let ping = async {
        let mut conn = infra::redis::connect(url).await.map_err(|e| e.to_string())?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(_)) => Finding::ok("redis", "reachable"),
        Ok(Err(e)) => Finding::fail("redis", e, "systemctl start redis-server; then check redis.url (journalctl -u redis-server -n 50)"),
        Err(_) => Finding::fail("redis", "timed out", "systemctl start redis-server; then check redis.url"),
    }
}

/// Enabled basecommerce services must be active (skipped where systemctl is absent).
fn check_units() -> Vec<Finding> {
    let Some(listing) = run_output("systemctl", &["list-unit-files", "basecommerce-*.service", "--state=enabled", "--no-legend", "--plain"]) else {
        return vec![Finding::warn("units", "systemctl is not available here", "run doctor on the appliance host")];
    };
    let units = enabled_units(&listing);
    if units.is_empty() {
        return vec![Finding::warn("units", "no basecommerce service is enabled", "install.sh (or systemctl enable --now basecommerce.target)")];
    }
    units
        .into_iter()
        .map(|unit| {
            let state = run_output("systemctl", &["is-active", &unit]).unwrap_or_default().trim().to_owned();
            if state == "active" {
                Finding::ok("units", format!("{unit} active"))
            } else {
                Finding::fail(
                    "units",
                    format!("{unit} is {}", if state.is_empty() { "unknown" } else { &state }),
                    format!("systemctl restart {unit}; journalctl -u {unit} -n 50"),
                )
            }
        })
        .collect()
}

/// Unit names from `systemctl list-unit-files --no-legend --plain` (templates excluded: their
/// instances are what runs).
pub fn enabled_units(listing: &str) -> Vec<String> {
    listing.lines().filter_map(|l| l.split_whitespace().next()).filter(|u| u.ends_with(".service") && !u.ends_with("@.service")).map(str::to_owned).collect()
}

/// Served certificates must not be expired (fail) or expire within 14 days (warn).
fn check_certificates(s: &Settings) -> Vec<Finding> {
    let Some(dir) = &s.proxy.tls_cert_dir else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![Finding::fail("certificates", format!("cannot read {}", dir.display()), "re-run install.sh (--tls …)")];
    };
    let mut out = Vec::new();
    for path in entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pem")) {
        let p = path.to_string_lossy();
        let valid_now = Command::new("openssl").args(["x509", "-noout", "-checkend", "0", "-in", &p]).output();
        let valid_soon = Command::new("openssl").args(["x509", "-noout", "-checkend", "1209600", "-in", &p]).output();
        match (valid_now, valid_soon) {
            (Ok(now), Ok(soon)) if now.status.success() && soon.status.success() => out.push(Finding::ok("certificates", format!("{p} valid for 14+ days"))),
            (Ok(now), Ok(_)) if now.status.success() => out.push(Finding::warn(
                "certificates",
                format!("{p} expires within 14 days"),
                "renew it (ACME renews itself; files: copy new ones, then install.sh --tls files DIR)",
            )),
            (Ok(_), Ok(_)) => {
                out.push(Finding::fail("certificates", format!("{p} has expired"), "replace it: install.sh --tls files DIR (or --tls self-signed)"))
            }
            _ => {
                out.push(Finding::warn("certificates", "openssl is not installed: expiry not checked", "apt-get install openssl"));
                break;
            }
        }
    }
    out
}

/// Free space where the data lives: under 5 % or 1 GB fails, under 15 % or 3 GB warns (both
/// bounds, so neither a small droplet disk nor a huge volume is judged by percentages alone).
fn check_disk() -> Vec<Finding> {
    let paths: Vec<&str> = ["/", "/var/lib/postgresql", "/var/lib/redis", "/var/lib/pgbackrest"].into_iter().filter(|p| Path::new(p).exists()).collect();
    let mut args = vec!["-P"];
    args.extend(&paths);
    let Some(df) = run_output("df", &args) else { return Vec::new() };
    let mut seen = std::collections::BTreeSet::new();
    parse_df(&df)
        .into_iter()
        .filter(|(mount, _, _)| seen.insert(mount.clone()))
        .map(|(mount, used_pct, avail_mb)| {
            let detail = format!("{mount}: {}% free ({avail_mb} MB)", 100 - used_pct);
            let fix =
                format!("free space on {mount} (journalctl --vacuum-size=200M, apt-get clean, old backups: pgbackrest expire) or resize the droplet's disk");
            disk_finding(used_pct, avail_mb, detail, fix)
        })
        .collect()
}

fn disk_finding(used_pct: u32, avail_mb: u64, detail: String, fix: String) -> Finding {
    let free_pct = 100u32.saturating_sub(used_pct);
    if (free_pct < 5 && avail_mb < 1024) || avail_mb < 512 {
        Finding::fail("disk", detail, fix)
    } else if free_pct < 15 || avail_mb < 3072 {
        Finding::warn("disk", detail, fix)
    } else {
        Finding::ok("disk", detail)
    }
}

/// `(mount point, used %, available MB)` from `df -P` output.
pub fn parse_df(df: &str) -> Vec<(String, u32, u64)> {
    df.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let used = f.get(4)?.trim_end_matches('%').parse().ok()?;
            let avail_kb: u64 = f.get(3)?.parse().ok()?;
            Some(((*f.get(5)?).to_owned(), used, avail_kb / 1024))
        })
        .collect()
}

/// Tokens and TLS depend on the clock: it should be NTP-synchronised (a warning otherwise).
fn check_clock() -> Vec<Finding> {
    match run_output("timedatectl", &["show", "-p", "NTPSynchronized", "--value"]).as_deref().map(str::trim) {
        Some("yes") => vec![Finding::ok("clock", "NTP-synchronised")],
        Some(_) => vec![Finding::warn("clock", "not NTP-synchronised", "apt-get install systemd-timesyncd && timedatectl set-ntp true")],
        None => Vec::new(),
    }
}

pub(crate) fn run_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    // `systemctl is-active` exits non-zero for inactive units but still says which state.
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Exit status of `doctor`: non-zero when any check failed.
pub fn has_failures(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Fail)
}

/// Human-readable report: one line per finding, the fix under each problem.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let mark = match f.severity {
            Severity::Ok => "ok  ",
            Severity::Warn => "WARN",
            Severity::Fail => "FAIL",
        };
        s.push_str(&format!("{mark}  {:<13} {}\n", f.check, f.detail));
        if let Some(fix) = &f.fix {
            s.push_str(&format!("      {:<13} fix: {fix}\n", ""));
        }
    }
    let failed = findings.iter().filter(|f| f.severity == Severity::Fail).count();
    let warned = findings.iter().filter(|f| f.severity == Severity::Warn).count();
    s.push_str(&if failed == 0 { format!("\nall checks passed ({warned} warning(s))\n") } else { format!("\n{failed} problem(s), {warned} warning(s)\n") });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_output_is_parsed() {
        let df = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/vda1         25000000  23500000   1500000      94% /\n/dev/vdb1         10000000   1000000   9000000      10% /var/lib/postgresql\n";
        assert_eq!(parse_df(df), vec![("/".to_string(), 94, 1464), ("/var/lib/postgresql".to_string(), 10, 8789)]);
    }

    #[test]
    fn disk_thresholds_use_percent_and_size() {
        let f = |used, avail| disk_finding(used, avail, String::new(), String::new()).severity;
        assert_eq!(f(91, 9000), Severity::Warn, "9 GB free on a big disk is not an outage");
        assert_eq!(f(97, 800), Severity::Fail);
        assert_eq!(f(50, 400), Severity::Fail);
        assert_eq!(f(70, 2000), Severity::Warn);
        assert_eq!(f(40, 50_000), Severity::Ok);
    }

    #[test]
    fn enabled_units_skip_templates() {
        let listing =
            "basecommerce-proxy.service enabled enabled\nbasecommerce-worker@.service enabled enabled\nbasecommerce-worker@11.service enabled enabled\n";
        assert_eq!(enabled_units(listing), vec!["basecommerce-proxy.service", "basecommerce-worker@11.service"]);
    }

    #[test]
    fn credentials_readable_by_others_fail_with_the_fix() {
        let dir = std::env::temp_dir().join(format!("bc-doctor-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let secret = dir.join("auth.jwt_secret");
        std::fs::write(&secret, "x").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let findings = check_credentials(&dir);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Fail);
        assert!(findings[0].detail.contains("auth.jwt_secret is 644"), "{}", findings[0].detail);
        assert!(findings[0].fix.as_deref().unwrap().contains("chmod 0600"));
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let expected = if nix_is_root() { Severity::Ok } else { Severity::Fail }; // owner must be root
        assert_eq!(check_credentials(&dir)[0].severity, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn nix_is_root() -> bool {
        std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
    }

    #[test]
    fn report_names_problems_and_fixes() {
        let findings = vec![
            Finding::ok("redis", "reachable"),
            Finding::fail("units", "basecommerce-worker.service is failed", "systemctl restart basecommerce-worker.service"),
        ];
        assert!(has_failures(&findings));
        let text = render(&findings);
        assert!(text.contains("FAIL  units"));
        assert!(text.contains("fix: systemctl restart basecommerce-worker.service"));
        assert!(text.contains("1 problem(s)"));
        assert!(!has_failures(&findings[..1]));
    }
}
