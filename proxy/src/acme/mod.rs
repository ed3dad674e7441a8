//! The proxy's own certificates (ACME): wildcard certificates through DNS-01 on DigitalOcean,
//! HTTP-01 for tenant hosts (without a DNS token) and for verified custom domains, renewal at
//! two thirds of the lifetime (or earlier when the CA's renewal information says so), all in
//! the background — a handshake never waits for the CA.
//!
//! Flow of one pass ([`AcmeManager::run_once`]): pick up certificates other edges stored →
//! list the names wanted (base domains, active tenants, verified domains) → for each missing
//! or due name, unless it is backing off or the hourly order budget is spent, take the
//! cluster-wide lock for the name, issue, store (PostgreSQL, then disk) and hot-swap.

pub mod challenge;
pub mod dns;
mod issuer;
pub mod names;
pub mod sealed;
pub mod store;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use deadpool_postgres::Pool;
use infra::config::AcmeSettings;
use instant_acme::{Account, AccountBuilder, CertificateIdentifier, NewAccount};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::tls::{certified_key, CertStore};
use challenge::Http01Answers;
use dns::DigitalOceanDns;
use names::{backoff, renew_at, Wanted};
use store::{CertRepository, DiskCache, StoredCert};

/// Why a certificate could not be obtained or stored.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("ACME: {0}")]
    Acme(#[from] instant_acme::Error),
    #[error("validation failed: {0}")]
    Validation(String),
    #[error("DNS: {0}")]
    Dns(String),
    #[error("database: {0}")]
    Db(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("cache: {0}")]
    Io(String),
}

/// When the CA's renewal information (ARI) was last asked for a certificate, and its answer.
struct RenewalHint {
    serial_of: SystemTime,
    renew_from: Option<SystemTime>,
    ask_again: Instant,
}

/// Keeps the edge's certificates present and fresh.
pub struct AcmeManager {
    settings: AcmeSettings,
    base_domains: Vec<String>,
    repo: CertRepository,
    cache: DiskCache,
    certs: Arc<CertStore>,
    answers: Arc<Http01Answers>,
    dns: Option<DigitalOceanDns>,
    served: Mutex<HashMap<String, StoredCert>>,
    hints: Mutex<HashMap<String, RenewalHint>>,
    orders: Mutex<VecDeque<Instant>>,
    account: tokio::sync::Mutex<Option<Account>>,
}

impl AcmeManager {
    pub fn new(settings: AcmeSettings, base_domains: Vec<String>, pool: Pool, certs: Arc<CertStore>) -> Result<Self, AcmeError> {
        let key = settings.key_encryption_key.as_ref().ok_or_else(|| AcmeError::Certificate("acme.key_encryption_key is not set".into()))?;
        let repo = CertRepository::new(pool, Arc::new(sealed::KeySeal::from_hex(key.expose())?));
        let dns = match (&settings.dns_provider, &settings.dns_token) {
            (Some(_), Some(token)) => Some(DigitalOceanDns::new(&settings.dns_api_url, token.clone())?),
            _ => None,
        };
        Ok(Self {
            cache: DiskCache::new(settings.cache_dir.clone()),
            answers: Arc::new(Http01Answers::shared(repo.clone())),
            repo,
            dns,
            base_domains,
            certs,
            settings,
            served: Mutex::default(),
            hints: Mutex::default(),
            orders: Mutex::default(),
            account: tokio::sync::Mutex::new(None),
        })
    }

    /// The HTTP-01 answers the proxy serves on port 80.
    pub fn answers(&self) -> Arc<Http01Answers> {
        self.answers.clone()
    }

    /// Serves what the disk cache holds; called before the listeners open, so TLS works even
    /// when PostgreSQL is unreachable at start.
    pub fn load_cache(&self) -> usize {
        let mut n = 0;
        for cert in self.cache.load() {
            match self.install(cert) {
                Ok(()) => n += 1,
                Err(e) => tracing::warn!(error = %e, "cached certificate not served"),
            }
        }
        n
    }

    fn install(&self, cert: StoredCert) -> Result<(), AcmeError> {
        let key = certified_key(cert.chain_pem.as_bytes(), cert.key_pem.as_bytes()).map_err(AcmeError::Certificate)?;
        let names = if cert.domains.is_empty() { vec![cert.name.clone()] } else { cert.domains.clone() };
        self.certs.install_issued(&names, Arc::new(key));
        self.served.lock().unwrap_or_else(|p| p.into_inner()).insert(cert.name.clone(), cert);
        Ok(())
    }

