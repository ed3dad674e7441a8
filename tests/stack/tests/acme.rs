//! The proxy obtaining its own certificates from a real ACME server: Debian's `pebble`, with
//! `pebble-challtestsrv` as the DNS that Pebble's validator asks. Every certificate is checked
//! the way a browser would: a TLS handshake with SNI against the running proxy, trusting only
//! Pebble's root.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use stack::{eventually, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(60);
/// This run's `acme.key_encryption_key`, the same for every proxy of the run (as on every edge).
static KEY_ENCRYPTION_KEY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| stack::random_hex(32));

use harness::KillOnDrop as Reaped;

/// A Pebble CA and its DNS, on random loopback ports.
struct Pebble {
    _processes: Vec<Reaped>,
    dir: tempfile::TempDir,
    directory: String,
    /// Trust anchor of Pebble's own HTTPS endpoints (not of the certificates it issues).
    tls_root: PathBuf,
    management: u16,
    dns_management: u16,
}

/// A certificate authority made for one test (Pebble's HTTPS, a seeded short-lived cert).
struct TestCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        Self { cert: params.self_signed(&key).unwrap(), key }
    }

    /// A leaf for `names`, valid from `age` ago for `lifetime`: (chain PEM, key PEM).
    fn leaf(&self, names: &[&str], age: Duration, lifetime: Duration) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        let start = time::OffsetDateTime::now_utc() - age;
        params.not_before = start;
        params.not_after = start + lifetime;
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn port() -> u16 {
    harness::free_port()
}

