//! Configuration: one TOML file, overridden by `$CREDENTIALS_DIRECTORY` files, overridden by
//! `BASECOMMERCE_<SECTION>__<KEY>` environment variables — then validated once, at start-up,
//! so a service either starts with a sane configuration or says in one line which key is wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

mod acme;
mod auth;
mod database;
mod engines;
mod log;
mod proxy;
mod vertical;

pub use acme::{AcmeSettings, LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING};
pub use auth::{validate_edge_secret, validate_jwt_secret, AuthSettings, EdgeSettings};
pub use database::{DatabaseSettings, RedisSettings};
pub use engines::EnginesSettings;
pub use log::{LogFormat, LogSettings};
pub use proxy::ProxySettings;
pub use vertical::{validate_origin, FilesSettings, VerticalSettings};

/// Where operators find the configuration unless `--config` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/basecommerce/basecommerce.toml";
/// Prefix of environment overrides; `__` separates section and key.
pub const ENV_PREFIX: &str = "BASECOMMERCE_";

/// A configuration problem, always naming the key, printed on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

/// A secret value: never printed by `Debug`/`Display`, so it cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The raw value; call sites are few and obvious on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The whole configuration; each service reads the sections it needs.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub edge: EdgeSettings,
    pub vertical: VerticalSettings,
    pub proxy: ProxySettings,
    pub engines: EnginesSettings,
    pub acme: AcmeSettings,
    pub files: FilesSettings,
    pub log: LogSettings,
}
impl Settings {
    /// Loads `path` (missing file is fine only when it is the default path), then credentials,
    /// then environment, and validates what is present.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(path, std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from).as_deref(), Env::prefixed(ENV_PREFIX))
    }

    /// [`Settings::load`] with the credentials directory and environment made explicit (tests).
    pub fn load_from(path: Option<&Path>, credentials: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match path {
            Some(p) => {
                if !p.exists() {
                    return Err(ConfigError::new("--config", format!("{} does not exist", p.display())));
                }
                figment = figment.merge(Toml::file_exact(p));
            }
            None => {
                if Path::new(DEFAULT_CONFIG_PATH).exists() {
                    figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_PATH));
                }
            }
        }
        if let Some(dir) = credentials {
            figment = figment.merge(Serialized::defaults(read_credentials(dir)?));
        }
        figment = figment.merge(env.filter(|k| k.as_str().contains("__")).split("__"));
        let settings: Settings = figment.extract().map_err(figment_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value that is set; absent secrets are checked by the `require_*` accessors,
    /// because not every service needs every secret.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate()?;
        self.redis.validate()?;
        self.auth.validate()?;
        self.edge.validate()?;
        self.vertical.validate()?;
        self.files.validate()?;
        self.engines.validate()?;
        self.proxy.validate()
    }

    /// The engines' URL, falling back to `database.url`.
    pub fn require_engines_database_url(&self) -> Result<&Secret, ConfigError> {
        self.engines.database_url.as_ref().or(self.database.url.as_ref()).ok_or_else(|| missing("database.url"))
    }
    pub fn require_database_url(&self) -> Result<&Secret, ConfigError> {
        self.database.url.as_ref().ok_or_else(|| missing("database.url"))
    }
    /// The owner URL, falling back to the application URL (single-role local setups).
    pub fn require_migrate_url(&self) -> Result<&Secret, ConfigError> {
        self.database.migrate_url.as_ref().or(self.database.url.as_ref()).ok_or_else(|| missing("database.migrate_url"))
    }
    pub fn require_redis_url(&self) -> Result<&Secret, ConfigError> {
        self.redis.url.as_ref().ok_or_else(|| missing("redis.url"))
    }
    pub fn require_jwt_secret(&self) -> Result<&Secret, ConfigError> {
        self.auth.jwt_secret.as_ref().ok_or_else(|| missing("auth.jwt_secret"))
    }
    pub fn require_edge_secret(&self) -> Result<&Secret, ConfigError> {
        self.edge.secret.as_ref().ok_or_else(|| missing("edge.secret"))
    }
}

fn missing(key: &str) -> ConfigError {
    ConfigError::new(
        key,
        format!("is required (set it in the config file, as ${ENV_PREFIX}{} or as a credential file named {key})", key.to_uppercase().replace('.', "__")),
    )
}

fn figment_error(e: figment::Error) -> ConfigError {
    let key = if e.path.is_empty() { "config".to_string() } else { e.path.join(".") };
    let message = match &e.kind {
        figment::error::Kind::UnknownField(field, _) => {
            // figment's path already ends with the unknown field.
            let key_full = if e.path.last() == Some(field) { key } else { format!("{key}.{field}") };
            return ConfigError::new(key_full, "unknown key (see infra/basecommerce.example.toml)");
        }
        kind => kind.to_string(),
    };
    let source = e.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
    ConfigError::new(key, format!("{message}{source}").replace('\n', " "))
}

/// Reads `$CREDENTIALS_DIRECTORY/<section>.<key>` files (systemd `LoadCredential=`).
fn read_credentials(dir: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>, ConfigError> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| ConfigError::new("CREDENTIALS_DIRECTORY", format!("cannot read {}: {e}", dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((section, key)) = name.split_once('.') else { continue };
        let value = std::fs::read_to_string(entry.path()).map_err(|e| ConfigError::new(name.clone(), format!("cannot read credential file: {e}")))?;
        out.entry(section.to_owned()).or_default().insert(key.to_owned(), value.trim().to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