    /// Serves certificates another edge (or an earlier run) stored that are newer than ours.
    async fn sync_from_db(&self) -> Result<(), AcmeError> {
        for cert in self.repo.certificates().await? {
            let newer = self.served.lock().unwrap_or_else(|p| p.into_inner()).get(&cert.name).is_none_or(|s| s.not_after < cert.not_after);
            if newer {
                if let Err(e) = self.cache.save(&cert) {
                    tracing::warn!(error = %e, "certificate not cached on disk");
                }
                let name = cert.name.clone();
                match self.install(cert) {
                    Ok(()) => tracing::info!(certificate = %name, "certificate loaded from the database"),
                    Err(e) => tracing::warn!(error = %e, "stored certificate not served"),
                }
            }
        }
        Ok(())
    }

    /// Names that should have a certificate now.
    async fn wanted(&self) -> Result<Vec<Wanted>, AcmeError> {
        let c = self.repo.pool().get().await.map_err(|e| AcmeError::Db(e.to_string()))?;
        let pg = |e: deadpool_postgres::tokio_postgres::Error| AcmeError::Db(infra::db::describe(&e));
        let dns01 = self.dns.is_some();
        let slugs: Vec<String> = if dns01 {
            Vec::new()
        } else {
            c.query("SELECT slug FROM tenants WHERE status = 'active' ORDER BY created_at", &[]).await.map_err(pg)?.iter().map(|r| r.get(0)).collect()
        };
        // The "ask" gate for custom domains: verified, of an active tenant (and then issuable).
        let domains: Vec<String> = c
            .query(
                "SELECT d.domain FROM tenant_domains d JOIN tenants t ON t.id = d.tenant_id \
                 WHERE d.verified AND t.status = 'active' ORDER BY d.verified_at NULLS LAST, d.domain",
                &[],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(names::wanted(&self.base_domains, dns01, &slugs, &domains))
    }

    fn builder(&self) -> Result<AccountBuilder, AcmeError> {
        Ok(match &self.settings.ca_root {
            Some(root) => Account::builder_with_root(root)?,
            None => Account::builder()?,
        })
    }

    /// The ACME account: the stored one, or a new one stored for every edge.
    async fn account(&self) -> Result<Account, AcmeError> {
        let mut slot = self.account.lock().await;
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let url = &self.settings.directory_url;
        let stored = match self.repo.account(url).await? {
            Some(s) => s,
            None => {
                let contact = format!("mailto:{}", self.settings.email.as_deref().unwrap_or_default());
                let new = NewAccount { contact: &[&contact], terms_of_service_agreed: self.settings.accept_terms, only_return_existing: false };
                let (_, credentials) = self.builder()?.create(&new, url.clone(), None).await?;
                let json = serde_json::to_string(&credentials).map_err(|e| AcmeError::Certificate(e.to_string()))?;
                tracing::info!(directory = %url, "ACME account created");
                self.repo.save_account(url, &json).await?
            }
        };
        let credentials = serde_json::from_str(&stored).map_err(|e| AcmeError::Db(format!("stored ACME account unreadable: {e}")))?;
        let account = self.builder()?.from_credentials(credentials).await?;
        *slot = Some(account.clone());
        Ok(account)
    }

    /// Takes one order from the hourly budget, if any is left.
    fn take_budget(&self) -> bool {
        let mut orders = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        let hour_ago = Instant::now().checked_sub(Duration::from_secs(3600));
        while orders.front().is_some_and(|t| hour_ago.is_some_and(|h| *t < h)) {
            orders.pop_front();
        }
        if orders.len() >= self.settings.max_orders_per_hour as usize {
            return false;
        }
        orders.push_back(Instant::now());
        true
    }

    /// Whether `name` needs a (new) certificate now.
    async fn due(&self, name: &str, account: &Account) -> bool {
        let Some(cert) = self.served.lock().unwrap_or_else(|p| p.into_inner()).get(name).cloned() else { return true };
        let now = SystemTime::now();
        if now >= renew_at(name, cert.not_before, cert.not_after) {
            return true;
        }
        self.renewal_hint(&cert, account).await.is_some_and(|from| now >= from)
    }

    /// The start of the CA's suggested renewal window (ARI, RFC 9773), asked again only when
    /// the CA says to. CAs without ARI simply leave the two-thirds rule in charge.
    async fn renewal_hint(&self, cert: &StoredCert, account: &Account) -> Option<SystemTime> {
        if let Some(h) = self.hints.lock().unwrap_or_else(|p| p.into_inner()).get(&cert.name) {
            if h.serial_of == cert.not_after && Instant::now() < h.ask_again {
                return h.renew_from;
            }
        }
        let der = CertificateDer::pem_slice_iter(cert.chain_pem.as_bytes()).next()?.ok()?;
        let id = CertificateIdentifier::try_from(&der).ok()?;
        let (renew_from, ask_in) = match account.renewal_info(&id).await {
            Ok((info, retry_after)) => {
                let start = info.suggested_window.start.unix_timestamp().max(0) as u64;
                (Some(SystemTime::UNIX_EPOCH + Duration::from_secs(start)), retry_after.max(Duration::from_secs(3600)))
            }
            Err(_) => (None, Duration::from_secs(6 * 3600)),
        };
        let hint = RenewalHint { serial_of: cert.not_after, renew_from, ask_again: Instant::now() + ask_in };
        self.hints.lock().unwrap_or_else(|p| p.into_inner()).insert(cert.name.clone(), hint);
        renew_from
    }

    /// Refreshes the expiry gauge of every served certificate.
    fn export_expiry(&self) {
        let now = SystemTime::now();
        for (name, cert) in self.served.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let left = cert.not_after.duration_since(now).map(|d| d.as_secs() as i64).unwrap_or(0);
            crate::metrics::CERT_EXPIRY.with_label_values(&[name]).set(left);
        }
    }

