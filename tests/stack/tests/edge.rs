//! The real proxy binary in front of a real vertical (or a recording upstream) on loopback.

use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use stack::{eventually, Stack};

const WAIT: Duration = Duration::from_secs(20);

struct Proxy {
    child: Child,
    http: SocketAddr,
    https: Option<SocketAddr>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Options {
    upstream: Option<SocketAddr>,
    rate: u32,
    cert_dir: Option<PathBuf>,
    upgrade_sock: Option<PathBuf>,
    env: Vec<(&'static str, String)>,
    /// Overrides the database the proxy looks tenants up in.
    database_url: Option<String>,
    /// Upstreams listed before `upstream` (e.g. dead ones).
    before: Vec<SocketAddr>,
    health_check_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { upstream: None, rate: 10_000, cert_dir: None, upgrade_sock: None, env: Vec::new(), database_url: None, before: Vec::new(), health_check_secs: 1 }
    }
}

async fn proxy(stack: &Stack, o: Options) -> Proxy {
    let http: SocketAddr = format!("127.0.0.1:{}", harness::free_port()).parse().unwrap();
    let https: SocketAddr = format!("127.0.0.1:{}", harness::free_port()).parse().unwrap();
    let upstream = o.upstream.unwrap_or(stack.vertical);
    let sock = o.upgrade_sock.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("bc-upgrade-{}.sock", uuid::Uuid::new_v4().simple())));
    let upstreams = o.before.iter().chain([&upstream]).map(|a| a.to_string()).collect::<Vec<_>>().join(",");
    let mut cmd = proxy_command(stack, http, &upstreams, &sock);
    cmd.env("BASECOMMERCE_PROXY__HTTPS_LISTEN", https.to_string())
        .env("BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE", o.rate.to_string())
        .env("BASECOMMERCE_PROXY__LOGIN_RATE_LIMIT_PER_MINUTE", o.rate.to_string())
        .env("BASECOMMERCE_PROXY__HEALTH_CHECK_INTERVAL_SECS", o.health_check_secs.to_string())
        // Long enough that only an invalidation (never an expiry) can explain a quick change.
        .env("BASECOMMERCE_PROXY__TENANT_CACHE_TTL_SECS", "300");
    if let Some(dir) = &o.cert_dir {
        cmd.env("BASECOMMERCE_PROXY__TLS_CERT_DIR", dir);
    }
    cmd.envs(o.env.iter().map(|(k, v)| (*k, v.as_str())));
    if let Some(url) = &o.database_url {
        cmd.env("BASECOMMERCE_DATABASE__URL", url);
    }
    let child = cmd.spawn().unwrap();
    let p = Proxy { child, http, https: o.cert_dir.as_ref().map(|_| https) };
    let client = reqwest::Client::new();
    eventually(WAIT, "proxy up", || async { client.get(format!("http://{http}/health")).send().await.ok().map(|_| ()) }).await;
    p
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn get(p: &Proxy, host: &str, path: &str, headers: &[(&str, &str)]) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut rb = client().get(format!("http://{}{path}", p.http)).header("host", host);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn tenants_by_subdomain_with_spoofing_overwritten_and_pages_for_the_rest() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    stack.tenant("stg").await;
    let p = proxy(&stack, Options::default()).await;

    let (s, h, body) = get(&p, "acme.example.com", "/tenant.json", &[(TENANT_SLUG_HEADER, "stg"), (EDGE_SECRET_HEADER, "forged")]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let t: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(t["slug"], "acme", "the client's X-Tenant-Slug is replaced by the host's tenant");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h.contains_key("x-request-id"));
    assert!(!h.contains_key("strict-transport-security"), "no HSTS over plain HTTP");

    let (_, _, body) = get(&p, "ACME.example.com.:8080", "/tenant.json", &[]).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["slug"], "acme");
    let (s, _, body) = get(&p, "stg.staging.example.com", "/tenant.json", &[]).await;
    assert_eq!((s, serde_json::from_str::<Value>(&body).unwrap()["slug"].as_str()), (StatusCode::OK, Some("stg")), "longest base wins");
    let (s, h, body) = get(&p, "staging.example.com", "/", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html") && body.contains("basecommerce"), "platform landing page");
    let (s, _, _) = get(&p, "www.example.com", "/", &[]).await;
    assert_eq!(s, StatusCode::OK);

    let (s, h, body) = get(&p, "nosuch.example.com", "/tenant.json", &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html") && body.contains("Store not found"));
    let (s, _, body) = get(&p, "nosuch.example.com", "/tenant.json", &[("accept", "application/json")]).await;
    assert_eq!((s, serde_json::from_str::<Value>(&body).unwrap()["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("tenant_not_found")));
    for host in ["a.b.example.com", "Bad_Label.example.com", "api.example.com", "127.0.0.1"] {
        let (s, _, _) = get(&p, host, "/tenant.json", &[]).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{host}");
    }
    let (s, _, body) = get(&p, "anything", "/health", &[]).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, r#"{"status":"ok","edge":true}"#));

    // Login through the proxy, then the API with the token: the whole path works.
    let resp = client()
        .post(format!("http://{}/auth/login", p.http))
        .header("host", "acme.example.com")
        .json(&serde_json::json!({"email": "admin@acme.test", "password": stack::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn suspension_reaches_the_edge_within_a_second_and_custom_domains_route() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let p = proxy(&stack, Options::default()).await;
    let (st, _, _) = get(&p, "acme.example.com", "/tenant.json", &[]).await;
    assert_eq!(st, StatusCode::OK);

    stack.admin().set_status(&"acme".parse().unwrap(), basecommerce_vertical::domain::tenant::TenantStatus::Suspended).await.unwrap();
    // The entry is cached for 300 s; seeing 403 now proves the Redis invalidation dropped it.
    eventually(Duration::from_secs(10), "403 at the edge after the announced suspension", || async {
        let (st, _, _) = get(&p, "acme.example.com", "/tenant.json", &[]).await;
        (st == StatusCode::FORBIDDEN).then_some(())
    })
    .await;
    let (_, _, body) = get(&p, "acme.example.com", "/", &[("accept", "application/json")]).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "tenant_suspended");
    stack.admin().set_status(&"acme".parse().unwrap(), basecommerce_vertical::domain::tenant::TenantStatus::Active).await.unwrap();

    let db = stack.superuser().await;
    db.execute(
        "INSERT INTO tenant_domains (tenant_id, domain, verified) VALUES ($1, 'shop.acme-materiais.com.br', true), ($1, 'unverified.acme.net', false)",
        &[&s.tenant_id],
    )
    .await
    .unwrap();
    let (st, _, body) = get(&p, "shop.acme-materiais.com.br", "/tenant.json", &[]).await;
    assert_eq!((st, serde_json::from_str::<Value>(&body).unwrap()["slug"].as_str()), (StatusCode::OK, Some("acme")), "{body}");
    let (st, _, _) = get(&p, "unverified.acme.net", "/tenant.json", &[]).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "unverified domains are not routed");
}

/// A one-shot HTTP upstream that records request heads.
fn recording_upstream() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end + 4);
                        log.lock().unwrap().push(head);
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Frame-Options: DENY\r\n\r\nok");
                    }
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn headers_are_set_by_the_edge_and_refusals_never_reach_the_upstream() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let (upstream, seen) = recording_upstream();
    let p = proxy(&stack, Options { upstream: Some(upstream), rate: 5, ..Default::default() }).await;
    let (s, h, _) = get(
        &p,
        "acme.example.com",
        "/api/v1/x?q=1",
        &[
            (TENANT_SLUG_HEADER, "evil"),
            ("x-forwarded-for", "6.6.6.6"),
            (EDGE_SECRET_HEADER, "forged"),
            ("x-request-id", "req-42"),
            ("forwarded", "for=6.6.6.6"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["x-frame-options"], "DENY", "the vertical's own header is kept");
    assert_eq!(h["x-request-id"], "req-42");
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    let head = heads[0].to_ascii_lowercase();
    let secret = stack.settings.edge.secret.as_ref().unwrap().expose();
    assert!(head.contains("x-tenant-slug: acme") && !head.contains("evil"), "{head}");
    assert!(head.contains(&format!("x-basecommerce-edge: {secret}")) && !head.contains("forged"), "{head}");
    assert!(head.contains("x-forwarded-for: 127.0.0.1") && !head.contains("6.6.6.6"), "{head}");
    assert!(head.contains("x-forwarded-proto: http") && head.contains("x-forwarded-host: acme.example.com"), "{head}");
    assert!(head.contains("x-request-id: req-42"), "{head}");

    let (s, _, _) = get(&p, "ghost.example.com", "/", &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(seen.lock().unwrap().len(), 1, "unknown tenants are answered by the edge");

    // 5 per minute: 1 used above, 1 on the unknown tenant; the 6th request is refused.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(&p, "acme.example.com", "/", &[]).await);
    }
    let last = statuses.last().unwrap();
    assert_eq!(last.0, StatusCode::TOO_MANY_REQUESTS, "{:?}", statuses.iter().map(|s| s.0).collect::<Vec<_>>());
    assert!(last.1["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(seen.lock().unwrap().len(), 4, "the refused request never reached the upstream");
}

/// A request whose target pingora keeps verbatim (absolute form) takes the in-place header
/// path instead of the parts round trip: it must be rewritten just the same. A target that is
/// not UTF-8 is refused at the edge.
#[tokio::test]
async fn verbatim_targets_get_the_same_header_rewrite() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let (upstream, seen) = recording_upstream();
    let p = proxy(&stack, Options { upstream: Some(upstream), ..Default::default() }).await;
    let targets: [(&[u8], &[u8]); 2] = [(b"http://acme.example.com/abs?x=1", b"HTTP/1.1 200"), (b"/caf\xe9", b"HTTP/1.1 400")];
    for (target, expected) in targets {
        let mut conn = tokio::net::TcpStream::connect(p.http).await.unwrap();
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(target);
        req.extend_from_slice(b" HTTP/1.1\r\nHost: acme.example.com\r\nX-Tenant-Slug: evil\r\nX-Forwarded-For: 6.6.6.6\r\nX-Basecommerce-Edge: forged\r\nConnection: close\r\n\r\n");
        conn.write_all(&req).await.unwrap();
        let mut resp = Vec::new();
        conn.read_to_end(&mut resp).await.unwrap();
        assert!(resp.starts_with(expected), "{}: {}", String::from_utf8_lossy(target), String::from_utf8_lossy(&resp));
    }
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "the refused target never reached the upstream");
    let secret = stack.settings.edge.secret.as_ref().unwrap().expose();
    for head in heads.iter().map(|h| h.to_ascii_lowercase()) {
        assert!(head.contains("x-tenant-slug: acme") && !head.contains("evil"), "{head}");
        assert!(head.contains(&format!("x-basecommerce-edge: {secret}")) && !head.contains("forged"), "{head}");
        assert!(head.contains("x-forwarded-for: 127.0.0.1") && !head.contains("6.6.6.6"), "{head}");
    }
    assert!(heads[0].starts_with("GET /abs?x=1 ") || heads[0].starts_with("GET http://acme.example.com/abs?x=1 "), "{}", heads[0]);
}

/// One HTTP/1.1 request on an open connection; returns the response head and body (the body
/// read by Content-Length).
async fn exchange(conn: &mut tokio::net::TcpStream, host: &str, path: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n").as_bytes()).await.unwrap();
    let (head, mut body) = read_head(conn).await.expect("connection closed before a response");
    let len: usize = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())).unwrap_or(0);
    let mut chunk = [0u8; 4096];
    while body.len() < len {
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-body");
        body.extend_from_slice(&chunk[..n]);
    }
    (head, String::from_utf8_lossy(&body[..len]).to_string())
}

/// Reads up to the end of an HTTP head: the head, and the bytes that came after it. `None`
/// when the peer closes first.
async fn read_head(conn: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some((String::from_utf8_lossy(&buf[..end]).to_string(), buf[end + 4..].to_vec()));
        }
        let n = conn.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A connection from a chosen loopback address (Linux routes all of 127/8 to lo).
async fn connect_from(src: &str, to: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{src}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

#[tokio::test]
async fn connections_per_ip_are_capped_and_idle_ones_closed() {
    use tokio::io::AsyncReadExt;
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let env = vec![("BASECOMMERCE_PROXY__MAX_CONNECTIONS_PER_IP", "3".to_string()), ("BASECOMMERCE_PROXY__KEEPALIVE_TIMEOUT_SECS", "2".to_string())];
    let p = proxy(&stack, Options { env, ..Default::default() }).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = connect_from("127.0.0.1", p.http).await;
        let (head, _) = exchange(&mut conn, "acme.example.com", "/tenant.json").await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(conn);
    }
    // A fourth open connection from the same address is refused, and closed by the edge.
    let mut extra = connect_from("127.0.0.1", p.http).await;
    let (head, body) = exchange(&mut extra, "acme.example.com", "/tenant.json").await;
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after: 1"), "{head}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "too_many_connections");
    assert_eq!(extra.read(&mut [0u8; 16]).await.unwrap(), 0, "the refused connection is closed");
    // Requests on the held connections go on; another address is not affected.
    let (head, _) = exchange(&mut held[0], "acme.example.com", "/tenant.json").await;
    assert!(head.starts_with("HTTP/1.1 200"), "kept-alive connections keep working: {head}");
    let mut other = connect_from("127.0.0.2", p.http).await;
    let (head, _) = exchange(&mut other, "acme.example.com", "/tenant.json").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Closing one frees its place.
    drop(held.pop());
    eventually(WAIT, "a place freed by a closed connection", || async {
        let mut conn = connect_from("127.0.0.1", p.http).await;
        let (head, _) = exchange(&mut conn, "acme.example.com", "/tenant.json").await;
        head.starts_with("HTTP/1.1 200").then_some(())
    })
    .await;
    // Idle keep-alive connections are closed by the edge (Pingora alone would keep them).
    for conn in &mut held {
        let n = tokio::time::timeout(WAIT, conn.read(&mut [0u8; 16])).await.expect("idle connection closed by the edge").unwrap_or(0);
        assert_eq!(n, 0);
    }
}

/// Pingora caps request headers (the README says so): a request with more than 256 of them is
/// refused at the edge and never reaches the vertical.
#[tokio::test]
async fn too_many_request_headers_are_refused_at_the_edge() {
    use tokio::io::AsyncWriteExt;
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let (upstream, seen) = recording_upstream();
    let p = proxy(&stack, Options { upstream: Some(upstream), ..Default::default() }).await;
    let mut conn = tokio::net::TcpStream::connect(p.http).await.unwrap();
    let mut req = String::from("GET / HTTP/1.1\r\nHost: acme.example.com\r\n");
    for i in 0..300 {
        req.push_str(&format!("X-Filler-{i}: x\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let answer = read_head(&mut conn).await.map(|(head, _)| head).unwrap_or_default();
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(seen.lock().unwrap().iter().all(|h| !h.to_ascii_lowercase().contains("x-filler")), "the oversized request reached the upstream");
}

/// A client that stops sending in the middle of its request body is cut off after
/// `proxy.client_read_timeout_secs` instead of holding the connection (and an upstream) open.
#[tokio::test]
async fn a_client_stalling_mid_body_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let env = vec![("BASECOMMERCE_PROXY__CLIENT_READ_TIMEOUT_SECS", "1".to_string())];
    let p = proxy(&stack, Options { env, ..Default::default() }).await;
    let mut conn = tokio::net::TcpStream::connect(p.http).await.unwrap();
    conn.write_all(b"POST /api/v1/clients HTTP/1.1\r\nHost: acme.example.com\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\":")
        .await
        .unwrap();
    // The edge gives up on the body and closes; without the timeout it would wait a minute.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(WAIT, conn.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the stalled connection was still open after {WAIT:?}");
}

/// A WebSocket upgrade goes through with the tenant headers set, and after the 101 the edge
/// relays bytes both ways untouched.
#[tokio::test]
async fn websocket_upgrades_pass_through() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let log = heads.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let Some((head, mut rest)) = read_head(&mut s).await else { return };
                let head = head.to_ascii_lowercase();
                log.lock().unwrap().push(head.clone());
                if !head.contains("upgrade: websocket") {
                    // The edge's TCP health check, or a plain request.
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
                    return;
                }
                s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n").await.unwrap();
                let mut chunk = [0u8; 4096];
                loop {
                    if !rest.is_empty() {
                        s.write_all(&rest).await.unwrap();
                        rest.clear();
                    }
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    rest.extend_from_slice(&chunk[..n]);
                }
            });
        }
    });
    let p = proxy(&stack, Options { upstream: Some(upstream), ..Default::default() }).await;
    let mut conn = tokio::net::TcpStream::connect(p.http).await.unwrap();
    conn.write_all(b"GET /ws HTTP/1.1\r\nHost: acme.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Tenant-Slug: evil\r\n\r\n").await.unwrap();
    let (head, _) = read_head(&mut conn).await.expect("closed before the 101");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for message in [&b"\x81\x05hello"[..], &b"\x82\x03\x00\xff\x10"[..]] {
        conn.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        conn.read_exact(&mut echoed).await.unwrap();
        assert_eq!(echoed, message, "bytes after the upgrade are relayed untouched");
    }
    let upgrade = heads.lock().unwrap().iter().find(|h| h.contains("upgrade: websocket")).cloned().expect("the upgrade reached the upstream");
    assert!(upgrade.contains("x-tenant-slug: acme") && !upgrade.contains("evil"), "{upgrade}");
    assert!(upgrade.contains("connection: upgrade"), "{upgrade}");
}

