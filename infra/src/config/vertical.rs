//! `[vertical]` and `[files]`: the JSON API and UI service, and where tenants' files live.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Tenant files: product images and logos.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesSettings {
    /// Root of the local-disk store (the vertical writes uploads, the engines worker variants).
    pub dir: PathBuf,
    /// Largest accepted upload.
    pub max_upload_bytes: usize,
    /// Uploads per user per minute (per vertical process).
    pub uploads_per_minute: u32,
    /// What one tenant's uploaded originals may take on the store in total (1 GiB by default):
    /// an upload past it is refused (409 `upload_quota_exceeded`), so one tenant cannot fill
    /// the disk every tenant shares.
    pub tenant_quota_bytes: u64,
}

impl Default for FilesSettings {
    fn default() -> Self {
        Self { dir: PathBuf::from("/var/lib/basecommerce/files"), max_upload_bytes: 10 * 1024 * 1024, uploads_per_minute: 10, tenant_quota_bytes: 1 << 30 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerticalSettings {
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// `__Host-` cookie names, marked `Secure` (the default). Off: plain names without `Secure`,
    /// only for a plain-HTTP local run in a browser that refuses `Secure` on `localhost`.
    pub secure_cookies: bool,
    /// Origins (`https://shop.example.com`) of front-ends elsewhere allowed to call the API
    /// with credentials (CORS). Empty: none. No wildcard.
    pub cors_origins: Vec<String>,
    /// How long the vertical reuses a tenant's row without asking PostgreSQL again. Changes
    /// announced on Redis drop the entry at once; this bounds staleness when Redis is away.
    /// 0 turns the cache off.
    pub tenant_cache_ttl_ms: u64,
    /// Prometheus `/metrics` (loopback, or a private address for a monitoring droplet; never
    /// behind the edge). A bind failure is logged and the vertical serves on without it.
    pub metrics_listen: SocketAddr,
}

impl Default for VerticalSettings {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 8000).into(),
            max_body_bytes: 1024 * 1024,
            secure_cookies: true,
            cors_origins: Vec::new(),
            tenant_cache_ttl_ms: 1000,
            metrics_listen: ([127, 0, 0, 1], 9104).into(),
        }
    }
}

impl VerticalSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for origin in &self.cors_origins {
            validate_origin(origin)?;
        }
        Ok(())
    }
}

impl FilesSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1024..=100 * 1024 * 1024).contains(&self.max_upload_bytes) {
            return Err(ConfigError::new("files.max_upload_bytes", "must be between 1024 and 104857600"));
        }
        if self.uploads_per_minute == 0 {
            return Err(ConfigError::new("files.uploads_per_minute", "must be at least 1"));
        }
        Ok(())
    }
}

/// A CORS origin: `scheme://host[:port]` exactly, http(s) only, never `*` (credentials are
/// allowed, so a wildcard would hand every site the user's session).
pub fn validate_origin(origin: &str) -> Result<(), ConfigError> {
    let key = "vertical.cors_origins";
    let parsed = url::Url::parse(origin).map_err(|_| ConfigError::new(key, format!("{origin:?} is not an origin like https://shop.example.com")))?;
    let canonical = parsed.origin().ascii_serialization();
    if !matches!(parsed.scheme(), "http" | "https") || canonical != origin.trim_end_matches('/') {
        return Err(ConfigError::new(key, format!("{origin:?} must be exactly scheme://host[:port] (got {canonical})")));
    }
    Ok(())
}