    /// One pass over every wanted name.
    pub async fn run_once(&self) -> Result<(), AcmeError> {
        self.export_expiry();
        self.sync_from_db().await?;
        let wanted = self.wanted().await?;
        if wanted.is_empty() {
            return Ok(());
        }
        let statuses = self.repo.statuses().await?;
        let account = self.account().await?;
        for w in wanted {
            if !self.due(&w.name, &account).await {
                continue;
            }
            let status = statuses.get(&w.name).cloned().unwrap_or_default();
            if status.next_attempt_at.is_some_and(|t| t > SystemTime::now()) {
                continue;
            }
            let Some(_lock) = self.repo.lock_name(&w.name).await? else { continue };
            if !self.take_budget() {
                tracing::warn!(max = self.settings.max_orders_per_hour, "ACME order budget for this hour spent; the rest waits");
                break;
            }
            let issuer = issuer::Issuer {
                account: &account,
                answers: &self.answers,
                dns: self.dns.as_ref(),
                propagation: Duration::from_secs(self.settings.dns_propagation_secs),
            };
            tracing::info!(certificate = %w.name, challenge = ?w.challenge, "requesting certificate");
            match issuer.issue(&w).await {
                Ok(cert) => {
                    self.repo.save_certificate(&cert).await?;
                    if let Err(e) = self.cache.save(&cert) {
                        tracing::warn!(error = %e, "certificate not cached on disk");
                    }
                    let not_after = cert.not_after;
                    self.install(cert)?;
                    self.export_expiry();
                    crate::metrics::CERT_FAILURES.with_label_values(&[&w.name]).set(0);
                    tracing::info!(certificate = %w.name, not_after = ?not_after, "certificate issued and served");
                }
                Err(e) => {
                    let failures = status.failures + 1;
                    let wait = backoff(failures, Duration::from_secs(self.settings.retry_base_secs));
                    tracing::warn!(certificate = %w.name, error = %e, failures, retry_in_secs = wait.as_secs(), "certificate not obtained");
                    crate::metrics::CERT_FAILURES.with_label_values(&[&w.name]).set(failures as i64);
                    self.repo.record_failure(&w.name, &e.to_string(), wait).await?;
                }
            }
        }
        Ok(())
    }
}

/// Ends a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait]
impl BackgroundService for AcmeManager {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let every = Duration::from_secs(self.settings.check_interval_secs);
        let answers = self.answers.clone();
        let copying = tokio::spawn(async move { answers.keep_in_step().await });
        let _stop_copying = AbortOnDrop(copying);
        loop {
            tokio::select! {
                r = self.run_once() => if let Err(e) = r { tracing::warn!(error = %e, "certificate pass incomplete; retrying later") },
                _ = shutdown.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
