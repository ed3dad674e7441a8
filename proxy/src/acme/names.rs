//! Which names need a certificate, when a certificate is due, how long to wait after a
//! failure. Pure functions, so the policy is tested without a CA.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// How the CA is convinced that we control a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// A token answered by the proxy on port 80 (one host per certificate).
    Http01,
    /// A TXT record written through the DNS provider's API (needed for wildcards).
    Dns01,
}

/// One certificate the edge should hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Key in storage and in the status table: `*.example.com` or a host name.
    pub name: String,
    /// Names on the certificate.
    pub domains: Vec<String>,
    pub challenge: ChallengeKind,
    /// The DNS zone holding `_acme-challenge` records (DNS-01 only).
    pub zone: Option<String>,
}

/// The "ask" gate: only real DNS host names (no IPs, no blanks, no single labels, no
/// wildcards) ever reach the CA.
pub fn issuable(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host.is_empty() || host.len() > 253 || host.parse::<IpAddr>().is_ok() {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && !labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// Everything the edge should hold: with DNS-01, one wildcard (+ apex) per base domain;
/// without it, the apex and one certificate per active tenant host. Verified custom domains
/// always go through HTTP-01. Names failing [`issuable`] are dropped.
pub fn wanted(base_domains: &[String], dns01: bool, tenant_slugs: &[String], custom_domains: &[String]) -> Vec<Wanted> {
    let mut out = Vec::new();
    for base in base_domains.iter().filter(|b| issuable(b)) {
        if dns01 {
            out.push(Wanted {
                name: format!("*.{base}"),
                domains: vec![format!("*.{base}"), base.clone()],
                challenge: ChallengeKind::Dns01,
                zone: Some(base.clone()),
            });
        } else {
            out.push(http01(base.clone()));
            out.extend(tenant_slugs.iter().map(|s| format!("{s}.{base}")).filter(|h| issuable(h)).map(http01));
        }
    }
    out.extend(custom_domains.iter().filter(|d| issuable(d)).cloned().map(http01));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

fn http01(host: String) -> Wanted {
    Wanted { name: host.clone(), domains: vec![host], challenge: ChallengeKind::Http01, zone: None }
}

/// When to renew: at two thirds of the lifetime, minus up to 1/30 of it spread by name, so
/// many certificates issued together do not all renew in the same minute.
pub fn renew_at(name: &str, not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    let lifetime = not_after.duration_since(not_before).unwrap_or_default();
    let jitter_span = lifetime / 30;
    let spread = fnv1a(name) % 1000;
    let jitter = jitter_span.mul_f64(spread as f64 / 1000.0);
    not_before + lifetime.mul_f64(2.0 / 3.0) - jitter
}

/// Delay before the next attempt after `failures` consecutive failures: `base`, doubling,
/// at most a day.
pub fn backoff(failures: u32, base: Duration) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    (base * factor).min(Duration::from_secs(86_400))
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_refuses_ips_blanks_and_odd_names() {
        for bad in ["", ".", "localhost", "127.0.0.1", "::1", "10.0.0.1", "1.2.3.4.", "*.example.com", "a..b.com", "-a.com", "a_b.com", "UPPER.com", "a.123"] {
            assert!(!issuable(bad), "{bad:?} must be refused");
        }
        for good in ["example.com", "shop.customer.test", "a-b.c0.example.com.", "xn--bcher-kva.example"] {
            assert!(issuable(good), "{good:?} must be accepted");
        }
    }

    #[test]
    fn dns01_asks_one_wildcard_per_base_and_http01_one_per_host() {
        let bases = vec!["example.com".to_string()];
        let slugs = vec!["acme".to_string(), "beta".to_string()];
        let custom = vec!["shop.acme.test".to_string(), "10.0.0.1".to_string()];
        let w = wanted(&bases, true, &slugs, &custom);
        assert_eq!(w.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["*.example.com", "shop.acme.test"]);
        assert_eq!(w[0].domains, ["*.example.com", "example.com"]);
        assert_eq!((w[0].challenge, w[1].challenge), (ChallengeKind::Dns01, ChallengeKind::Http01));
        let w = wanted(&bases, false, &slugs, &custom);
        assert_eq!(w.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["example.com", "acme.example.com", "beta.example.com", "shop.acme.test"]);
        assert!(w.iter().all(|w| w.challenge == ChallengeKind::Http01));
    }

    #[test]
    fn renewal_falls_at_two_thirds_with_a_bounded_spread() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let end = start + Duration::from_secs(90 * 86_400);
        let two_thirds = start + Duration::from_secs(60 * 86_400);
        let mut seen = std::collections::HashSet::new();
        for name in ["a.example.com", "b.example.com", "c.example.com", "*.example.com"] {
            let at = renew_at(name, start, end);
            assert!(at <= two_thirds && at >= two_thirds - Duration::from_secs(3 * 86_400), "{name}");
            seen.insert(at);
        }
        assert!(seen.len() > 1, "names are spread");
    }

    #[test]
    fn backoff_doubles_and_keeps_a_host_under_five_failures_an_hour() {
        let base = Duration::from_secs(720);
        assert_eq!(backoff(1, base), base);
        assert_eq!(backoff(2, base), base * 2);
        assert_eq!(backoff(3, base), base * 4);
        assert_eq!(backoff(40, base), Duration::from_secs(86_400));
        let first_five: Duration = (1..5).map(|n| backoff(n, base)).sum();
        assert!(first_five >= Duration::from_secs(3600), "the 5th failure cannot come within the hour of the 1st");
    }
}
