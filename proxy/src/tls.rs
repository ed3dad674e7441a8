//! Certificates by SNI, swappable at run time.
//!
//! The store maps host names to certified keys and is replaced atomically (`ArcSwap`): a
//! renewed or newly dropped certificate is served on the next handshake, with no restart and
//! without disturbing handshakes in flight. Certificates come from a directory of PEM pairs
//! named after the host: `acme.example.com.pem` + `acme.example.com.key`, `_wildcard.example.com`
//! for `*.example.com`, and `default` for clients that send no (or an unknown) name. The ACME
//! issuer writes the same layout; operators can drop their own (e.g. a Cloudflare origin cert).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why a certificate pair could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CertError {
    pub path: PathBuf,
    pub message: String,
}

type ByName = HashMap<String, Arc<CertifiedKey>>;

/// The certificates currently served: the operator's files over the ones issued by ACME.
#[derive(Default)]
pub struct CertStore {
    by_name: ArcSwap<ByName>,
    files: std::sync::Mutex<ByName>,
    /// When each of `files` expires, read once per reload (the gauge is refreshed every tick).
    files_not_after: std::sync::Mutex<Vec<(String, SystemTime)>>,
    issued: std::sync::Mutex<ByName>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore").field("names", &self.by_name.load().keys().collect::<Vec<_>>()).finish()
    }
}

impl CertStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Replaces every certificate from `proxy.tls_cert_dir` at once.
    pub fn replace(&self, certs: ByName) {
        let not_after = certs.iter().filter_map(|(name, key)| Some((name.clone(), key.end_entity_cert().ok().and_then(not_after)?))).collect();
        *self.files_not_after.lock().unwrap_or_else(|p| p.into_inner()) = not_after;
        let gone: Vec<String> = {
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            let gone = files.keys().filter(|k| !certs.contains_key(*k)).cloned().collect();
            *files = certs;
            gone
        };
        for name in gone {
            let _ = crate::metrics::CERT_EXPIRY.remove_label_values(&[name.as_str()]);
        }
        self.publish();
        self.export_file_expiry();
    }

    /// Sets the expiry gauge of every operator-provided certificate (the ACME issuer sets its
    /// own), so a hand-installed certificate that is about to expire alerts like an issued one.
    pub fn export_file_expiry(&self) {
        let now = SystemTime::now();
        for (name, not_after) in self.files_not_after.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let left = not_after.duration_since(now).map(|d| d.as_secs() as i64).unwrap_or(0);
            crate::metrics::CERT_EXPIRY.with_label_values(&[name]).set(left);
        }
    }

    /// Serves an issued certificate for each of its names (a wildcard certificate usually
    /// names its apex too); the next handshake uses it, handshakes in flight are untouched.
    pub fn install_issued(&self, names: &[String], key: Arc<CertifiedKey>) {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        for n in names {
            issued.insert(n.to_ascii_lowercase(), key.clone());
        }
        drop(issued);
        self.publish();
    }

    fn publish(&self) {
        let mut merged = self.issued.lock().unwrap_or_else(|p| p.into_inner()).clone();
        merged.extend(self.files.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())));
        self.by_name.store(Arc::new(merged));
    }

    /// Names served now (`*.example.com` for wildcards).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.by_name.load().keys().cloned().collect();
        v.sort();
        v
    }

    /// The key for a host: exact name, then the wildcard of its parent, then `default`.
    pub fn lookup(&self, host: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let map = self.by_name.load();
        if let Some(h) = host.map(|h| h.trim_end_matches('.').to_ascii_lowercase()) {
            if let Some(k) = map.get(&h) {
                return Some(k.clone());
            }
            if let Some((_, parent)) = h.split_once('.') {
                if let Some(k) = map.get(&format!("*.{parent}")) {
                    return Some(k.clone());
                }
            }
        }
        map.get("default").cloned()
    }
}

/// rustls calls this on every handshake (SNI hook).
#[derive(Debug)]
pub struct SniResolver(pub Arc<CertStore>);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.lookup(hello.server_name())
    }
}

/// The end of a certificate's validity.
fn not_after(der: &CertificateDer<'_>) -> Option<SystemTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let secs = u64::try_from(cert.validity().not_after.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses a PEM chain and key into a certified key (checking that they match).
pub fn certified_key(chain_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(chain_pem).collect::<Result<_, _>>().map_err(|e| format!("bad certificate PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the PEM file".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("bad private key PEM: {e}"))?;
    CertifiedKey::from_der(certs, key, &rustls::crypto::ring::default_provider()).map_err(|e| format!("certificate and key do not match: {e}"))
}

/// Loads every `<name>.pem` + `<name>.key` pair of `dir`. Bad pairs are reported, good ones kept.
pub fn load_dir(dir: &Path) -> (HashMap<String, Arc<CertifiedKey>>, Vec<CertError>) {
    let mut certs = HashMap::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(CertError { path: dir.to_owned(), message: e.to_string() });
            return (certs, errors);
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        let key_path = path.with_extension("key");
        let loaded = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|chain| std::fs::read(&key_path).map_err(|e| format!("{}: {e}", key_path.display())).map(|key| (chain, key)))
            .and_then(|(chain, key)| certified_key(&chain, &key));
        match loaded {
            Ok(ck) => {
                let name = match stem.strip_prefix("_wildcard.") {
                    Some(parent) => format!("*.{parent}"),
                    None => stem.to_ascii_lowercase(),
                };
                certs.insert(name, Arc::new(ck));
            }
            Err(message) => errors.push(CertError { path, message }),
        }
    }
    (certs, errors)
}

/// A fingerprint of the directory (names, sizes, mtimes): reload only when it changes.
fn dir_stamp(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some((e.path(), m.len(), m.modified().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Reloads `dir` into `store` whenever it changes (checked every `every`).
pub async fn watch_dir(dir: PathBuf, store: Arc<CertStore>, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut last = dir_stamp(&dir);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let stamp = dir_stamp(&dir);
        if stamp == last {
            // Time passes for an unchanged certificate too.
            store.export_file_expiry();
            continue;
        }
        last = stamp;
        let (certs, errors) = load_dir(&dir);
        for e in &errors {
            tracing::warn!(error = %e, "certificate not loaded");
        }
        tracing::info!(count = certs.len(), "certificates reloaded");
        store.replace(certs);
    }
}
