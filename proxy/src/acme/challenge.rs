//! HTTP-01 answers: `GET /.well-known/acme-challenge/<token>` on port 80 returns the key
//! authorization. Answers are published in memory and in PostgreSQL, so whichever edge droplet
//! the CA happens to reach can answer for an order placed by another.
//!
//! A request is answered from memory only: the answers this edge published, and a copy of the
//! database's pending answers refreshed every [`SYNC_INTERVAL`]. A flood of random tokens then
//! costs no database query (it used to cost one each, starving tenant lookups); an order
//! placed by another edge is answered here within one interval, and the issuer waits
//! [`Http01Answers::propagation`] before telling the CA to look.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use super::store::CertRepository;

/// How often the database's pending answers are copied into memory.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Tokens this edge (or, through the database, any edge) is answering.
#[derive(Default)]
pub struct Http01Answers {
    local: RwLock<HashMap<String, String>>,
    /// The database's pending answers as of the last sync.
    copied: RwLock<HashMap<String, String>>,
    shared: Option<CertRepository>,
}

impl Http01Answers {
    /// Answers from memory only (ACME off: every token is unknown).
    pub fn local_only() -> Self {
        Self::default()
    }

    pub fn shared(repo: CertRepository) -> Self {
        Self { shared: Some(repo), ..Self::default() }
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

    /// How long after a publish every edge answers the token.
    pub fn propagation(&self) -> Duration {
        if self.shared.is_some() {
            SYNC_INTERVAL * 2
        } else {
            Duration::ZERO
        }
    }

    /// The key authorization for `token`, if some edge is answering it. Memory only. Tokens are
    /// base64url; anything else is not looked up.
    pub fn answer(&self, token: &str) -> Option<String> {
        if token.is_empty() || token.len() > 128 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        if let Some(v) = self.local.read().unwrap_or_else(|p| p.into_inner()).get(token) {
            return Some(v.clone());
        }
        self.copied.read().unwrap_or_else(|p| p.into_inner()).get(token).cloned()
    }

    /// Copies the database's pending answers into memory once.
    pub async fn sync(&self) -> Result<(), super::AcmeError> {
        let Some(repo) = &self.shared else { return Ok(()) };
        let pending: HashMap<String, String> = repo.challenges().await?.into_iter().collect();
        *self.copied.write().unwrap_or_else(|p| p.into_inner()) = pending;
        Ok(())
    }

    /// [`Self::sync`] every [`SYNC_INTERVAL`], forever.
    pub async fn keep_in_step(&self) {
        let mut failing = false;
        loop {
            match self.sync().await {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "pending challenge answers not copied from the database");
                }
                Err(_) => {}
            }
            tokio::time::sleep(SYNC_INTERVAL).await;
        }
    }
}
