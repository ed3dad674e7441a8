//! HTTP-01 answers: `GET /.well-known/acme-challenge/<token>` on port 80 returns the key
//! authorization. Answers are kept in memory and in PostgreSQL, so whichever edge droplet the
//! CA happens to reach can answer for an order placed by another.

use std::collections::HashMap;
use std::sync::RwLock;

use super::store::CertRepository;

/// Tokens this edge (or, through the database, any edge) is answering.
#[derive(Default)]
pub struct Http01Answers {
    local: RwLock<HashMap<String, String>>,
    shared: Option<CertRepository>,
}

impl Http01Answers {
    /// Answers from memory only (ACME off: every token is unknown).
    pub fn local_only() -> Self {
        Self::default()
    }

    pub fn shared(repo: CertRepository) -> Self {
        Self { local: RwLock::default(), shared: Some(repo) }
    }

    pub async fn publish(&self, token: &str, key_authorization: &str) -> Result<(), super::AcmeError> {
        self.local.write().unwrap_or_else(|p| p.into_inner()).insert(token.to_owned(), key_authorization.to_owned());
        if let Some(repo) = &self.shared {
            repo.put_challenge(token, key_authorization).await?;
        }
        Ok(())
    }

    pub async fn withdraw(&self, token: &str) {
        self.local.write().unwrap_or_else(|p| p.into_inner()).remove(token);
        if let Some(repo) = &self.shared {
            if let Err(e) = repo.delete_challenge(token).await {
                tracing::warn!(error = %e, "challenge answer not removed from the database");
            }
        }
    }

    /// The key authorization for `token`, if some edge is answering it. Tokens are base64url;
    /// anything else is not looked up.
    pub async fn answer(&self, token: &str) -> Option<String> {
        if token.is_empty() || token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        if let Some(v) = self.local.read().unwrap_or_else(|p| p.into_inner()).get(token) {
            return Some(v.clone());
        }
        match &self.shared {
            Some(repo) => repo.challenge(token).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "challenge lookup failed");
                None
            }),
            None => None,
        }
    }
}
