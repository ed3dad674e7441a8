//! `basecommerce backup status` and `basecommerce restore [--to TIME]`: thin, explicit drivers of
//! pgBackRest (stanza `basecommerce`, configured by install.sh with continuous WAL archiving) and
//! systemd. The admin CLI runs them as root; pgBackRest itself runs as the `postgres` user.

use std::process::{Command, Output};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

/// The pgBackRest stanza install.sh creates.
pub const STANZA: &str = "basecommerce";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    InvalidTime(String),
    #[error("{0}")]
    Command(String),
}

/// One backup in the repository.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BackupEntry {
    pub label: String,
    pub kind: String,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// What `backup status` shows: the stanza's health, its backups and the archived WAL range.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BackupStatus {
    pub stanza: String,
    pub status: String,
    pub backups: Vec<BackupEntry>,
    pub wal_min: Option<String>,
    pub wal_max: Option<String>,
}

/// Parses `pgbackrest --output=json info`.
pub fn parse_info(json: &str) -> Result<BackupStatus, BackupError> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| BackupError::Command(format!("unreadable pgbackrest info: {e}")))?;
    let stanza = v
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == STANZA))
        .ok_or_else(|| BackupError::Command(format!("pgbackrest knows no stanza {STANZA}: install.sh creates it")))?;
    let backups = stanza["backup"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|b| BackupEntry {
                    label: b["label"].as_str().unwrap_or_default().to_owned(),
                    kind: b["type"].as_str().unwrap_or_default().to_owned(),
                    stopped_at: b["timestamp"]["stop"].as_i64().and_then(|t| DateTime::from_timestamp(t, 0)),
                })
                .collect()
        })
        .unwrap_or_default();
    let archive = stanza["archive"].as_array().and_then(|a| a.last());
    Ok(BackupStatus {
        stanza: STANZA.to_owned(),
        status: stanza["status"]["message"].as_str().unwrap_or("unknown").to_owned(),
        backups,
        wal_min: archive.and_then(|a| a["min"].as_str()).map(str::to_owned),
        wal_max: archive.and_then(|a| a["max"].as_str()).map(str::to_owned),
    })
}

/// Reads the repository's state through pgBackRest.
pub fn status() -> Result<BackupStatus, BackupError> {
    let out = pgbackrest(&["--output=json", "info"])?;
    parse_info(&String::from_utf8_lossy(&out.stdout))
}

/// A restore target: RFC 3339 (`2026-11-22T05:40:00Z`) or `YYYY-MM-DD HH:MM:SS` in UTC, written
/// the way pgBackRest's `--target` expects it.
pub fn parse_target(input: &str) -> Result<String, BackupError> {
    let t = DateTime::parse_from_rfc3339(input.trim())
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| NaiveDateTime::parse_from_str(input.trim(), "%Y-%m-%d %H:%M:%S%.f").map(|n| n.and_utc()))
        .or_else(|_| NaiveDateTime::parse_from_str(input.trim(), "%Y-%m-%d %H:%M:%S").map(|n| n.and_utc()))
        .map_err(|_| BackupError::InvalidTime(format!("--to {input:?}: expected e.g. 2026-11-22T05:40:00Z or \"2026-11-22 05:40:00\" (UTC)")))?;
    if t > Utc::now() {
        return Err(BackupError::InvalidTime(format!("--to {input}: is in the future")));
    }
    Ok(t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string())
}

