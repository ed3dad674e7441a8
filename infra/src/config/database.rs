//! `[database]` and `[redis]`: where the state lives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Connection URL of the application role (not the owner, so row-level security applies).
    pub url: Option<Secret>,
    /// Connection URL of the schema owner, used only by `basecommerce migrate` and admin commands.
    pub migrate_url: Option<Secret>,
    /// Pool size per service process.
    pub pool_size: usize,
    /// PEM file of the CA that signed the server certificate (managed databases); with it,
    /// the server certificate and host name are verified.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: None, migrate_url: None, pool_size: 16, ca_file: None, connect_timeout_secs: 5 }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` (TLS) URL. On the appliance each service's unit loads its own
    /// ACL user's URL here (below); the admin CLI keeps the administrative one.
    pub url: Option<Secret>,
    /// The credential files of each service's own Redis ACL user (issue 15, finding 7; rules in
    /// [`crate::redis::acl`]): `redis://basecommerce-proxy:<password>@…` and so on. A unit loads
    /// its own file as `redis.url`; here they are config keys so the admin CLI can read them
    /// (`basecommerce redis acl` writes the users into the Redis configuration).
    pub proxy_url: Option<Secret>,
    pub vertical_url: Option<Secret>,
    pub relay_url: Option<Secret>,
    pub worker_url: Option<Secret>,
}

impl DatabaseSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.url {
            validate_postgres_url("database.url", u.expose())?;
        }
        if let Some(u) = &self.migrate_url {
            validate_postgres_url("database.migrate_url", u.expose())?;
        }
        if self.pool_size == 0 {
            return Err(ConfigError::new("database.pool_size", "must be at least 1"));
        }
        Ok(())
    }
}

impl RedisSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.url {
            validate_redis_url("redis.url", u.expose())?;
        }
        for service in crate::redis::acl::RedisService::ALL {
            if let Some(u) = service.url(self) {
                validate_redis_url(service.credential(), u.expose())?;
            }
        }
        Ok(())
    }
}

pub(super) fn validate_postgres_url(key: &str, url: &str) -> Result<(), ConfigError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ConfigError::new(key, "must be a postgres:// URL"));
    }
    url.parse::<tokio_postgres::Config>().map(|_| ()).map_err(|e| {
        ConfigError::new(
            key,
            format!("is not a valid PostgreSQL URL: {e} (sslmode may be disable, prefer or require; set database.ca_file to verify the server)"),
        )
    })
}

pub(super) fn validate_redis_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| ConfigError::new(key, format!("is not a valid URL: {e}")))?;
    match parsed.scheme() {
        "redis" | "rediss" => {}
        other => return Err(ConfigError::new(key, format!("scheme must be redis:// or rediss:// (TLS), not {other}://"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(key, "has no host"));
    }
    Ok(())
}
