//! Users: roles, e-mail addresses and passwords as validated types.

use serde::{Deserialize, Serialize};

/// What a user may do within their tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages users, products, suppliers and stock.
    Admin,
    /// Manages clients, sites, quotes and orders.
    Seller,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "seller" => Some(Self::Seller),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Seller => "seller",
        }
    }
}

/// A lower-cased, plausibly deliverable e-mail address (one `@`, a dot in the domain, no spaces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let e = text.trim().to_lowercase();
        let Some((local, domain)) = e.split_once('@') else { return Err("must be an e-mail address") };
        if local.is_empty() || domain.contains('@') || !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err("must be an e-mail address");
        }
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be an e-mail address");
        }
        Ok(Self(e))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 1024 characters (the upper bound keeps hashing cost bounded).
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_LEN: usize = 8;
    pub fn parse(text: &str) -> Result<Self, String> {
        let n = text.chars().count();
        if n < Self::MIN_LEN {
            return Err(format!("must be at least {} characters", Self::MIN_LEN));
        }
        if text.len() > 1024 {
            return Err("must be at most 1024 bytes".into());
        }
        Ok(Self(text.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse(" Ana@Example.COM ").unwrap().as_str(), "ana@example.com");
        for bad in ["", "ana", "@x.com", "ana@", "ana@com", "a b@x.com", "a@b@c.com", "ana@.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_minimum_length() {
        assert!(NewPassword::parse("1234567").is_err());
        assert!(NewPassword::parse("12345678").is_ok());
        assert!(NewPassword::parse(&"x".repeat(2000)).is_err());
    }
}