/// Point-in-time (or latest) restore of the local PostgreSQL:
/// archive the current WAL (so nothing committed is left behind), stop the basecommerce services
/// and PostgreSQL, restore with pgBackRest (`--delta`), start PostgreSQL (it replays WAL up to
/// the target and promotes), start the services again. `progress` receives one line per step.
pub fn restore(target: Option<&str>, mut progress: impl FnMut(&str)) -> Result<(), BackupError> {
    progress("archiving the current WAL segment (pgbackrest check)");
    if let Err(e) = pgbackrest(&["check"]) {
        progress(&format!("warning: {e} — restoring from what is archived"));
    }
    progress("stopping basecommerce services and PostgreSQL");
    // The globs name the units themselves: systemctl waits only for the jobs it was asked for,
    // not for those PartOf= propagates (Debian's clusters are postgresql@<version>-<name>).
    systemctl(&["stop", "basecommerce.target", "basecommerce-*"])?;
    systemctl(&["stop", "postgresql", "postgresql@*"])?;
    let mut args = vec!["--delta".to_owned()];
    match target {
        Some(t) => {
            args.extend(["--type=time".to_owned(), format!("--target={t}"), "--target-action=promote".to_owned()]);
            progress(&format!("restoring to {t}"));
        }
        None => progress("restoring to the end of the archived WAL"),
    }
    args.push("restore".to_owned());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    pgbackrest(&arg_refs)?;
    progress("starting PostgreSQL (replays WAL to the target)");
    systemctl(&["start", "postgresql"])?;
    wait_for_promotion()?;
    progress("starting basecommerce services");
    // A restore is an operator action: it must not count against the crash-loop start limit.
    let _ = systemctl(&["reset-failed", "basecommerce-*"]);
    systemctl(&["start", "basecommerce.target"])?;
    progress("restore complete");
    Ok(())
}

/// Waits until PostgreSQL accepts connections and has left recovery.
fn wait_for_promotion() -> Result<(), BackupError> {
    for _ in 0..600 {
        let out = Command::new("runuser").args(["-u", "postgres", "--", "psql", "-X", "-tAc", "SELECT pg_is_in_recovery()"]).current_dir("/").output();
        if let Ok(o) = out {
            if o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "f" {
                return Ok(());
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Err(BackupError::Command("PostgreSQL did not finish recovery within 2 minutes: journalctl -u postgresql -n 50".into()))
}

fn pgbackrest(args: &[&str]) -> Result<Output, BackupError> {
    let mut full = vec!["-u", "postgres", "--", "pgbackrest", "--stanza", STANZA];
    full.extend_from_slice(args);
    checked(Command::new("runuser").args(&full).current_dir("/"), "pgbackrest")
}

fn systemctl(args: &[&str]) -> Result<Output, BackupError> {
    checked(Command::new("systemctl").args(args), "systemctl")
}

fn checked(cmd: &mut Command, what: &str) -> Result<Output, BackupError> {
    let out = cmd.output().map_err(|e| BackupError::Command(format!("cannot run {what}: {e} (run as root on the database host)")))?;
    if out.status.success() {
        Ok(out)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let msg = if err.trim().is_empty() { String::from_utf8_lossy(&out.stdout).into_owned() } else { err.into_owned() };
        Err(BackupError::Command(format!("{what} failed: {}", msg.trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_json_is_summarised() {
        let json = r#"[{"name":"basecommerce","status":{"code":0,"message":"ok"},
            "archive":[{"id":"15-1","min":"000000010000000000000001","max":"000000010000000000000007"}],
            "backup":[{"label":"20261122-050000F","type":"full","timestamp":{"start":1795323000,"stop":1795323010}},
                      {"label":"20261122-050000F_20261122-060000D","type":"diff","timestamp":{"start":1795326600,"stop":1795326605}}]}]"#;
        let s = parse_info(json).unwrap();
        assert_eq!(s.status, "ok");
        assert_eq!(s.backups.len(), 2);
        assert_eq!(s.backups[1].kind, "diff");
        assert_eq!(s.backups[0].stopped_at.unwrap().timestamp(), 1795323010);
        assert_eq!(s.wal_max.as_deref(), Some("000000010000000000000007"));
        assert!(parse_info(r#"[{"name":"other"}]"#).is_err());
        assert!(parse_info("not json").is_err());
    }

    #[test]
    fn restore_targets_are_normalised_to_utc() {
        assert_eq!(parse_target("2026-01-02T03:04:05Z").unwrap(), "2026-01-02 03:04:05.000000+00");
        assert_eq!(parse_target("2026-01-02T05:04:05+02:00").unwrap(), "2026-01-02 03:04:05.000000+00");
        assert_eq!(parse_target("2026-01-02 03:04:05.25").unwrap(), "2026-01-02 03:04:05.250000+00");
        assert!(matches!(parse_target("yesterday"), Err(BackupError::InvalidTime(_))));
        assert!(matches!(parse_target("2999-01-01T00:00:00Z"), Err(BackupError::InvalidTime(_))));
    }
}
