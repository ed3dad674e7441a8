//! Configuration: one TOML file, overridden by `$CREDENTIALS_DIRECTORY` files, overridden by
//! `BASECOMMERCE_<SECTION>__<KEY>` environment variables — then validated once, at start-up,
//! so a service either starts with a sane configuration or says in one line which key is wrong.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

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
    /// `redis://` or `rediss://` (TLS) URL.
    pub url: Option<Secret>,
}

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
}

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
}

impl Default for FilesSettings {
    fn default() -> Self {
        Self { dir: PathBuf::from("/var/lib/basecommerce/files"), max_upload_bytes: 10 * 1024 * 1024, uploads_per_minute: 10 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerticalSettings {
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Mark session cookies `Secure` (turn off only for plain-HTTP local runs).
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySettings {
    pub http_listen: SocketAddr,
    /// Used only when `tls_cert_dir` is set.
    pub https_listen: SocketAddr,
    /// `<slug>.<base>` is tenant `slug`; the longest matching base wins.
    pub base_domains: Vec<String>,
    /// Vertical addresses (`ip:port`), round-robin with health checks.
    pub upstreams: Vec<String>,
    /// Directory of `<host>.pem` + `<host>.key` pairs (`_wildcard.<domain>` for `*.<domain>`,
    /// `default` as fallback); enables the HTTPS listener. Reloaded when it changes.
    pub tls_cert_dir: Option<PathBuf>,
    /// With TLS on, plain HTTP redirects to HTTPS (except `/health` and ACME challenges).
    pub redirect_http: bool,
    /// Peers whose `X-Forwarded-For` is believed (IPs or CIDRs, e.g. a load balancer).
    pub trusted_proxies: Vec<String>,
    pub rate_limit_per_minute: u32,
    pub login_rate_limit_per_minute: u32,
    pub tenant_cache_ttl_secs: u64,
    /// Unknown hosts are remembered this long.
    pub negative_cache_ttl_secs: u64,
    pub tenant_cache_capacity: u64,
    /// Prometheus metrics (loopback).
    pub metrics_listen: SocketAddr,
    /// Worker threads of the proxy service.
    pub threads: usize,
    /// Socket for handing listeners to a new process on graceful reload.
    pub upgrade_sock: String,
    /// Send the bare base domain and `www.` here instead of the built-in landing page.
    pub landing_redirect: Option<String>,
    /// Retries of a request on another upstream after a connect failure (nothing was sent yet,
    /// so any method is safe).
    pub upstream_retries: usize,
    pub health_check_interval_secs: u64,
    /// Seconds a stopping proxy keeps serving in-flight requests.
    pub grace_period_secs: u64,
    /// Name shown on the platform's own pages.
    pub platform_name: String,
    /// Open client connections one IP may hold (counted, like nginx's `limit_conn`, from its
    /// first request header to the close); more get 429. Browsers open about six per host,
    /// an office behind one NAT address many times that.
    pub max_connections_per_ip: u32,
    /// An idle keep-alive client connection is closed after this long.
    pub keepalive_timeout_secs: u64,
    /// Longest wait for the next bytes of a request header or body from a client: a
    /// trickling (slowloris) client is cut off after this, and header and body sizes are
    /// capped by Pingora.
    pub client_read_timeout_secs: u64,
    /// Longest time a client may take to send a whole request, head and body (a client
    /// trickling bytes just under the read timeout is cut off here).
    pub request_deadline_secs: u64,
    /// Tokio work stealing between the proxy's threads (`false`: one single-threaded runtime
    /// per thread, as nginx runs one event loop per worker).
    pub work_stealing: bool,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            http_listen: ([0, 0, 0, 0], 80).into(),
            https_listen: ([0, 0, 0, 0], 443).into(),
            base_domains: Vec::new(),
            upstreams: vec!["127.0.0.1:8000".into()],
            tls_cert_dir: None,
            redirect_http: true,
            trusted_proxies: Vec::new(),
            rate_limit_per_minute: 100,
            login_rate_limit_per_minute: 10,
            tenant_cache_ttl_secs: 30,
            negative_cache_ttl_secs: 5,
            tenant_cache_capacity: 100_000,
            metrics_listen: ([127, 0, 0, 1], 9103).into(),
            threads: 2,
            upgrade_sock: "/run/basecommerce/proxy-upgrade.sock".into(),
            landing_redirect: None,
            upstream_retries: 2,
            health_check_interval_secs: 5,
            grace_period_secs: 5,
            platform_name: "basecommerce".into(),
            max_connections_per_ip: 256,
            keepalive_timeout_secs: 60,
            client_read_timeout_secs: 20,
            request_deadline_secs: 60,
            work_stealing: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnginesSettings {
    /// Redis stream the relay publishes to and the worker reads.
    pub stream: String,
    /// Where events that failed `max_deliveries` times go, with the reason.
    pub dlq_stream: String,
    /// Consumer group shared by all workers.
    pub group: String,
    /// `XADD … MAXLEN ~` ceiling: a memory safety valve only. Normal trimming never drops an
    /// entry the group has not acknowledged.
    pub stream_maxlen: usize,
    /// Connection URL for the engines (a member of basecommerce_relay, which may read the whole
    /// outbox); defaults to `database.url`.
    pub database_url: Option<Secret>,
    /// Fallback poll when no NOTIFY arrives (a lost notification costs at most this).
    pub poll_interval_ms: u64,
    /// Outbox rows per relay batch.
    pub batch_size: i64,
    /// Published outbox rows are deleted after this many hours.
    pub retention_hours: i64,
    /// A pending message idle this long is reclaimed by another worker (longer than the
    /// slowest handler).
    pub claim_idle_ms: u64,
    /// Deliveries after which a message goes to the dead-letter stream.
    pub max_deliveries: u64,
    /// Loopback HTTP endpoints for health and Prometheus metrics.
    pub worker_health_listen: SocketAddr,
    pub relay_health_listen: SocketAddr,
    /// How long SIGTERM waits for in-flight events.
    pub shutdown_timeout_secs: u64,
    /// This worker's consumer name in the group. Stable across restarts (the units set it to
    /// `<host>-worker[-<instance>]`), so a restarted worker finishes its own pending entries at
    /// once instead of leaving them to `claim_idle_ms`. Unset: `<host>-<pid>`.
    pub consumer_name: Option<String>,
}

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
            Some("digitalocean") => {
                if self.dns_token.as_ref().is_none_or(|t| t.expose().trim().is_empty()) {
                    return Err(ConfigError::new("acme.dns_token", "is required with acme.dns_provider = \"digitalocean\" (a credential file acme.dns_token)"));
                }
            }
            Some(other) => return Err(ConfigError::new("acme.dns_provider", format!("{other:?} is not supported (only \"digitalocean\")"))),
        }
        if self.check_interval_secs == 0 || self.retry_base_secs == 0 || self.max_orders_per_hour == 0 {
            return Err(ConfigError::new("acme", "check_interval_secs, retry_base_secs and max_orders_per_hour must be at least 1"));
        }
        Ok(())
    }
}

impl Default for EnginesSettings {
    fn default() -> Self {
        Self {
            stream: "events:construction".into(),
            dlq_stream: "events:dlq".into(),
            group: "engines".into(),
            stream_maxlen: 1_000_000,
            database_url: None,
            poll_interval_ms: 1000,
            batch_size: 500,
            retention_hours: 168,
            claim_idle_ms: 30_000,
            max_deliveries: 5,
            worker_health_listen: ([127, 0, 0, 1], 9101).into(),
            relay_health_listen: ([127, 0, 0, 1], 9102).into(),
            shutdown_timeout_secs: 20,
            consumer_name: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `auto` (JSON unless stdout is a terminal), `json` or `pretty`.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `info,basecommerce_vertical=debug`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Auto, level: "info".into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

/// Values people paste from tutorials; refused even when long enough.
const PLACEHOLDERS: &[&str] = &["change_me", "changeme", "change-me", "secret", "password", "example", "default", "your"];

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
        if let Some(s) = &self.auth.jwt_secret {
            validate_jwt_secret(s.expose())?;
        }
        if let Some(s) = &self.edge.secret {
            validate_edge_secret(s.expose())?;
        }
        if let Some(u) = &self.database.url {
            validate_postgres_url("database.url", u.expose())?;
        }
        if let Some(u) = &self.database.migrate_url {
            validate_postgres_url("database.migrate_url", u.expose())?;
        }
        if let Some(u) = &self.redis.url {
            validate_redis_url(u.expose())?;
        }
        for origin in &self.vertical.cors_origins {
            validate_origin(origin)?;
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.files.max_upload_bytes) {
            return Err(ConfigError::new("files.max_upload_bytes", "must be between 1024 and 104857600"));
        }
        if self.files.uploads_per_minute == 0 {
            return Err(ConfigError::new("files.uploads_per_minute", "must be at least 1"));
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError::new("database.pool_size", "must be at least 1"));
        }
        if self.auth.access_token_ttl_secs < 60 || self.auth.access_token_ttl_secs > 3600 {
            return Err(ConfigError::new("auth.access_token_ttl_secs", "must be between 60 and 3600"));
        }
        if !(1..=1440).contains(&self.auth.lockout_minutes) {
            return Err(ConfigError::new("auth.lockout_minutes", "must be between 1 and 1440"));
        }
        if !(1..=365).contains(&self.auth.refresh_token_ttl_days) {
            return Err(ConfigError::new("auth.refresh_token_ttl_days", "must be between 1 and 365"));
        }
        if self.auth.lockout_threshold < 1 {
            return Err(ConfigError::new("auth.lockout_threshold", "must be at least 1"));
        }
        if let Some(name) = &self.engines.consumer_name {
            if name.is_empty() || name.len() > 128 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b)) {
                return Err(ConfigError::new("engines.consumer_name", "must be 1-128 characters of letters, digits and - _ . @ :"));
            }
        }
        if self.engines.stream.trim().is_empty() {
            return Err(ConfigError::new("engines.stream", "must not be empty"));
        }
        if self.engines.dlq_stream == self.engines.stream {
            return Err(ConfigError::new("engines.dlq_stream", "must differ from engines.stream"));
        }
        if let Some(u) = &self.engines.database_url {
            validate_postgres_url("engines.database_url", u.expose())?;
        }
        if self.engines.max_deliveries == 0 || self.engines.batch_size < 1 || self.engines.poll_interval_ms == 0 {
            return Err(ConfigError::new("engines", "max_deliveries, batch_size and poll_interval_ms must be at least 1"));
        }
        for u in &self.proxy.upstreams {
            if u.parse::<SocketAddr>().is_err() {
                return Err(ConfigError::new("proxy.upstreams", format!("{u:?} is not an ip:port address")));
            }
        }
        if self.proxy.upstreams.is_empty() {
            return Err(ConfigError::new("proxy.upstreams", "needs at least one address"));
        }
        for p in &self.proxy.trusted_proxies {
            let ip = p.split('/').next().unwrap_or("");
            if ip.parse::<std::net::IpAddr>().is_err() || p.split('/').nth(1).is_some_and(|b| b.parse::<u8>().is_err()) {
                return Err(ConfigError::new("proxy.trusted_proxies", format!("{p:?} is not an IP or CIDR")));
            }
        }
        if self.proxy.threads == 0
            || self.proxy.rate_limit_per_minute == 0
            || self.proxy.login_rate_limit_per_minute == 0
            || self.proxy.max_connections_per_ip == 0
        {
            return Err(ConfigError::new("proxy", "threads, rate limits and max_connections_per_ip must be at least 1"));
        }
        if self.proxy.request_deadline_secs == 0 {
            return Err(ConfigError::new("proxy.request_deadline_secs", "must be at least 1"));
        }
        if self.proxy.keepalive_timeout_secs == 0 || self.proxy.client_read_timeout_secs == 0 {
            return Err(ConfigError::new("proxy", "keepalive_timeout_secs and client_read_timeout_secs must be at least 1"));
        }
        for d in &self.proxy.base_domains {
            if d.is_empty() || d.starts_with('.') || d.contains(['/', ':', ' ']) {
                return Err(ConfigError::new("proxy.base_domains", format!("{d:?} is not a domain name")));
            }
        }
        Ok(())
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

fn validate_postgres_url(key: &str, url: &str) -> Result<(), ConfigError> {
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

fn validate_redis_url(url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| ConfigError::new("redis.url", format!("is not a valid URL: {e}")))?;
    match parsed.scheme() {
        "redis" | "rediss" => {}
        other => return Err(ConfigError::new("redis.url", format!("scheme must be redis:// or rediss:// (TLS), not {other}://"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new("redis.url", "has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_JWT: &str = "3f9a1c7e5b2d48f0a6c3e9b17d524f8e0c6a2b9d4e7f1a3c5b8d0e2f4a6c8e1b";

    fn env_none() -> Env {
        Env::prefixed("BASECOMMERCE_TEST_NOTHING_SET_")
    }

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("bc-config-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn jwt_secret_rules_name_the_key() {
        assert!(validate_jwt_secret(GOOD_JWT).is_ok());
        for bad in ["change_me", "abc", &"a".repeat(64), &"0123".repeat(16)[..63], &format!("{}zz", &GOOD_JWT[..62])] {
            let err = validate_jwt_secret(bad).unwrap_err();
            assert_eq!(err.key, "auth.jwt_secret", "{bad}");
            assert!(!err.to_string().contains('\n'));
        }
        let err = validate_jwt_secret(&format!("change_me{}", GOOD_JWT)).unwrap_err();
        assert!(err.message.contains("placeholder"));
    }

    #[test]
    fn file_then_env_precedence_and_lists() {
        let d = tmpdir("prec");
        let file = write(
            &d,
            "c.toml",
            &format!("[auth]\njwt_secret = \"{GOOD_JWT}\"\n[vertical]\nlisten = \"127.0.0.1:9001\"\n[proxy]\nbase_domains = [\"example.com\"]\n"),
        );
        let s = Settings::load_from(Some(&file), None, env_none()).unwrap();
        assert_eq!(s.vertical.listen.port(), 9001);
        assert_eq!(s.proxy.base_domains, vec!["example.com"]);
        assert_eq!(s.engines.stream, "events:construction");

        let prefix = format!("BCT{}_", std::process::id());
        std::env::set_var(format!("{prefix}VERTICAL__LISTEN"), "127.0.0.1:9002");
        std::env::set_var(format!("{prefix}PROXY__BASE_DOMAINS"), "[a.com,staging.a.com]");
        let s = Settings::load_from(Some(&file), None, Env::prefixed(&prefix)).unwrap();
        assert_eq!(s.vertical.listen.port(), 9002);
        assert_eq!(s.proxy.base_domains, vec!["a.com", "staging.a.com"]);
    }

    #[test]
    fn acme_needs_an_email_accepted_terms_and_a_token_for_dns01() {
        let mut s = Settings::default();
        s.acme.enabled = true;
        assert_eq!(s.acme.validate().unwrap_err().key, "acme.email");
        s.acme.email = Some("ops@example.com".into());
        assert_eq!(s.acme.validate().unwrap_err().key, "acme.accept_terms");
        s.acme.accept_terms = true;
        s.acme.validate().unwrap();
        s.acme.dns_provider = Some("digitalocean".into());
        assert_eq!(s.acme.validate().unwrap_err().key, "acme.dns_token");
        s.acme.dns_token = Some(Secret::new("dop_v1_abc"));
        s.acme.validate().unwrap();
        s.acme.dns_provider = Some("route53".into());
        assert_eq!(s.acme.validate().unwrap_err().key, "acme.dns_provider");
        s.acme.dns_provider = None;
        s.acme.directory_url = "http://insecure.example/dir".into();
        assert_eq!(s.acme.validate().unwrap_err().key, "acme.directory_url");
    }

    #[test]
    fn credentials_directory_supplies_secrets() {
        let d = tmpdir("cred");
        write(&d, "auth.jwt_secret", &format!("{GOOD_JWT}\n"));
        write(&d, "database.url", "postgres://app:pw@db.internal:25060/basecommerce?sslmode=require");
        let s = Settings::load_from(None, Some(&d), env_none()).unwrap();
        assert_eq!(s.require_jwt_secret().unwrap().expose(), GOOD_JWT);
        assert!(s.require_database_url().unwrap().expose().contains("sslmode=require"));
        assert!(!format!("{s:?}").contains("pw@"), "secrets must not appear in Debug output");
    }

    #[test]
    fn bad_values_are_one_line_errors_naming_the_key() {
        let d = tmpdir("bad");
        let cases = [
            ("[auth]\njwt_secret = \"change_me\"\n", "auth.jwt_secret"),
            ("[database]\nurl = \"mysql://x\"\n", "database.url"),
            ("[database]\nurl = \"postgres://x/y?sslmode=bogus\"\n", "database.url"),
            ("[redis]\nurl = \"http://localhost\"\n", "redis.url"),
            ("[vertical]\nlisten = \"not an address\"\n", "vertical.listen"),
            ("[vertical]\nlisten_port = 1\n", "vertical.listen_port"),
            ("[edge]\nsecret = \"short\"\n", "edge.secret"),
        ];
        for (i, (body, key)) in cases.iter().enumerate() {
            let f = write(&d, &format!("{i}.toml"), body);
            let err = Settings::load_from(Some(&f), None, env_none()).unwrap_err();
            assert_eq!(&err.key, key, "{body} -> {err}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }

    #[test]
    fn missing_secret_is_named_when_required() {
        let s = Settings::load_from(None, None, env_none()).unwrap();
        let err = s.require_jwt_secret().unwrap_err();
        assert_eq!(err.key, "auth.jwt_secret");
        assert!(err.message.contains("BASECOMMERCE_AUTH__JWT_SECRET"));
    }

    /// The documented example must stay loadable: every key in it exists, every value parses.
    #[test]
    fn example_config_is_valid() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("basecommerce.example.toml");
        let s = Settings::load_from(Some(&example), None, env_none()).unwrap();
        let defaults = Settings::default();
        assert_eq!(s.vertical.listen, defaults.vertical.listen);
        assert_eq!(s.engines.stream, defaults.engines.stream);
        assert_eq!(s.auth.lockout_threshold, 5);
    }

    #[test]
    fn managed_service_urls_are_accepted() {
        validate_postgres_url("database.url", "postgresql://doadmin:x@db-postgresql-fra1-1.b.db.ondigitalocean.com:25060/defaultdb?sslmode=require").unwrap();
        validate_redis_url("rediss://default:x@db-redis-fra1-1.b.db.ondigitalocean.com:25061").unwrap();
    }
}
