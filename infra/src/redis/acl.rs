//! Who may do what in Redis (issue 15, finding 7): one ACL user per service, each allowed only
//! the commands, keys and channels its code uses. A compromised proxy can then only listen for
//! tenant changes, a compromised vertical only announce user changes, and neither can read,
//! forge or trim the event stream; the relay may only append to and trim it, the worker read,
//! acknowledge and dead-letter. The administrative password (`redis.url` of the admin CLI, the
//! `default` user) stays with root.
//!
//! One definition for both sides: install.sh writes these users into the Redis configuration
//! through `basecommerce redis acl` ([`conf_line`]), the tests create them with `ACL SETUSER`
//! ([`RedisService::rules`]).

use sha2::{Digest, Sha256};

use redis::IntoConnectionInfo;

use super::{TENANT_CHANGES_CHANNEL, USER_CHANGES_CHANNEL};
use crate::config::{ConfigError, EnginesSettings, RedisSettings, Secret};

/// A service with its own Redis user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RedisService {
    Proxy,
    Vertical,
    Relay,
    Worker,
}

impl RedisService {
    pub const ALL: [Self; 4] = [Self::Proxy, Self::Vertical, Self::Relay, Self::Worker];

    /// The ACL user name.
    pub fn user(self) -> &'static str {
        match self {
            Self::Proxy => "basecommerce-proxy",
            Self::Vertical => "basecommerce-vertical",
            Self::Relay => "basecommerce-relay",
            Self::Worker => "basecommerce-worker",
        }
    }

    /// The credential file (and config key) with this user's `redis://user:password@host`;
    /// the service's unit loads it as `redis.url`.
    pub fn credential(self) -> &'static str {
        match self {
            Self::Proxy => "redis.proxy_url",
            Self::Vertical => "redis.vertical_url",
            Self::Relay => "redis.relay_url",
            Self::Worker => "redis.worker_url",
        }
    }

    /// This service's URL among the settings (the credential it is handed).
    pub fn url(self, redis: &RedisSettings) -> Option<&Secret> {
        match self {
            Self::Proxy => redis.proxy_url.as_ref(),
            Self::Vertical => redis.vertical_url.as_ref(),
            Self::Relay => redis.relay_url.as_ref(),
            Self::Worker => redis.worker_url.as_ref(),
        }
    }

    /// The user's ACL rules, to follow `reset` (which leaves a user with nothing).
    pub fn rules(self, engines: &EnginesSettings) -> Vec<String> {
        // Every client pings (health). No `+client|setinfo`: Redis 7.0 (Debian 12) has no such
        // command and would refuse the rule; the redis crate ignores its refusal.
        let mut rules: Vec<String> = ["resetkeys", "resetchannels", "-@all", "+ping"].map(String::from).to_vec();
        let (stream, dlq) = (&engines.stream, &engines.dlq_stream);
        let specific: Vec<String> = match self {
            Self::Proxy => vec!["+subscribe".into(), "+unsubscribe".into(), format!("&{TENANT_CHANGES_CHANNEL}")],
            Self::Vertical => vec!["+publish".into(), "+subscribe".into(), "+unsubscribe".into(), format!("&{USER_CHANGES_CHANNEL}")],
            // Appends and trims the stream; reads the lengths and groups for its health document.
            Self::Relay => {
                let cmds = ["+xadd", "+xtrim", "+xlen", "+xinfo|groups", "+xpending", "+time"];
                cmds.iter().map(|c| c.to_string()).chain([format!("~{stream}"), format!("%R~{dlq}")]).collect()
            }
            // Reads and acknowledges its group, reclaims stale entries, removes gone consumers
            // (a script of XINFO CONSUMERS + XGROUP DELCONSUMER, each checked against these
            // rules too), dead-letters with XADD.
            Self::Worker => {
                let cmds = [
                    "+xreadgroup",
                    "+xack",
                    "+xautoclaim",
                    "+xgroup|create",
                    "+xgroup|delconsumer",
                    "+xinfo|groups",
                    "+xinfo|consumers",
                    "+xpending",
                    "+xrange",
                    "+xadd",
                    "+xlen",
                    "+time",
                    "+eval",
                ];
                cmds.iter().map(|c| c.to_string()).chain([format!("~{stream}"), format!("~{dlq}")]).collect()
            }
        };
        rules.extend(specific);
        rules
    }
}

