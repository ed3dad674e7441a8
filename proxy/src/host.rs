//! From a `Host` header to what it addresses: a tenant subdomain of a base domain, the platform
//! itself (the bare base domain and `www.`), a candidate custom domain, or nothing valid.
//!
//! Hosts are lower-cased, a trailing dot and the port are ignored, the longest matching base
//! domain wins (so with `example.com` and `staging.example.com`, `staging.example.com` is a
//! base and `a.staging.example.com` is tenant `a`), and deeper names or invalid labels are
//! never tenants.

use infra::TenantSlug;

/// What a request's host addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `<slug>.<base>`.
    Tenant(TenantSlug),
    /// `<base>` or `www.<base>`: the platform's landing page.
    Platform,
    /// Not under any base domain: maybe a verified custom domain (looked up in the database).
    CustomDomain(String),
    /// Under a base domain but not a valid tenant label (deeper names, reserved, bad characters).
    Invalid,
}

/// The configured base domains, longest first.
#[derive(Debug, Clone)]
pub struct HostRouter {
    bases: Vec<String>,
}

impl HostRouter {
    pub fn new(bases: &[String]) -> Self {
        let mut bases: Vec<String> = bases.iter().map(|b| b.trim().trim_end_matches('.').to_ascii_lowercase()).filter(|b| !b.is_empty()).collect();
        bases.sort_by_key(|b| std::cmp::Reverse(b.len()));
        bases.dedup();
        Self { bases }
    }

    /// Classifies a raw `Host` value (or `:authority`).
    pub fn route(&self, raw_host: &str) -> Route {
        let Some(host) = normalize(raw_host) else { return Route::Invalid };
        for base in &self.bases {
            if host == *base {
                return Route::Platform;
            }
            if let Some(label) = host.strip_suffix(base.as_str()).and_then(|rest| rest.strip_suffix('.')) {
                if label == "www" {
                    return Route::Platform;
                }
                if label.contains('.') {
                    return Route::Invalid;
                }
                return TenantSlug::parse(label).map(Route::Tenant).unwrap_or(Route::Invalid);
            }
        }
        if host.parse::<std::net::IpAddr>().is_ok() || !host.contains('.') {
            return Route::Invalid;
        }
        Route::CustomDomain(host)
    }
}

/// Lower-cases and strips the port and a trailing dot; `None` for anything that is not a
/// plausible DNS name (empty, bracketed IPv6, bad characters, over-long).
pub fn normalize(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.starts_with('[') {
        return None;
    }
    let host = match raw.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return None,
        None => raw,
    };
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() || host.len() > 253 || host.starts_with('.') || host.contains("..") {
        return None;
    }
    if !host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        return None;
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn router() -> HostRouter {
        HostRouter::new(&["example.com".into(), "staging.example.com".into(), "localhost".into()])
    }

    fn tenant(s: &str) -> Route {
        Route::Tenant(TenantSlug::parse(s).unwrap())
    }

    #[test]
    fn subdomains_are_tenants_and_the_longest_base_wins() {
        let r = router();
        assert_eq!(r.route("acme.example.com"), tenant("acme"));
        assert_eq!(r.route("ACME.Example.COM."), tenant("acme"));
        assert_eq!(r.route("acme.example.com:8443"), tenant("acme"));
        assert_eq!(r.route("acme.staging.example.com"), tenant("acme"));
        assert_eq!(r.route("staging.example.com"), Route::Platform, "a base, not a tenant");
        assert_eq!(r.route("example.com"), Route::Platform);
        assert_eq!(r.route("www.example.com"), Route::Platform);
        assert_eq!(r.route("demo.localhost:8080"), tenant("demo"));
    }

    #[test]
    fn deeper_names_invalid_labels_and_junk_are_not_tenants() {
        let r = router();
        for h in [
            "a.b.example.com",
            "-a.example.com",
            "a_b.example.com",
            "api.example.com",
            "",
            ":80",
            "[::1]:80",
            "acme.example.com:x",
            "a..example.com",
            "ex ample.com",
            "é.example.com",
        ] {
            assert_eq!(r.route(h), Route::Invalid, "{h:?}");
        }
        assert_eq!(r.route("127.0.0.1:8080"), Route::Invalid);
        assert_eq!(r.route("shop.acme.com.br"), Route::CustomDomain("shop.acme.com.br".into()));
        assert_eq!(r.route("evilexample.com"), Route::CustomDomain("evilexample.com".into()), "a suffix is not a subdomain");
    }

    /// Cases per property: 20,000 in the test suite; `BASECOMMERCE_FUZZ_CASES` raises it for a
    /// longer hunt (`bench/fuzz-edge.sh` runs 10⁶).
    fn cases() -> u32 {
        std::env::var("BASECOMMERCE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

        /// Whatever the host, routing never panics and never yields a slug outside the rules.
        #[test]
        fn any_host_routes_safely(host in "\\PC{0,80}") {
            if let Route::Tenant(slug) = router().route(&host) {
                prop_assert!(TenantSlug::parse(slug.as_str()).is_ok());
                prop_assert!(host.to_ascii_lowercase().contains(slug.as_str()));
            }
        }

        /// The SNI side: whatever name a client hello carries, the certificate chosen is the one
        /// stored under that exact name, under the wildcard of its parent, or the fallback.
        #[test]
        fn any_sni_name_gets_only_a_matching_certificate(name in "\\PC{0,80}") {
            let store = sni_store();
            let chosen = store.lookup(Some(&name)).expect("the fallback always answers");
            let lower = name.trim_end_matches('.').to_ascii_lowercase();
            let parent = lower.split_once('.').map(|(_, p)| p.to_string()).unwrap_or_default();
            let expected = if lower == "shop.example.com" { "exact" } else if parent == "example.com" { "wildcard" } else { "default" };
            prop_assert!(std::sync::Arc::ptr_eq(&chosen, &sni_keys()[expected]), "{name:?} → not {expected}");
        }

        #[test]
        fn tenant_like_hosts_route_to_their_label(label in "[a-z0-9][a-z0-9-]{0,20}[a-z0-9]", port in proptest::option::of(1u16..)) {
            let host = match port { Some(p) => format!("{label}.example.com:{p}"), None => format!("{label}.example.com") };
            let routed = router().route(&host);
            match TenantSlug::parse(&label) {
                Ok(slug) => prop_assert_eq!(routed, Route::Tenant(slug)),
                Err(_) => prop_assert!(matches!(routed, Route::Invalid | Route::Platform)),
            }
        }
    }

    /// Three certificates (exact, wildcard, fallback) made once for the SNI property.
    fn sni_keys() -> &'static std::collections::HashMap<&'static str, std::sync::Arc<rustls::sign::CertifiedKey>> {
        static KEYS: std::sync::OnceLock<std::collections::HashMap<&'static str, std::sync::Arc<rustls::sign::CertifiedKey>>> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| {
            let make = |name: &str| {
                let cert = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
                std::sync::Arc::new(crate::tls::certified_key(cert.cert.pem().as_bytes(), cert.key_pair.serialize_pem().as_bytes()).unwrap())
            };
            [("exact", make("shop.example.com")), ("wildcard", make("*.example.com")), ("default", make("fallback.invalid"))].into_iter().collect()
        })
    }

    fn sni_store() -> std::sync::Arc<crate::tls::CertStore> {
        let store = crate::tls::CertStore::new();
        let k = sni_keys();
        store.replace(
            [("shop.example.com", "exact"), ("*.example.com", "wildcard"), ("default", "default")]
                .into_iter()
                .map(|(n, w)| (n.to_string(), k[w].clone()))
                .collect(),
        );
        store
    }
}
