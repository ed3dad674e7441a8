//! `[auth]` and `[edge]`: the secrets that sign sessions and prove a request passed the edge.

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// HS256 key for access tokens: at least 64 hex characters (32 random bytes).
    pub jwt_secret: Option<Secret>,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    /// Failed logins before the account is locked.
    pub lockout_threshold: i32,
    pub lockout_minutes: i64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self { jwt_secret: None, access_token_ttl_secs: 900, refresh_token_ttl_days: 7, lockout_threshold: 5, lockout_minutes: 15 }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EdgeSettings {
    /// Shared by proxy and vertical: proves a request came through the proxy.
    pub secret: Option<Secret>,
    /// The edge's own database role (`basecommerce_proxy`). Services never read it: systemd hands
    /// it to the proxy as its `database.url`; it is a key so the admin CLI, which reads every
    /// credential file, accepts it.
    pub database_url: Option<Secret>,
}

impl AuthSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(s) = &self.jwt_secret {
            validate_jwt_secret(s.expose())?;
        }
        if self.access_token_ttl_secs < 60 || self.access_token_ttl_secs > 3600 {
            return Err(ConfigError::new("auth.access_token_ttl_secs", "must be between 60 and 3600"));
        }
        if !(1..=1440).contains(&self.lockout_minutes) {
            return Err(ConfigError::new("auth.lockout_minutes", "must be between 1 and 1440"));
        }
        if !(1..=365).contains(&self.refresh_token_ttl_days) {
            return Err(ConfigError::new("auth.refresh_token_ttl_days", "must be between 1 and 365"));
        }
        if self.lockout_threshold < 1 {
            return Err(ConfigError::new("auth.lockout_threshold", "must be at least 1"));
        }
        Ok(())
    }
}

impl EdgeSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match &self.secret {
            Some(s) => validate_edge_secret(s.expose()),
            None => Ok(()),
        }
    }
}

/// Values people paste from tutorials; refused even when long enough.
const PLACEHOLDERS: &[&str] = &["change_me", "changeme", "change-me", "secret", "password", "example", "default", "your"];

/// The JWT key must be real randomness: ≥ 64 hex characters, not a known placeholder,
/// not a trivially repeated pattern.
pub fn validate_jwt_secret(secret: &str) -> Result<(), ConfigError> {
    let key = "auth.jwt_secret";
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return Err(ConfigError::new(key, "is a placeholder; generate one with `openssl rand -hex 32`"));
    }
    if secret.len() < 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ConfigError::new(key, "must be at least 64 hex characters; generate one with `openssl rand -hex 32`"));
    }
    if distinct_chars(secret) < 8 {
        return Err(ConfigError::new(key, "is too repetitive to be random; generate one with `openssl rand -hex 32`"));
    }
    Ok(())
}

/// The edge secret proves a request passed the proxy: ≥ 32 characters of randomness.
pub fn validate_edge_secret(secret: &str) -> Result<(), ConfigError> {
    let key = "edge.secret";
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        return Err(ConfigError::new(key, "is a placeholder; generate one with `openssl rand -hex 32`"));
    }
    if secret.len() < 32 || distinct_chars(secret) < 8 {
        return Err(ConfigError::new(key, "must be at least 32 random characters; generate one with `openssl rand -hex 32`"));
    }
    Ok(())
}

fn distinct_chars(s: &str) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    s.chars().for_each(|c| {
        seen.insert(c.to_ascii_lowercase());
    });
    seen.len()
}