impl Pebble {
    /// Starts both servers; Pebble validates HTTP-01 on `http_port` of whatever address the
    /// DNS gives (127.0.0.1 unless a test says otherwise).
    async fn start(http_port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("pebble-test-https");
        let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"], Duration::from_secs(60), Duration::from_secs(86_400));
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let tls_root = dir.path().join("ca.pem");
        std::fs::write(&tls_root, ca.cert.pem()).unwrap();
        let (listen, management, dns, dns_management) = (port(), port(), port(), port());
        let config = json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }});
        std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
        let dns_server = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns}"), "-management", &format!("127.0.0.1:{dns_management}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (Debian package pebble) must be installed");
        let ca_server = Command::new("pebble")
            .args(["-config", dir.path().join("pebble.json").to_str().unwrap(), "-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (Debian package pebble) must be installed");
        let pebble = Self {
            _processes: vec![Reaped(dns_server), Reaped(ca_server)],
            directory: format!("https://127.0.0.1:{listen}/dir"),
            tls_root,
            management,
            dns_management,
            dir,
        };
        let client = pebble.https_client();
        eventually(WAIT, "pebble up", || async { client.get(&pebble.directory).send().await.ok().filter(|r| r.status().is_success()).map(|_| ()) }).await;
        let dns_admin = reqwest::Client::new();
        eventually(WAIT, "challtestsrv up", || async {
            dns_admin.post(format!("http://127.0.0.1:{}/clear-txt", pebble.dns_management)).json(&json!({"host": "probe.test."})).send().await.ok().map(|_| ())
        })
        .await;
        pebble
    }

    fn https_client(&self) -> reqwest::Client {
        let root = reqwest::Certificate::from_pem(&std::fs::read(&self.tls_root).unwrap()).unwrap();
        reqwest::Client::builder().add_root_certificate(root).build().unwrap()
    }

    /// The root Pebble signs issued certificates with (new on every Pebble start).
    async fn issuing_root(&self) -> Vec<CertificateDer<'static>> {
        let pem = self.https_client().get(format!("https://127.0.0.1:{}/roots/0", self.management)).send().await.unwrap().text().await.unwrap();
        CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap()
    }

    /// Points `host` at `ip` in the validator's DNS.
    async fn set_a(&self, host: &str, ip: &str) {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/add-a", self.dns_management))
            .json(&json!({"host": format!("{host}."), "addresses": [ip]}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}

/// The proxy binary with ACME on, output captured in a file (to look for leaked secrets).
struct AcmeProxy {
    _process: Reaped,
    https: SocketAddr,
    log: PathBuf,
}

fn start_proxy(stack: &Stack, pebble: &Pebble, http_port: u16, cache: &Path, extra: &[(&str, String)]) -> AcmeProxy {
    let https: SocketAddr = format!("127.0.0.1:{}", port()).parse().unwrap();
    let log = pebble.dir.path().join(format!("proxy-{}.log", port()));
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(stack::workspace_binary("basecommerce-proxy"));
    cmd.envs(stack.edge_env())
        .env("BASECOMMERCE_EDGE__SECRET", stack.settings.edge.secret.as_ref().unwrap().expose())
        .env("BASECOMMERCE_PROXY__HTTP_LISTEN", format!("127.0.0.1:{http_port}"))
        .env("BASECOMMERCE_PROXY__HTTPS_LISTEN", https.to_string())
        .env("BASECOMMERCE_PROXY__BASE_DOMAINS", "[example.test]")
        .env("BASECOMMERCE_PROXY__UPSTREAMS", format!("[{}]", stack.vertical))
        .env("BASECOMMERCE_PROXY__METRICS_LISTEN", format!("127.0.0.1:{}", port()))
        .env("BASECOMMERCE_PROXY__UPGRADE_SOCK", pebble.dir.path().join(format!("upgrade-{}.sock", port())))
        .env("BASECOMMERCE_PROXY__GRACE_PERIOD_SECS", "1")
        .env("BASECOMMERCE_ACME__ENABLED", "true")
        .env("BASECOMMERCE_ACME__DIRECTORY_URL", &pebble.directory)
        .env("BASECOMMERCE_ACME__CA_ROOT", &pebble.tls_root)
        .env("BASECOMMERCE_ACME__EMAIL", "ops@example.test")
        .env("BASECOMMERCE_ACME__ACCEPT_TERMS", "true")
        .env("BASECOMMERCE_ACME__CACHE_DIR", cache)
        .env("BASECOMMERCE_ACME__CHECK_INTERVAL_SECS", "1")
        .env("BASECOMMERCE_ACME__RETRY_BASE_SECS", "1")
        .env("BASECOMMERCE_ACME__KEY_ENCRYPTION_KEY", KEY_ENCRYPTION_KEY.as_str())
        .env("BASECOMMERCE_LOG__LEVEL", "info")
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    AcmeProxy { _process: Reaped(cmd.spawn().unwrap()), https, log }
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connection to the proxy for `host` (SNI), trusting only `roots`.
async fn connect(addr: SocketAddr, host: &str, roots: &[CertificateDer<'static>]) -> Result<Tls, String> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(host.to_owned()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())
}

/// Issuer and DNS names of the certificate the server presented.
fn presented(tls: &Tls) -> (String, Vec<String>) {
    let der = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    let names = cert
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    (cert.issuer().to_string(), names)
}

/// One HTTP/1.1 request on an open (keep-alive) connection: (status, body).
async fn request(tls: &mut Tls, host: &str, path: &str) -> (u16, String) {
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tls.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a full response");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let head = text[..end].to_ascii_lowercase();
            let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                return (status, text[end + 4..end + 4 + len].to_string());
            }
        }
    }
}

async fn handshake_ok(addr: SocketAddr, host: &str, roots: &[CertificateDer<'static>]) -> Option<Tls> {
    connect(addr, host, roots).await.ok()
}

#[tokio::test]
async fn http01_for_verified_domains_with_renewal_backoff_and_a_database_outage() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let db = stack.superuser().await;
    for (domain, verified) in [("shop.acme-customer.test", true), ("unverified.acme-customer.test", false), ("down.acme-customer.test", true)] {
        db.execute(
            "INSERT INTO tenant_domains (tenant_id, domain, verified, verified_at) \
             SELECT id, $1, $2, CASE WHEN $2 THEN now() END FROM tenants WHERE slug = 'acme'",
            &[&domain, &verified],
        )
        .await
        .unwrap();
    }
    // A certificate near the end of its (short) life, as if issued 50 minutes ago for an hour.
    let seed_ca = TestCa::new("seeded short-lived CA");
    let (chain, key) = seed_ca.leaf(&["shop.acme-customer.test"], Duration::from_secs(50 * 60), Duration::from_secs(3600));
    let seeded = proxy::acme::store::StoredCert::from_pem("shop.acme-customer.test", chain, key).unwrap();
    db.execute(
        "INSERT INTO acme_certificates (name, domains, chain_pem, key_pem, issuer, not_before, not_after) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&seeded.name, &seeded.domains, &seeded.chain_pem, &seeded.key_pem, &seeded.issuer, &seeded.not_before, &seeded.not_after],
    )
    .await
    .unwrap();

    let http_port = port();
    let pebble = Pebble::start(http_port).await;
    // The CA's validator reaches this host on an address where nothing answers.
    pebble.set_a("down.acme-customer.test", "127.0.0.2").await;
    let cache = pebble.dir.path().join("acme-cache");
    let proxy = start_proxy(&stack, &pebble, http_port, &cache, &[]);
    let seed_root = vec![CertificateDer::from(seed_ca.cert.der().to_vec())];

    // The seeded certificate is served first; keep that connection open through the renewal.
    let mut live = eventually(WAIT, "seeded certificate served", || handshake_ok(proxy.https, "shop.acme-customer.test", &seed_root)).await;
    let (status, body) = request(&mut live, "shop.acme-customer.test", "/tenant.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["slug"], "acme", "the custom domain reaches its tenant");
    // The key stored in plaintext before sealing existed was sealed when the proxy read it.
    let key_pem: String = db.query_one("SELECT key_pem FROM acme_certificates WHERE name = 'shop.acme-customer.test'", &[]).await.unwrap().get(0);
    assert!(key_pem.starts_with("bcenc:v1:") && !key_pem.contains("PRIVATE KEY"), "legacy key left readable: {key_pem:.40}");

    let root = pebble.issuing_root().await;
    let mut renewed = eventually(WAIT, "renewed certificate from Pebble", || handshake_ok(proxy.https, "shop.acme-customer.test", &root)).await;
    let (issuer, names) = presented(&renewed);
    assert!(issuer.contains("Pebble"), "issued by Pebble: {issuer}");
    assert_eq!(names, ["shop.acme-customer.test"]);
    assert_eq!(request(&mut renewed, "shop.acme-customer.test", "/tenant.json").await.0, 200);
    let (status, _) = request(&mut live, "shop.acme-customer.test", "/tenant.json").await;
    assert_eq!(status, 200, "the connection opened before the swap keeps working");

    // Without a DNS token, the apex and every active tenant host get their own HTTP-01 certificate.
    for host in ["acme.example.test", "example.test"] {
        let tls = eventually(WAIT, host, || handshake_ok(proxy.https, host, &root)).await;
        assert_eq!(presented(&tls).1, [host]);
    }

    // The gate: an unverified domain is never ordered and gets no certificate.
    assert!(connect(proxy.https, "unverified.acme-customer.test", &root).await.is_err());
    let asked: i64 = db.query_one("SELECT count(*) FROM acme_status WHERE name LIKE 'unverified.%'", &[]).await.unwrap().get(0);
    assert_eq!(asked, 0, "an unverified domain never reaches the CA");

    // A failing validation backs off, doubling the wait after each failure.
    let row = eventually(WAIT, "two failed validations", || async {
        db.query_opt(
            "SELECT failures, last_error, extract(epoch FROM next_attempt_at - last_attempt_at)::float8 FROM acme_status \
             WHERE name = 'down.acme-customer.test' AND failures >= 2",
            &[],
        )
        .await
        .unwrap()
    })
    .await;
    let (failures, error, wait): (i32, String, f64) = (row.get(0), row.get(1), row.get(2));
    assert!(error.contains("down.acme-customer.test"), "the CA's reason is kept: {error}");
    assert_eq!(wait, f64::from(1u32 << (failures - 1)), "wait after {failures} failures (base 1 s)");

    // Stored for other edges and cached on disk, readable only by the service user.
    let stored: i64 = db.query_one("SELECT count(*) FROM acme_certificates WHERE issuer LIKE '%Pebble%'", &[]).await.unwrap().get(0);
    assert_eq!(stored, 3);
    // Issue 15, finding 5: whoever reads the ACME tables (or a backup) finds no private key.
    let readable: Vec<String> = db
        .query("SELECT name FROM acme_certificates WHERE key_pem NOT LIKE 'bcenc:v1:%' OR key_pem LIKE '%PRIVATE KEY%'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(readable.is_empty(), "private keys stored readable: {readable:?}");
    let account: String = db.query_one("SELECT credentials::text FROM acme_accounts", &[]).await.unwrap().get(0);
    assert!(account.starts_with("\"bcenc:v1:") && !account.contains("pkcs8"), "ACME account key stored readable: {account:.60}");
    let key_file = cache.join("shop.acme-customer.test.key");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let log = std::fs::read_to_string(&proxy.log).unwrap();
    assert!(log.contains("certificate issued and served"), "{log}");
    drop(proxy);

    // A new edge with an empty cache opens the sealed keys from the database and serves them.
    let fresh = start_proxy(&stack, &pebble, port(), &pebble.dir.path().join("fresh-cache"), &[]);
    let tls = eventually(WAIT, "sealed certificate opened from the database", || handshake_ok(fresh.https, "shop.acme-customer.test", &root)).await;
    assert!(presented(&tls).0.contains("Pebble"));
    drop(fresh);
    // One with another key serves none of them (and says why) rather than anything unchecked.
    let other_key = ("BASECOMMERCE_ACME__KEY_ENCRYPTION_KEY", stack::random_hex(32));
    let wrong = start_proxy(&stack, &pebble, port(), &pebble.dir.path().join("wrong-key-cache"), &[other_key]);
    eventually(WAIT, "sealed keys refused under another key", || async {
        let log = std::fs::read_to_string(&wrong.log).unwrap_or_default();
        (log.contains("stored certificate not used") && log.contains("does not open")).then_some(())
    })
    .await;
    drop(wrong);

    // Restarted while PostgreSQL is unreachable: the cached certificates are still served.
    let dead_db = format!("postgres://nobody@127.0.0.1:{}/none?sslmode=disable", port());
    let offline = start_proxy(&stack, &pebble, port(), &cache, &[("BASECOMMERCE_DATABASE__URL", dead_db)]);
    let tls = eventually(WAIT, "cached certificate served without the database", || handshake_ok(offline.https, "shop.acme-customer.test", &root)).await;
    assert!(presented(&tls).0.contains("Pebble"));
}

/// A local stand-in for the DigitalOcean records API (same paths, JSON and bearer token as
/// the documented API) that forwards each TXT record into the validator's DNS.
struct FakeDigitalOcean {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<String>>>,
}

async fn fake_digitalocean(token: &'static str, dns_management: u16) -> FakeDigitalOcean {
    use http_body_util::{BodyExt, Full};
    use hyper::{body::Bytes, Request, Response};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let records: Arc<Mutex<std::collections::HashMap<u64, String>>> = Arc::default();
    let seen = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (seen, records) = (seen.clone(), records.clone());
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (seen, records) = (seen.clone(), records.clone());
                async move {
                    let reply = |status: u16, body: Value| {
                        let body = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
                        Ok::<_, hyper::Error>(Response::builder().status(status).header("content-type", "application/json").body(Full::new(body)).unwrap())
                    };
                    let authorized = req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {token}"));
                    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
                    seen.lock().unwrap().push(format!("{method} {path} auth={authorized}"));
                    if !authorized {
                        return reply(401, json!({"id": "unauthorized", "message": "Unable to authenticate you."}));
                    }
                    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
                    let dns = reqwest::Client::new();
                    match (method.as_str(), parts.as_slice()) {
                        ("POST", ["v2", "domains", zone, "records"]) => {
                            let body: Value = serde_json::from_slice(&req.into_body().collect().await?.to_bytes()).unwrap_or(Value::Null);
                            if body["type"] != "TXT" || !body["name"].is_string() || !body["data"].is_string() {
                                return reply(422, json!({"id": "unprocessable_entity", "message": "type, name and data are required"}));
                            }
                            let fqdn = format!("{}.{zone}.", body["name"].as_str().unwrap());
                            dns.post(format!("http://127.0.0.1:{dns_management}/set-txt"))
                                .json(&json!({"host": fqdn, "value": body["data"]}))
                                .send()
                                .await
                                .unwrap();
                            let mut records = records.lock().unwrap();
                            let id = records.len() as u64 + 1000;
                            records.insert(id, fqdn);
                            reply(
                                201,
                                json!({"domain_record": {"id": id, "type": "TXT", "name": body["name"], "data": body["data"], "priority": null, "port": null, "ttl": body["ttl"], "weight": null, "flags": null, "tag": null}}),
                            )
                        }
                        ("DELETE", ["v2", "domains", _zone, "records", id]) => {
                            let fqdn = id.parse::<u64>().ok().and_then(|id| records.lock().unwrap().remove(&id));
                            match fqdn {
                                Some(fqdn) => {
                                    dns.post(format!("http://127.0.0.1:{dns_management}/clear-txt")).json(&json!({"host": fqdn})).send().await.unwrap();
                                    reply(204, Value::Null)
                                }
                                None => reply(404, json!({"id": "not_found", "message": "The resource you were accessing could not be found."})),
                            }
                        }
                        _ => reply(404, json!({"id": "not_found", "message": "The resource you were accessing could not be found."})),
                    }
                }
            });
            tokio::spawn(hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        }
    });
    FakeDigitalOcean { addr, calls }
}

