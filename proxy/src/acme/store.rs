//! Where certificates live: PostgreSQL (shared by every edge droplet, so one issuance serves
//! all) and an on-disk cache (0600) read at start, so a proxy restarted while the database is
//! away still serves TLS. Private keys and the ACME account are sealed ([`KeySeal`]) before
//! they reach PostgreSQL; rows written before sealing existed are sealed the first time they
//! are read.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deadpool_postgres::Pool;

use super::sealed::KeySeal;
use super::AcmeError;

/// A certificate chain with its key and the facts read from it.
#[derive(Debug, Clone)]
pub struct StoredCert {
    pub name: String,
    pub domains: Vec<String>,
    pub chain_pem: String,
    pub key_pem: String,
    pub issuer: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl StoredCert {
    /// Reads issuer, validity and names from the first certificate of `chain_pem`.
    pub fn from_pem(name: &str, chain_pem: String, key_pem: String) -> Result<Self, AcmeError> {
        let bad = |m: String| AcmeError::Certificate(format!("{name}: {m}"));
        let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes()).map_err(|e| bad(format!("PEM: {e}")))?;
        let cert = pem.parse_x509().map_err(|e| bad(format!("X.509: {e}")))?;
        let at = |t: i64| SystemTime::UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
        let mut domains = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for gn in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::DNSName(d) = gn {
                    domains.push(d.to_ascii_lowercase());
                }
            }
        }
        Ok(Self {
            name: name.to_owned(),
            domains,
            issuer: cert.issuer().to_string(),
            not_before: at(cert.validity().not_before.timestamp()),
            not_after: at(cert.validity().not_after.timestamp()),
            chain_pem,
            key_pem,
        })
    }

    /// File stem in the cache and in `proxy.tls_cert_dir` layout (`_wildcard.<domain>`).
    pub fn file_stem(name: &str) -> String {
        match name.strip_prefix("*.") {
            Some(parent) => format!("_wildcard.{parent}"),
            None => name.to_owned(),
        }
    }
}

/// What the issuer knows about a name's last attempts.
#[derive(Debug, Clone, Default)]
pub struct NameStatus {
    pub failures: u32,
    pub next_attempt_at: Option<SystemTime>,
}

/// PostgreSQL side of the certificate storage.
#[derive(Clone)]
pub struct CertRepository {
    pool: Pool,
    seal: Arc<KeySeal>,
}

/// The associated data that binds a sealed certificate key to its row.
fn certificate_row(name: &str) -> String {
    format!("acme_certificates:{name}")
}

/// The associated data that binds a sealed ACME account to its row.
fn account_row(directory_url: &str) -> String {
    format!("acme_accounts:{directory_url}")
}

fn db(e: impl std::fmt::Display) -> AcmeError {
    AcmeError::Db(e.to_string())
}

fn pg(e: deadpool_postgres::tokio_postgres::Error) -> AcmeError {
    AcmeError::Db(infra::db::describe(&e))
}

impl CertRepository {
    pub fn new(pool: Pool, seal: Arc<KeySeal>) -> Self {
        Self { pool, seal }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The account's credentials (JSON) for the CA at `directory_url`. A sealed account is
    /// stored as a JSON string, so `#>> '{}'` yields either the sealed text or a legacy object.
    pub async fn account(&self, directory_url: &str) -> Result<Option<String>, AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        let row = c.query_opt("SELECT credentials #>> '{}' FROM acme_accounts WHERE directory_url = $1", &[&directory_url]).await.map_err(pg)?;
        let Some(stored) = row.map(|r| r.get::<_, String>(0)) else { return Ok(None) };
        let aad = account_row(directory_url);
        if KeySeal::is_sealed(&stored) {
            return self.seal.open(&aad, &stored).map(Some);
        }
        let sealed = self.seal.seal(&aad, &stored)?;
        c.execute(
            "UPDATE acme_accounts SET credentials = to_jsonb($2::text) WHERE directory_url = $1 AND credentials #>> '{}' = $3",
            &[&directory_url, &sealed, &stored],
        )
        .await
        .map_err(pg)?;
        tracing::info!(directory = %directory_url, "stored ACME account sealed");
        Ok(Some(stored))
    }

