//! DNS-01 through the DigitalOcean DNS API (`/v2/domains/{zone}/records`): create the
//! `_acme-challenge` TXT record, let it propagate, delete it afterwards. The token travels
//! only in the `Authorization` header and is never logged.

use infra::Secret;
use serde::Deserialize;

use super::AcmeError;

/// A client of the DigitalOcean records API.
pub struct DigitalOceanDns {
    api: String,
    token: Secret,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct RecordEnvelope {
    domain_record: Record,
}

#[derive(Deserialize)]
struct Record {
    id: u64,
}

#[derive(Deserialize)]
struct ApiError {
    id: Option<String>,
    message: Option<String>,
}

/// A record we created and must remove.
#[derive(Debug, Clone)]
pub struct TxtRecord {
    pub zone: String,
    pub id: u64,
}

/// The record name relative to `zone` for the challenge of `domain` (`_acme-challenge` for
/// the apex, `_acme-challenge.shop` for `shop.<zone>`).
pub fn record_name(domain: &str, zone: &str) -> Option<String> {
    let domain = domain.trim_start_matches("*.").trim_end_matches('.');
    if domain == zone {
        return Some("_acme-challenge".into());
    }
    domain.strip_suffix(zone).and_then(|p| p.strip_suffix('.')).map(|sub| format!("_acme-challenge.{sub}"))
}

impl DigitalOceanDns {
    pub fn new(api: &str, token: Secret) -> Result<Self, AcmeError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("basecommerce-proxy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AcmeError::Dns(format!("HTTP client: {e}")))?;
        Ok(Self { api: api.trim_end_matches('/').to_owned(), token, http })
    }

    pub async fn create_txt(&self, zone: &str, name: &str, value: &str) -> Result<TxtRecord, AcmeError> {
        let resp = self
            .http
            .post(format!("{}/v2/domains/{zone}/records", self.api))
            .bearer_auth(self.token.expose())
            .json(&serde_json::json!({ "type": "TXT", "name": name, "data": value, "ttl": 30 }))
            .send()
            .await
            .map_err(|e| AcmeError::Dns(format!("DigitalOcean API unreachable: {}", e.without_url())))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(api_error("creating the TXT record", status, resp).await);
        }
        let body: RecordEnvelope = resp.json().await.map_err(|e| AcmeError::Dns(format!("unexpected DigitalOcean answer: {}", e.without_url())))?;
        Ok(TxtRecord { zone: zone.to_owned(), id: body.domain_record.id })
    }

    pub async fn delete(&self, record: &TxtRecord) -> Result<(), AcmeError> {
        let resp = self
            .http
            .delete(format!("{}/v2/domains/{}/records/{}", self.api, record.zone, record.id))
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| AcmeError::Dns(format!("DigitalOcean API unreachable: {}", e.without_url())))?;
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(api_error("deleting the TXT record", status, resp).await)
    }
}

async fn api_error(what: &str, status: reqwest::StatusCode, resp: reqwest::Response) -> AcmeError {
    let detail = resp.json::<ApiError>().await.ok().map(|e| format!("{}: {}", e.id.unwrap_or_default(), e.message.unwrap_or_default())).unwrap_or_default();
    AcmeError::Dns(format!("DigitalOcean API refused {what} ({status}) {detail}"))
}

#[cfg(test)]
mod tests {
    use super::record_name;

    #[test]
    fn record_names_are_relative_to_the_zone() {
        assert_eq!(record_name("*.example.com", "example.com").as_deref(), Some("_acme-challenge"));
        assert_eq!(record_name("example.com", "example.com").as_deref(), Some("_acme-challenge"));
        assert_eq!(record_name("shop.example.com", "example.com").as_deref(), Some("_acme-challenge.shop"));
        assert_eq!(record_name("example.org", "example.com"), None);
        assert_eq!(record_name("badexample.com", "example.com"), None);
    }
}