/// The `user` directive of the Redis configuration for `service`: the password is stored only
/// as its SHA-256 (`#<hex>`), so the configuration file reveals no password.
pub fn conf_line(service: RedisService, password: &str, engines: &EnginesSettings) -> String {
    let digest = hex::encode(Sha256::digest(password.as_bytes()));
    format!("user {} reset on #{digest} {}", service.user(), service.rules(engines).join(" "))
}

/// The `user` directives for every service, from the services' credentials: each URL must name
/// its service's user and carry a password.
pub fn conf_lines(redis: &RedisSettings, engines: &EnginesSettings) -> Result<Vec<String>, ConfigError> {
    RedisService::ALL
        .iter()
        .map(|&service| {
            let key = service.credential();
            let url = service.url(redis).ok_or_else(|| ConfigError::new(key, "is not set (install.sh generates it)"))?;
            let info = url.expose().into_connection_info().map_err(|e| ConfigError::new(key, format!("is not a Redis URL: {e}")))?;
            let settings = info.redis_settings();
            if settings.username() != Some(service.user()) {
                return Err(ConfigError::new(key, format!("must name the user {}", service.user())));
            }
            let password = settings.password().filter(|p| p.len() >= 16).ok_or_else(|| ConfigError::new(key, "needs a password of at least 16 characters"))?;
            Ok(conf_line(service, password, engines))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_user_gets_only_its_own_keys_and_channels() {
        let engines = EnginesSettings::default();
        let proxy = RedisService::Proxy.rules(&engines).join(" ");
        assert!(proxy.contains(&format!("&{TENANT_CHANGES_CHANNEL}")) && !proxy.contains('~') && !proxy.contains("+publish"), "{proxy}");
        let vertical = RedisService::Vertical.rules(&engines).join(" ");
        assert!(vertical.contains(&format!("&{USER_CHANGES_CHANNEL}")) && !vertical.contains('~') && !vertical.contains("+x"), "{vertical}");
        let relay = RedisService::Relay.rules(&engines).join(" ");
        assert!(relay.contains(&format!("~{} ", engines.stream)) && relay.ends_with(&format!("%R~{}", engines.dlq_stream)), "{relay}");
        assert!(!relay.contains("+xreadgroup") && !relay.contains('&'), "{relay}");
        let worker = RedisService::Worker.rules(&engines).join(" ");
        assert!(worker.contains("+xreadgroup") && !worker.contains("+xtrim") && !worker.contains('&'), "{worker}");
        for s in RedisService::ALL {
            assert!(s.rules(&engines).starts_with(&["resetkeys".into(), "resetchannels".into(), "-@all".into()]), "{s:?} starts from nothing");
        }
    }

    #[test]
    fn the_configuration_line_holds_a_digest_not_the_password() {
        let line = conf_line(RedisService::Relay, "s3cret-password", &EnginesSettings::default());
        assert!(line.starts_with("user basecommerce-relay reset on #"), "{line}");
        assert!(!line.contains("s3cret-password"), "{line}");
        let digest = hex::encode(Sha256::digest(b"s3cret-password"));
        assert!(line.contains(&format!("#{digest} ")), "{line}");
    }

    #[test]
    fn every_service_needs_its_own_user_and_a_password() {
        let engines = EnginesSettings::default();
        let url = |user: &str| Some(Secret::new(format!("redis://{user}:0123456789abcdef0123@127.0.0.1:6379")));
        let mut redis = RedisSettings {
            url: None,
            proxy_url: url("basecommerce-proxy"),
            vertical_url: url("basecommerce-vertical"),
            relay_url: url("basecommerce-relay"),
            worker_url: url("basecommerce-worker"),
        };
        let lines = conf_lines(&redis, &engines).unwrap();
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| !l.contains("0123456789abcdef0123")));
        redis.relay_url = url("basecommerce-worker");
        assert_eq!(conf_lines(&redis, &engines).unwrap_err().key, "redis.relay_url", "a URL naming another service's user");
        redis.relay_url = Some(Secret::new("redis://basecommerce-relay:short@127.0.0.1"));
        assert_eq!(conf_lines(&redis, &engines).unwrap_err().key, "redis.relay_url");
        redis.relay_url = None;
        assert_eq!(conf_lines(&redis, &engines).unwrap_err().key, "redis.relay_url");
    }
}