#[tokio::test]
async fn no_healthy_upstream_is_a_503_page() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let dead: SocketAddr = format!("127.0.0.1:{}", harness::free_port()).parse().unwrap();
    let p = proxy(&stack, Options { upstream: Some(dead), ..Default::default() }).await;
    let (s, h, body) = eventually(WAIT, "503 once the health check marks the upstream down", || async {
        let r = get(&p, "acme.example.com", "/tenant.json", &[("accept", "application/json")]).await;
        (r.0 == StatusCode::SERVICE_UNAVAILABLE).then_some(r)
    })
    .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // The edge closes the connection after a failed proxying: it must say so, or a keep-alive
    // client's next request dies in the closing connection.
    assert_eq!(h["connection"], "close");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "upstream_unavailable");
}

#[tokio::test]
async fn a_failed_tenant_lookup_is_a_503_to_retry_not_a_missing_store() {
    // Regression: with PostgreSQL away (a restart), hosts not in the cache were answered
    // 404 "Store not found", as if the store did not exist.
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let nowhere = format!("postgres://bc_app@127.0.0.1:{}/none?sslmode=disable", harness::free_port());
    let p = proxy(&stack, Options { database_url: Some(nowhere), ..Default::default() }).await;
    for host in ["acme.example.com", "nosuch.example.com"] {
        let (s, h, body) = get(&p, host, "/tenant.json", &[("accept", "application/json")]).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{host}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "upstream_unavailable");
        assert!(h["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    }
}

#[tokio::test]
async fn a_refused_connection_is_retried_on_another_upstream_for_every_method() {
    // Regression: retries were left to round robin, which under concurrent requests could pick
    // the dead upstream again on every try (502), and writes were never retried although a
    // refused connection carried nothing. The dead upstream stays "healthy" here (one check an
    // hour), so every request that picks it first must be retried on the live one.
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let dead: SocketAddr = format!("127.0.0.1:{}", harness::free_port()).parse().unwrap();
    let p = proxy(&stack, Options { before: vec![dead], health_check_secs: 3600, ..Default::default() }).await;
    let http = client();
    for round in 0..4 {
        let requests: Vec<_> = (0..25)
            .map(|i| {
                let (http, token, at) = (http.clone(), s.token.clone(), p.http);
                tokio::spawn(async move {
                    let rb = if i % 2 == 0 {
                        http.get(format!("http://{at}/api/v1/products"))
                    } else {
                        http.post(format!("http://{at}/api/v1/products"))
                            .json(&serde_json::json!({"code": format!("R{round}-{i}"), "name": "Retried", "unit": "UN", "base_price": "1.00"}))
                    };
                    rb.header("host", "acme.example.com").bearer_auth(token).send().await.unwrap().status()
                })
            })
            .collect();
        for r in requests {
            let status = r.await.unwrap();
            assert!(status.is_success(), "round {round}: {status}");
        }
    }
}

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn ca() -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "basecommerce test CA");
    let key = rcgen::KeyPair::generate().unwrap();
    Ca { cert: params.self_signed(&key).unwrap(), key }
}