#[tokio::test]
async fn dns01_wildcard_through_the_digitalocean_api() {
    const TOKEN: &str = "dop_v1_test_token_that_must_never_be_logged_0123456789";
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let http_port = port();
    let pebble = Pebble::start(http_port).await;
    let api = fake_digitalocean(TOKEN, pebble.dns_management).await;
    let cache = pebble.dir.path().join("acme-cache");
    let proxy = start_proxy(
        &stack,
        &pebble,
        http_port,
        &cache,
        &[
            ("BASECOMMERCE_ACME__DNS_PROVIDER", "digitalocean".into()),
            ("BASECOMMERCE_ACME__DNS_TOKEN", TOKEN.into()),
            ("BASECOMMERCE_ACME__DNS_API_URL", format!("http://{}", api.addr)),
            ("BASECOMMERCE_ACME__DNS_PROPAGATION_SECS", "0".into()),
        ],
    );
    let root = pebble.issuing_root().await;
    let mut tls = eventually(WAIT, "wildcard certificate", || handshake_ok(proxy.https, "acme.example.test", &root)).await;
    let (_, mut names) = presented(&tls);
    names.sort();
    assert_eq!(names, ["*.example.test", "example.test"], "one wildcard + apex certificate for the base domain");
    let (status, body) = request(&mut tls, "acme.example.test", "/tenant.json").await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["slug"].as_str()), (200, Some("acme")));
    let other = handshake_ok(proxy.https, "another-tenant.example.test", &root).await.expect("every tenant host is covered by the wildcard");
    assert!(presented(&other).1.contains(&"*.example.test".to_string()));

    let calls = eventually(WAIT, "TXT records cleaned up", || async {
        let calls = api.calls.lock().unwrap().clone();
        let created = calls.iter().filter(|c| c.starts_with("POST")).count();
        let deleted = calls.iter().filter(|c| c.starts_with("DELETE")).count();
        (created == 2 && deleted == 2).then_some(calls)
    })
    .await;
    assert!(calls.iter().all(|c| c.ends_with("auth=true")), "every call carries the bearer token: {calls:?}");
    assert!(calls.iter().all(|c| c.contains("/v2/domains/example.test/records")), "{calls:?}");
    let stored: Vec<String> = stack.superuser().await.query("SELECT name FROM acme_certificates", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(stored, ["*.example.test"], "no per-tenant HTTP-01 certificates when DNS-01 is available");
    let log = std::fs::read_to_string(&proxy.log).unwrap();
    assert!(log.contains("certificate issued and served"), "{log}");
    assert!(!log.contains(TOKEN), "the DNS token never reaches the logs");
}
