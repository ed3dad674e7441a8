//! Access tokens (HS256 JWT, short-lived) and refresh tokens (opaque, random, stored hashed).

use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::user::Role;

/// The access token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// Tenant id: the token is valid only on this tenant's host.
    pub tid: Uuid,
    pub tslug: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The user's `token_version` when the token was issued: a token of an older version (the
    /// user was deactivated, or their role or password changed since) is refused.
    #[serde(default)]
    pub ver: i32,
    /// The refresh-token family (one sign-in) this token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<Uuid>,
}

/// Signs and checks access tokens with the configured HS256 key.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The same checks without expiry (see [`TokenKeys::session_of`]).
    ignoring_expiry: Validation,
    pub access_ttl_secs: i64,
}

impl TokenKeys {
    /// `secret_hex` has been validated as ≥ 64 hex chars; its bytes are the key.
    pub fn new(secret_hex: &str, access_ttl_secs: u64) -> Self {
        let key = hex::decode(secret_hex).unwrap_or_else(|_| secret_hex.as_bytes().to_vec());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        let mut ignoring_expiry = validation.clone();
        ignoring_expiry.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            ignoring_expiry,
            access_ttl_secs: access_ttl_secs as i64,
        }
    }

    /// A fresh access token for a user of a tenant.
    pub fn issue(&self, user_id: Uuid, tenant_id: Uuid, tenant_slug: &str, role: Role, version: i32, family: Uuid) -> Result<String, String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            tid: tenant_id,
            tslug: tenant_slug.to_owned(),
            role,
            iat: now,
            exp: now + self.access_ttl_secs,
            jti: Uuid::new_v4(),
            ver: version,
            fam: Some(family),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// Verifies signature, algorithm (HS256 only: `alg: none` and others are refused) and expiry.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|d| d.claims)
    }

    /// The claims of a genuine token even after it expired: signing out checks the form against
    /// the session it was rendered for, whose access token may have run out since. Grants nothing.
    pub fn session_of(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.ignoring_expiry).ok().map(|d| d.claims)
    }
}

/// A new refresh token: 32 random bytes, URL-safe; only its SHA-256 is stored.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "3f9a1c7e5b2d48f0a6c3e9b17d524f8e0c6a2b9d4e7f1a3c5b8d0e2f4a6c8e1b";

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let keys = TokenKeys::new(KEY, 900);
        let (u, t) = (Uuid::new_v4(), Uuid::new_v4());
        let tok = keys.issue(u, t, "acme", Role::Seller, 3, Uuid::nil()).unwrap();
        let c = keys.verify(&tok).unwrap();
        assert_eq!((c.sub, c.tid, c.tslug.as_str(), c.role, c.ver), (u, t, "acme", Role::Seller, 3));
        assert_eq!(c.exp - c.iat, 900);

        let other = TokenKeys::new(&KEY.replace('3', "4"), 900);
        assert!(other.verify(&tok).is_none(), "another key must not verify");

        // alg: none with the same claims.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = tok.split('.').nth(1).unwrap();
        let none = format!("{}.{}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#), payload);
        assert!(keys.verify(&none).is_none(), "alg none must be refused");
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = TokenKeys::new(KEY, 900);
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: Uuid::new_v4(),
            tid: Uuid::new_v4(),
            tslug: "a".into(),
            role: Role::Admin,
            iat: now - 1000,
            exp: now - 100,
            jti: Uuid::new_v4(),
            ver: 0,
            fam: None,
        };
        let tok = encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert!(keys.verify(&tok).is_none());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, _) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(ha, hash_refresh_token(&a));
        assert_eq!(ha.len(), 32);
    }
}