fn issue(ca: &Ca, dir: &Path, file: &str, names: &[&str]) {
    issue_valid_until(ca, dir, file, names, None);
}

/// [`issue`], valid until `not_after` when given (rcgen's default otherwise).
fn issue_valid_until(ca: &Ca, dir: &Path, file: &str, names: &[&str], not_after: Option<time::OffsetDateTime>) {
    let mut params = rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    if let Some(t) = not_after {
        params.not_after = t;
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    // Key first, then the certificate: the watcher reloads when the pair is complete.
    std::fs::write(dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
    std::fs::write(dir.join(format!("{file}.pem")), cert.pem()).unwrap();
}

fn tls_client(ca: &Ca, p: &Proxy, names: &[&str]) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert.pem().as_bytes()).unwrap());
    for n in names {
        b = b.resolve(n, p.https.unwrap());
    }
    b.build().unwrap()
}

#[tokio::test]
async fn tls_by_sni_with_live_certificate_swap_redirects_and_http2() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    stack.tenant("beta").await;
    stack.tenant("gamma").await;
    let dir = tempfile_dir();
    let ca = ca();
    issue(&ca, &dir, "acme.example.com", &["acme.example.com"]);
    issue(&ca, &dir, "_wildcard.staging.example.com", &["*.staging.example.com"]);
    issue(&ca, &dir, "beta.example.com", &["beta.example.com"]);
    let p = proxy(&stack, Options { cert_dir: Some(dir.clone()), ..Default::default() }).await;
    let port = p.https.unwrap().port();
    let names = ["acme.example.com", "beta.example.com", "gamma.example.com", "beta.staging.example.com"];
    let c = tls_client(&ca, &p, &names);

    for (host, slug) in [("acme.example.com", "acme"), ("beta.example.com", "beta"), ("beta.staging.example.com", "beta")] {
        let resp = c.get(format!("https://{host}:{port}/tenant.json")).send().await.unwrap_or_else(|e| panic!("{host}: {e:?}"));
        assert_eq!(resp.version(), reqwest::Version::HTTP_2, "HTTP/2 over TLS (ALPN)");
        assert!(resp.headers()["strict-transport-security"].to_str().unwrap().contains("max-age"));
        let t: Value = resp.json().await.unwrap();
        assert_eq!(t["slug"], slug, "{host}");
    }
    assert!(c.get(format!("https://gamma.example.com:{port}/tenant.json")).send().await.is_err(), "no certificate for gamma yet");

    // A certificate dropped into the directory is served without a restart; the open
    // connection of acme keeps working meanwhile.
    issue(&ca, &dir, "gamma.example.com", &["gamma.example.com"]);
    let resp =
        eventually(WAIT, "gamma's certificate served", || async { c.get(format!("https://gamma.example.com:{port}/tenant.json")).send().await.ok() }).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["slug"], "gamma");
    let resp = c.get(format!("https://acme.example.com:{port}/tenant.json")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let (s, h, _) = get(&p, "acme.example.com", "/quotes?page=2", &[]).await;
    assert_eq!(s, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(h["location"], "https://acme.example.com/quotes?page=2");
    let (s, _, _) = get(&p, "acme.example.com", "/health", &[]).await;
    assert_eq!(s, StatusCode::OK, "health stays on plain HTTP");
}

/// Issue 20: certificates an operator drops into `proxy.tls_cert_dir` export their expiry like
/// ACME's, so the shipped "certificate expiring" alert covers them; a removed one stops.
#[tokio::test]
async fn operator_certificates_export_their_expiry() {
    let stack = Stack::start().await;
    let dir = tempfile_dir();
    let ca = ca();
    let days = |n: i64| time::OffsetDateTime::now_utc() + time::Duration::days(n);
    issue_valid_until(&ca, &dir, "acme.example.com", &["acme.example.com"], Some(days(10)));
    let metrics: SocketAddr = format!("127.0.0.1:{}", harness::free_port()).parse().unwrap();
    let env = vec![("BASECOMMERCE_PROXY__METRICS_LISTEN", metrics.to_string())];
    let _p = proxy(&stack, Options { cert_dir: Some(dir.clone()), env, ..Default::default() }).await;
    let expiry = |name: &'static str| async move {
        let text = reqwest::get(format!("http://{metrics}/metrics")).await.ok()?.text().await.ok()?;
        let line = format!("basecommerce_proxy_certificate_expiry_seconds{{name=\"{name}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(line.as_str())).map(|v| v.trim().parse::<i64>().unwrap())
    };
    let left = eventually(WAIT, "acme's expiry exported", || expiry("acme.example.com")).await;
    assert!((9 * 86_400..=10 * 86_400).contains(&left), "10 days left, exported {left} s");

    issue_valid_until(&ca, &dir, "beta.example.com", &["beta.example.com"], Some(days(3)));
    let left = eventually(WAIT, "beta's expiry exported", || expiry("beta.example.com")).await;
    assert!((2 * 86_400..=3 * 86_400).contains(&left), "3 days left, exported {left} s");

    std::fs::remove_file(dir.join("acme.example.com.pem")).unwrap();
    std::fs::remove_file(dir.join("acme.example.com.key")).unwrap();
    eventually(WAIT, "the removed certificate's gauge dropped", || async { expiry("acme.example.com").await.is_none().then_some(()) }).await;
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("bc-certs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn clear_start_up_errors() {
    let stack = Stack::start().await;
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = Command::new(stack::workspace_binary("basecommerce-proxy"))
        .envs(stack.edge_env())
        .env("BASECOMMERCE_EDGE__SECRET", stack.settings.edge.secret.as_ref().unwrap().expose())
        .env("BASECOMMERCE_PROXY__HTTP_LISTEN", busy.local_addr().unwrap().to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"), "{}", String::from_utf8_lossy(&out.stderr));

    let empty = tempfile_dir();
    let out = Command::new(stack::workspace_binary("basecommerce-proxy"))
        .envs(stack.edge_env())
        .env("BASECOMMERCE_EDGE__SECRET", stack.settings.edge.secret.as_ref().unwrap().expose())
        .env("BASECOMMERCE_PROXY__HTTP_LISTEN", format!("127.0.0.1:{}", harness::free_port()))
        .env("BASECOMMERCE_PROXY__TLS_CERT_DIR", &empty)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no usable certificate"));

    let out = Command::new(stack::workspace_binary("basecommerce-proxy")).env("BASECOMMERCE_PROXY__UPSTREAMS", "[not-an-address]").output().unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("proxy.upstreams"));
}

/// `basecommerce-proxy -u` then SIGQUIT to the old process hands the listening socket over
/// (what `systemctl reload` does): a request loop on fresh connections running across the reload
/// sees no failure.
#[tokio::test]
async fn graceful_reload_loses_no_request() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let sock = std::env::temp_dir().join(format!("bc-reload-{}.sock", uuid::Uuid::new_v4().simple()));
    let old = proxy(&stack, Options { upgrade_sock: Some(sock.clone()), ..Default::default() }).await;
    let addr = old.http;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop2, host) = (stop.clone(), "acme.example.com");
    let looper = tokio::spawn(async move {
        // No connection reuse: every request is a new accept on the handed-over socket.
        let c = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(5)).build().unwrap();
        let (mut ok, mut failed) = (0u32, Vec::new());
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            match c.get(format!("http://{addr}/tenant.json")).header("host", host).send().await {
                Ok(r) if r.status() == StatusCode::OK => ok += 1,
                Ok(r) => failed.push(r.status().to_string()),
                Err(e) => failed.push(e.to_string()),
            }
        }
        (ok, failed)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The new process waits on the upgrade socket for the listeners; the old one sends them on SIGQUIT.
    let replacement = Proxy { child: proxy_in_background(&stack, addr, &sock), http: addr, https: None };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let _ = Command::new("kill").args(["-QUIT", &old.child.id().to_string()]).status();
    let old_exit = tokio::task::spawn_blocking(move || {
        let mut old = old;
        let status = old.child.wait();
        (status, old)
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed) = looper.await.unwrap();
    assert!(failed.is_empty(), "{} failed of {}: {:?}", failed.len(), ok as usize + failed.len(), &failed[..failed.len().min(5)]);
    assert!(ok > 20, "the loop kept running ({ok} requests)");
    let (status, _old) = tokio::time::timeout(Duration::from_secs(20), old_exit).await.expect("old proxy exits").unwrap();
    assert!(status.is_ok());
    let r = reqwest::Client::new().get(format!("http://{addr}/tenant.json")).header("host", host).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the new process serves");
    drop(replacement);
}

/// Starts `basecommerce-proxy -u` on `addr` with `sock` without waiting (it blocks until the
/// old process hands over its sockets).
fn proxy_in_background(stack: &Stack, addr: SocketAddr, sock: &Path) -> Child {
    proxy_command(stack, addr, &stack.vertical.to_string(), sock).arg("-u").env("BASECOMMERCE_PROXY__RATE_LIMIT_PER_MINUTE", "1000000").spawn().unwrap()
}

/// The proxy binary configured like the stack, listening on `http`, in front of `upstreams`
/// (comma-separated), with the base domains every test here uses.
fn proxy_command(stack: &Stack, http: SocketAddr, upstreams: &str, sock: &Path) -> Command {
    let mut cmd = Command::new(stack::workspace_binary("basecommerce-proxy"));
    cmd.envs(stack.edge_env())
        .env("BASECOMMERCE_EDGE__SECRET", stack.settings.edge.secret.as_ref().unwrap().expose())
        .env("BASECOMMERCE_PROXY__HTTP_LISTEN", http.to_string())
        .env("BASECOMMERCE_PROXY__BASE_DOMAINS", "[example.com,staging.example.com,localhost]")
        .env("BASECOMMERCE_PROXY__UPSTREAMS", format!("[{upstreams}]"))
        .env("BASECOMMERCE_PROXY__METRICS_LISTEN", format!("127.0.0.1:{}", harness::free_port()))
        .env("BASECOMMERCE_PROXY__UPGRADE_SOCK", sock)
        .env("BASECOMMERCE_PROXY__GRACE_PERIOD_SECS", "1")
        .env("BASECOMMERCE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd
}

/// Issue 15, finding 1: the login budget keyed on the exact path `/auth/login`, so
/// `/auth/login/` and `//auth/login` got the general budget. Every spelling spends it now.
#[tokio::test]
async fn every_spelling_of_the_login_path_spends_the_login_budget() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let env = vec![("BASECOMMERCE_PROXY__LOGIN_RATE_LIMIT_PER_MINUTE", "3".to_string())];
    let p = proxy(&stack, Options { env, ..Default::default() }).await;
    let mut statuses = Vec::new();
    for path in ["/auth/login/", "//auth/login", "/auth//login/", "/auth/login/", "/auth/login"] {
        let resp = client()
            .post(format!("http://{}{path}", p.http))
            .header("host", "acme.example.com")
            .json(&serde_json::json!({"email": "admin@acme.test", "password": "wrong password!"}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(&statuses[3..], &[429, 429], "attempts past the budget of 3, however spelt: {statuses:?}");
    assert!(statuses[..3].iter().all(|s| *s != 429), "{statuses:?}");
    // Other requests from the address still have their (general) budget.
    let (s, _, _) = get(&p, "acme.example.com", "/tenant.json", &[]).await;
    assert_eq!(s, StatusCode::OK);
}

/// Issue 15, finding 6: ACME challenge requests skipped the connection and rate limits (and
/// cost a database query each). They spend the budget like any request now.
#[tokio::test]
async fn challenge_requests_are_rate_limited() {
    let stack = Stack::start().await;
    let p = proxy(&stack, Options { rate: 5, ..Default::default() }).await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        let (s, _, _) = get(&p, "acme.example.com", &format!("/.well-known/acme-challenge/flood{n}"), &[]).await;
        statuses.push(s.as_u16());
    }
    assert_eq!(&statuses[..5], &[404; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "a flood of challenge requests is limited: {statuses:?}");
}

/// Issue 15, finding 3: the edge had only a per-read timeout, so a body trickled a byte just
/// inside it held a connection (and an upstream) for as long as the client liked. The request
/// deadline cuts it off.
#[tokio::test]
async fn a_body_trickled_past_the_request_deadline_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let env = vec![("BASECOMMERCE_PROXY__CLIENT_READ_TIMEOUT_SECS", "2".to_string()), ("BASECOMMERCE_PROXY__REQUEST_DEADLINE_SECS", "3".to_string())];
    let p = proxy(&stack, Options { env, ..Default::default() }).await;
    let mut conn = tokio::net::TcpStream::connect(p.http).await.unwrap();
    conn.write_all(b"POST /api/v1/clients HTTP/1.1\r\nHost: acme.example.com\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n").await.unwrap();
    let started = std::time::Instant::now();
    // One byte every 0.5 s: never idle for the read timeout, 50 s for the whole body.
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(15) {
        if conn.write_all(b" ").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(500), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
    }
    assert!(closed, "the trickling client was still connected after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(8), "cut off at the deadline, not later: {:?}", started.elapsed());
}
