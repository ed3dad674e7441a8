//! `[proxy]`: the edge's listeners, upstreams, limits and certificates.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

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

impl ProxySettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for u in &self.upstreams {
            if u.parse::<SocketAddr>().is_err() {
                return Err(ConfigError::new("proxy.upstreams", format!("{u:?} is not an ip:port address")));
            }
        }
        if self.upstreams.is_empty() {
            return Err(ConfigError::new("proxy.upstreams", "needs at least one address"));
        }
        for p in &self.trusted_proxies {
            let ip = p.split('/').next().unwrap_or("");
            if ip.parse::<std::net::IpAddr>().is_err() || p.split('/').nth(1).is_some_and(|b| b.parse::<u8>().is_err()) {
                return Err(ConfigError::new("proxy.trusted_proxies", format!("{p:?} is not an IP or CIDR")));
            }
        }
        if self.threads == 0 || self.rate_limit_per_minute == 0 || self.login_rate_limit_per_minute == 0 || self.max_connections_per_ip == 0 {
            return Err(ConfigError::new("proxy", "threads, rate limits and max_connections_per_ip must be at least 1"));
        }
        if self.request_deadline_secs == 0 {
            return Err(ConfigError::new("proxy.request_deadline_secs", "must be at least 1"));
        }
        if self.keepalive_timeout_secs == 0 || self.client_read_timeout_secs == 0 {
            return Err(ConfigError::new("proxy", "keepalive_timeout_secs and client_read_timeout_secs must be at least 1"));
        }
        for d in &self.base_domains {
            if d.is_empty() || d.starts_with('.') || d.contains(['/', ':', ' ']) {
                return Err(ConfigError::new("proxy.base_domains", format!("{d:?} is not a domain name")));
            }
        }
        Ok(())
    }
}
