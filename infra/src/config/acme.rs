//! `[acme]`: the proxy's own certificate issuance.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// Let's Encrypt's production directory: the default CA of `[acme]`.
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory: untrusted certificates, generous limits (try this first).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// The proxy's own certificate issuance (ACME). Off unless `enabled`; when on, the HTTPS
/// listener runs even before the first certificate exists.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcmeSettings {
    pub enabled: bool,
    /// ACME directory (Let's Encrypt production by default; [`LETS_ENCRYPT_STAGING`] to try).
    pub directory_url: String,
    /// Contact address given to the CA (expiry warnings, policy mail).
    pub email: Option<String>,
    /// Must be `true`: agreeing to the CA's terms of service is the operator's decision.
    pub accept_terms: bool,
    /// Extra trust root (PEM) for the CA's own HTTPS endpoint — a test CA such as Pebble.
    pub ca_root: Option<PathBuf>,
    /// On-disk copy of the account and certificates (0600), so TLS is served even when
    /// PostgreSQL is briefly unreachable at start.
    pub cache_dir: PathBuf,
    /// `digitalocean` for wildcard certificates through DNS-01; unset → HTTP-01 per host.
    pub dns_provider: Option<String>,
    /// API token of the DNS provider (a credential file `acme.dns_token`, never logged).
    pub dns_token: Option<Secret>,
    /// Seals the certificates' private keys and the ACME account in PostgreSQL (AES-256-GCM),
    /// so whoever reads the database or a backup gets no key: 64 hex characters, the credential
    /// file `acme.key_encryption_key` (install.sh generates it; `openssl rand -hex 32`). The
    /// same key on every edge droplet.
    pub key_encryption_key: Option<Secret>,
    /// Base URL of the DNS provider's API (tests point it at a local double).
    pub dns_api_url: String,
    /// Seconds to wait after writing a TXT record before asking the CA to check it.
    pub dns_propagation_secs: u64,
    /// How often the issuer looks for names that need a certificate.
    pub check_interval_secs: u64,
    /// First retry delay after a failed validation; doubles per failure (≥ 720 keeps a host
    /// within 5 failed validations per hour).
    pub retry_base_secs: u64,
    /// New orders per hour across all names (a budget below the CA's order limits).
    pub max_orders_per_hour: u32,
}

impl Default for AcmeSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            directory_url: LETS_ENCRYPT_PRODUCTION.into(),
            email: None,
            accept_terms: false,
            ca_root: None,
            cache_dir: "/var/lib/basecommerce/acme".into(),
            dns_provider: None,
            dns_token: None,
            key_encryption_key: None,
            dns_api_url: "https://api.digitalocean.com".into(),
            dns_propagation_secs: 30,
            check_interval_secs: 60,
            retry_base_secs: 720,
            max_orders_per_hour: 100,
        }
    }
}

impl AcmeSettings {
    /// Checked by the proxy alone: only it receives the DNS token credential, and the other
    /// services read the same file.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled {
            return Ok(());
        }
        if !self.directory_url.starts_with("https://") {
            return Err(ConfigError::new("acme.directory_url", "must be an https:// URL"));
        }
        match &self.email {
            Some(e) if e.contains('@') && !e.contains([' ', ',']) => {}
            _ => return Err(ConfigError::new("acme.email", "is required when acme.enabled: a contact address such as ops@example.com")),
        }
        if !self.accept_terms {
            return Err(ConfigError::new("acme.accept_terms", "must be true to use the CA (read its terms of service first)"));
        }
        match self.dns_provider.as_deref() {
            None => {}
            Some("digitalocean") if self.dns_token.as_ref().is_none_or(|t| t.expose().trim().is_empty()) => {
                return Err(ConfigError::new("acme.dns_token", "is required with acme.dns_provider = \"digitalocean\" (a credential file acme.dns_token)"));
            }
            Some("digitalocean") => {}
            Some(other) => return Err(ConfigError::new("acme.dns_provider", format!("{other:?} is not supported (only \"digitalocean\")"))),
        }
        let key = self.key_encryption_key.as_ref().map(|k| k.expose().trim()).unwrap_or_default();
        if key.is_empty() {
            return Err(ConfigError::new(
                "acme.key_encryption_key",
                "is required when acme.enabled: 64 hex characters in the credential file acme.key_encryption_key (install.sh generates it)",
            ));
        }
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::new("acme.key_encryption_key", "must be 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`"));
        }
        if self.check_interval_secs == 0 || self.retry_base_secs == 0 || self.max_orders_per_hour == 0 {
            return Err(ConfigError::new("acme", "check_interval_secs, retry_base_secs and max_orders_per_hour must be at least 1"));
        }
        Ok(())
    }
}
