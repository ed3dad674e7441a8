//! One ACME order from start to certificate: answer every authorization (HTTP-01 token or
//! DNS-01 TXT record), wait for the CA, finalize with a fresh key, download the chain, and
//! always take the answers down again.

use std::time::Duration;

use instant_acme::{Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy};

use super::challenge::Http01Answers;
use super::dns::{record_name, DigitalOceanDns, TxtRecord};
use super::names::{ChallengeKind, Wanted};
use super::store::StoredCert;
use super::AcmeError;

/// What has to be removed once the order is settled.
enum Answer {
    Token(String),
    Txt(TxtRecord),
}

/// Talks to the CA for one account.
pub struct Issuer<'a> {
    pub account: &'a Account,
    pub answers: &'a Http01Answers,
    pub dns: Option<&'a DigitalOceanDns>,
    pub propagation: Duration,
}

impl Issuer<'_> {
    /// Obtains a certificate for `wanted`. Errors carry the CA's own explanation.
    pub async fn issue(&self, wanted: &Wanted) -> Result<StoredCert, AcmeError> {
        let ids: Vec<Identifier> = wanted.domains.iter().map(|d| Identifier::Dns(d.clone())).collect();
        let mut order = self.account.new_order(&NewOrder::new(&ids)).await?;
        let mut answers = Vec::new();
        let outcome = self.authorize(&mut order, wanted, &mut answers).await;
        let outcome = match outcome {
            Ok(()) => self.finish(&mut order, wanted).await,
            Err(e) => Err(e),
        };
        for a in answers {
            match a {
                Answer::Token(t) => self.answers.withdraw(&t).await,
                Answer::Txt(r) => {
                    if let Some(dns) = self.dns {
                        if let Err(e) = dns.delete(&r).await {
                            tracing::warn!(error = %e, zone = %r.zone, "challenge TXT record not removed");
                        }
                    }
                }
            }
        }
        outcome
    }

    async fn authorize(&self, order: &mut instant_acme::Order, wanted: &Wanted, answers: &mut Vec<Answer>) -> Result<(), AcmeError> {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(AcmeError::Validation(format!("authorization for {} is {other:?}", authz.identifier()))),
            }
            let domain = authz.identifier().to_string();
            let kind = match wanted.challenge {
                ChallengeKind::Http01 => ChallengeType::Http01,
                ChallengeKind::Dns01 => ChallengeType::Dns01,
            };
            let mut challenge =
                authz.challenge(kind.clone()).ok_or_else(|| AcmeError::Validation(format!("the CA offers no {kind:?} challenge for {domain}")))?;
            match wanted.challenge {
                ChallengeKind::Http01 => {
                    let token = challenge.token.clone();
                    self.answers.publish(&token, challenge.key_authorization().as_str()).await?;
                    answers.push(Answer::Token(token));
                    // Other edges answer from their copy of the database, refreshed each second.
                    tokio::time::sleep(self.answers.propagation()).await;
                }
                ChallengeKind::Dns01 => {
                    let dns = self.dns.ok_or_else(|| AcmeError::Dns("no DNS provider configured".into()))?;
                    let zone = wanted.zone.as_deref().unwrap_or_default();
                    let name = record_name(&domain, zone).ok_or_else(|| AcmeError::Dns(format!("{domain} is not inside the zone {zone}")))?;
                    let record = dns.create_txt(zone, &name, &challenge.key_authorization().dns_value()).await?;
                    answers.push(Answer::Txt(record));
                    tokio::time::sleep(self.propagation).await;
                }
            }
            challenge.set_ready().await?;
        }
        Ok(())
    }

    async fn finish(&self, order: &mut instant_acme::Order, wanted: &Wanted) -> Result<StoredCert, AcmeError> {
        let policy = RetryPolicy::new().initial_delay(Duration::from_millis(500)).timeout(Duration::from_secs(120));
        let status = order.poll_ready(&policy).await?;
        if status != OrderStatus::Ready {
            return Err(AcmeError::Validation(failure_detail(order).await.unwrap_or_else(|| format!("order is {status:?}"))));
        }
        let key_pem = order.finalize().await?;
        let chain_pem = order.poll_certificate(&policy).await?;
        StoredCert::from_pem(&wanted.name, chain_pem, key_pem)
    }
}

/// The CA's reason for an invalid order: the failed challenge's problem, else the order's.
async fn failure_detail(order: &mut instant_acme::Order) -> Option<String> {
    let mut authorizations = order.authorizations();
    while let Some(Ok(authz)) = authorizations.next().await {
        if let Some(problem) = authz.challenges.iter().find_map(|c| c.error.as_ref()) {
            return Some(format!("{}: {}", authz.identifier(), problem.detail.clone().unwrap_or_else(|| problem.to_string())));
        }
    }
    order.state().error.as_ref().map(|p| p.to_string())
}
