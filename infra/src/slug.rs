//! The tenant slug: the one place that decides what a tenant's subdomain label may be.
//!
//! Everything that turns text into a tenant (the proxy's host parsing, the vertical's
//! `X-Tenant-Slug`, the admin CLI) goes through [`TenantSlug::parse`], so a value of this
//! type is always a valid, non-reserved DNS label.

use std::fmt;
use std::str::FromStr;

/// Labels that would collide with platform hosts or confuse users; never a tenant.
pub const RESERVED_SLUGS: &[&str] = &[
    "www",
    "api",
    "admin",
    "app",
    "auth",
    "static",
    "assets",
    "cdn",
    "mail",
    "smtp",
    "imap",
    "pop",
    "ftp",
    "ns",
    "ns1",
    "ns2",
    "dns",
    "mx",
    "status",
    "health",
    "metrics",
    "login",
    "billing",
    "support",
    "help",
    "docs",
    "blog",
    "dashboard",
    "localhost",
    "root",
    "system",
    "internal",
    "staging",
    "dev",
    "test",
    "basecommerce",
    "_acme-challenge",
];

/// Why a text is not a tenant slug; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a tenant slug cannot be empty")]
    Empty,
    #[error("a tenant slug is at most 63 characters (got {0})")]
    TooLong(usize),
    #[error("a tenant slug may only contain a-z, 0-9 and '-' (found {0:?})")]
    InvalidChar(char),
    #[error("a tenant slug cannot start or end with '-'")]
    EdgeHyphen,
    #[error("{0:?} is reserved and cannot be a tenant slug")]
    Reserved(String),
}

/// A valid tenant label: `[a-z0-9-]{1,63}`, no leading/trailing `-`, not reserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Parses an exact slug. Upper case is refused rather than folded: callers that
    /// accept host names lower-case them first, so a stored slug is always canonical.
    pub fn parse(text: &str) -> Result<Self, SlugError> {
        if text.is_empty() {
            return Err(SlugError::Empty);
        }
        if text.len() > 63 {
            return Err(SlugError::TooLong(text.len()));
        }
        if let Some(bad) = text.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(SlugError::InvalidChar(bad));
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err(SlugError::EdgeHyphen);
        }
        if RESERVED_SLUGS.contains(&text) {
            return Err(SlugError::Reserved(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantSlug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TenantSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for TenantSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["acme", "a", "a1", "my-shop", "0", "x".repeat(63).as_str()] {
            assert_eq!(TenantSlug::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(TenantSlug::parse(""), Err(SlugError::Empty));
        assert_eq!(TenantSlug::parse(&"x".repeat(64)), Err(SlugError::TooLong(64)));
        assert_eq!(TenantSlug::parse("Acme"), Err(SlugError::InvalidChar('A')));
        assert_eq!(TenantSlug::parse("a.b"), Err(SlugError::InvalidChar('.')));
        assert_eq!(TenantSlug::parse("a_b"), Err(SlugError::InvalidChar('_')));
        assert_eq!(TenantSlug::parse("açai"), Err(SlugError::InvalidChar('ç')));
        assert_eq!(TenantSlug::parse("-acme"), Err(SlugError::EdgeHyphen));
        assert_eq!(TenantSlug::parse("acme-"), Err(SlugError::EdgeHyphen));
        for reserved in ["www", "api", "admin", "app", "auth", "static", "mail"] {
            assert_eq!(TenantSlug::parse(reserved), Err(SlugError::Reserved(reserved.into())));
        }
    }

    #[test]
    fn every_accepted_slug_obeys_the_rules() {
        // Exhaustive over a small alphabet with the characters that matter at the edges.
        let alphabet = ['a', 'z', '0', '9', '-', '.', 'A', '_'];
        let mut checked = 0;
        for len in 1..=4 {
            let mut idx = vec![0usize; len];
            loop {
                let s: String = idx.iter().map(|&i| alphabet[i]).collect();
                if let Ok(slug) = TenantSlug::parse(&s) {
                    let t = slug.as_str();
                    assert!(t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                    assert!(!t.starts_with('-') && !t.ends_with('-'));
                    checked += 1;
                }
                let mut k = 0;
                while k < len {
                    idx[k] += 1;
                    if idx[k] < alphabet.len() {
                        break;
                    }
                    idx[k] = 0;
                    k += 1;
                }
                if k == len {
                    break;
                }
            }
        }
        assert!(checked > 100);
    }

    #[test]
    fn deserialize_validates() {
        let ok: TenantSlug = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(ok.as_str(), "acme");
        assert!(serde_json::from_str::<TenantSlug>("\"www\"").is_err());
    }
}