    /// Stores the account unless another droplet stored one first; returns the one that won.
    pub async fn save_account(&self, directory_url: &str, credentials: &str) -> Result<String, AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        let sealed = self.seal.seal(&account_row(directory_url), credentials)?;
        c.execute(
            "INSERT INTO acme_accounts (directory_url, credentials) VALUES ($1, to_jsonb($2::text)) ON CONFLICT (directory_url) DO NOTHING",
            &[&directory_url, &sealed],
        )
        .await
        .map_err(pg)?;
        Ok(self.account(directory_url).await?.unwrap_or_else(|| credentials.to_owned()))
    }

    /// Every stored certificate whose key opens; one that does not (another key, tampered) is
    /// left out with a warning, so the issuer orders a fresh one instead of serving it.
    pub async fn certificates(&self) -> Result<Vec<StoredCert>, AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        let rows = c.query("SELECT name, domains, chain_pem, key_pem, issuer, not_before, not_after FROM acme_certificates", &[]).await.map_err(pg)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.get(0);
            let stored: String = r.get(3);
            let aad = certificate_row(&name);
            let key_pem = if KeySeal::is_sealed(&stored) {
                match self.seal.open(&aad, &stored) {
                    Ok(k) => k,
                    Err(e) => {
                        tracing::warn!(certificate = %name, error = %e, "stored certificate not used");
                        continue;
                    }
                }
            } else {
                let sealed = self.seal.seal(&aad, &stored)?;
                c.execute("UPDATE acme_certificates SET key_pem = $2 WHERE name = $1 AND key_pem = $3", &[&name, &sealed, &stored]).await.map_err(pg)?;
                tracing::info!(certificate = %name, "stored private key sealed");
                stored
            };
            out.push(StoredCert { name, domains: r.get(1), chain_pem: r.get(2), key_pem, issuer: r.get(4), not_before: r.get(5), not_after: r.get(6) });
        }
        Ok(out)
    }

    pub async fn save_certificate(&self, cert: &StoredCert) -> Result<(), AcmeError> {
        let sealed = self.seal.seal(&certificate_row(&cert.name), &cert.key_pem)?;
        let c = self.pool.get().await.map_err(db)?;
        c.execute(
            "INSERT INTO acme_certificates (name, domains, chain_pem, key_pem, issuer, not_before, not_after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (name) DO UPDATE SET domains = $2, chain_pem = $3, key_pem = $4, issuer = $5, \
               not_before = $6, not_after = $7, issued_at = now()",
            &[&cert.name, &cert.domains, &cert.chain_pem, &sealed, &cert.issuer, &cert.not_before, &cert.not_after],
        )
        .await
        .map_err(pg)?;
        c.execute(
            "INSERT INTO acme_status (name, failures, last_error, last_attempt_at, next_attempt_at) VALUES ($1, 0, NULL, now(), NULL) \
             ON CONFLICT (name) DO UPDATE SET failures = 0, last_error = NULL, last_attempt_at = now(), next_attempt_at = NULL",
            &[&cert.name],
        )
        .await
        .map_err(pg)?;
        Ok(())
    }

    pub async fn statuses(&self) -> Result<HashMap<String, NameStatus>, AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        let rows = c.query("SELECT name, failures, next_attempt_at FROM acme_status", &[]).await.map_err(pg)?;
        Ok(rows.into_iter().map(|r| (r.get::<_, String>(0), NameStatus { failures: r.get::<_, i32>(1).max(0) as u32, next_attempt_at: r.get(2) })).collect())
    }

    /// Counts a failure and says when the name may be tried again.
    pub async fn record_failure(&self, name: &str, error: &str, retry_in: Duration) -> Result<(), AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        let secs = retry_in.as_secs_f64();
        c.execute(
            "INSERT INTO acme_status (name, failures, last_error, last_attempt_at, next_attempt_at) \
             VALUES ($1, 1, $2, now(), now() + make_interval(secs => $3)) \
             ON CONFLICT (name) DO UPDATE SET failures = acme_status.failures + 1, last_error = $2, \
               last_attempt_at = now(), next_attempt_at = now() + make_interval(secs => $3)",
            &[&name, &error, &secs],
        )
        .await
        .map_err(pg)?;
        Ok(())
    }

    /// Takes the cluster-wide lock for issuing `name` (so two edge droplets never order the
    /// same certificate at once); the lock lives as long as the returned connection.
    pub async fn lock_name(&self, name: &str) -> Result<Option<deadpool_postgres::Object>, AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        let row = c.query_one("SELECT pg_try_advisory_lock(hashtext('acme:' || $1))", &[&name]).await.map_err(pg)?;
        Ok(row.get::<_, bool>(0).then_some(c))
    }

    pub async fn put_challenge(&self, token: &str, key_authorization: &str) -> Result<(), AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        c.execute(
            "INSERT INTO acme_challenges (token, key_authorization, expires_at) VALUES ($1, $2, now() + interval '1 hour') \
             ON CONFLICT (token) DO UPDATE SET key_authorization = $2, expires_at = now() + interval '1 hour'",
            &[&token, &key_authorization],
        )
        .await
        .map_err(pg)?;
        Ok(())
    }

    pub async fn delete_challenge(&self, token: &str) -> Result<(), AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        c.execute("DELETE FROM acme_challenges WHERE token = $1 OR expires_at < now()", &[&token]).await.map_err(pg)?;
        Ok(())
    }

    /// Every live HTTP-01 answer, token → key authorization.
    pub async fn challenges(&self) -> Result<Vec<(String, String)>, AcmeError> {
        let c = self.pool.get().await.map_err(db)?;
        let rows = c.query("SELECT token, key_authorization FROM acme_challenges WHERE expires_at > now()", &[]).await.map_err(pg)?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

/// The on-disk copy: `<dir>/<stem>.pem` + `<stem>.key`, written 0600 and atomically.
#[derive(Debug, Clone)]
pub struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every readable certificate of the cache; unreadable ones are skipped with a warning.
    pub fn load(&self) -> Vec<StoredCert> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut out = Vec::new();
        for path in entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "pem")) {
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
            let name = match stem.strip_prefix("_wildcard.") {
                Some(parent) => format!("*.{parent}"),
                None => stem.to_owned(),
            };
            let read = std::fs::read_to_string(&path)
                .and_then(|chain| std::fs::read_to_string(path.with_extension("key")).map(|key| (chain, key)))
                .map_err(|e| AcmeError::Certificate(format!("{}: {e}", path.display())))
                .and_then(|(chain, key)| StoredCert::from_pem(&name, chain, key));
            match read {
                Ok(c) => out.push(c),
                Err(e) => tracing::warn!(error = %e, "cached certificate not loaded"),
            }
        }
        out
    }

    pub fn save(&self, cert: &StoredCert) -> Result<(), AcmeError> {
        let stem = StoredCert::file_stem(&cert.name);
        // Key first: a reader that sees the new chain must find its key.
        self.write(&format!("{stem}.key"), cert.key_pem.as_bytes())?;
        self.write(&format!("{stem}.pem"), cert.chain_pem.as_bytes())
    }

    fn write(&self, file: &str, bytes: &[u8]) -> Result<(), AcmeError> {
        let io = |e: std::io::Error| AcmeError::Io(format!("{}: {e}", self.dir.join(file).display()));
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let tmp = self.dir.join(format!(".{file}.tmp"));
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, self.dir.join(file)).map_err(io)
    }
}
