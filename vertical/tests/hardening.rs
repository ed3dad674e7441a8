//! Issue 15: attacks that used to work against the vertical, each sent for real.

use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};
use std::time::Duration;

use basecommerce_vertical::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::json;
use stack::{TestApp, PASSWORD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Finding 1: the edge's login budget keyed on the exact path while routing trimmed slashes,
/// so `/auth/login/` logged in under the general budget. Only the canonical path routes now.
#[tokio::test]
async fn login_answers_only_on_its_canonical_path() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    // (Dot segments are resolved by the client library itself; `infra::paths` tests them.)
    for path in ["/auth/login/", "//auth/login", "/auth//login", "/auth/login//"] {
        let resp = app.req(Method::POST, "acme", path).json(&json!({"email": t.admin_email, "password": PASSWORD})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path} must not log in");
    }
    let resp = app.req(Method::GET, "acme", "/health/").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    app.login("acme", &t.admin_email).await;
}

/// Finding 2: a deactivated or demoted admin's access token kept working for its 15 minutes.
/// Now it is refused on the next request, on every vertical: the second vertical here has
/// cached the user's standing (a minute's TTL), and only the Redis announcement can drop it.
#[tokio::test]
async fn deactivation_and_demotion_take_effect_on_the_next_request_on_every_vertical() {
    let app = TestApp::spawn_with(true, |s| s.vertical.tenant_cache_ttl_ms = 60_000).await;
    app.tenant("acme").await;
    let other = Application::build(app.settings.clone()).await.unwrap();
    let other_addr = other.local_addr();
    tokio::spawn(other.run_until(std::future::pending()));
    let on_other = |path: &str, token: &str| {
        app.http
            .get(format!("http://{other_addr}{path}"))
            .header(EDGE_SECRET_HEADER, &app.edge_secret)
            .header(TENANT_SLUG_HEADER, "acme")
            .bearer_auth(token)
            .send()
    };

    let boss = app.token("acme", "admin@acme.test").await;
    let mut ids = Vec::new();
    for who in ["rogue", "demoted"] {
        let body = json!({"email": format!("{who}@acme.test"), "name": who, "password": PASSWORD, "role": "admin"});
        let (s, user) = app.call(Method::POST, "acme", &boss, "/api/v1/users", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{user}");
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    let rogue = app.token("acme", "rogue@acme.test").await;
    let demoted = app.token("acme", "demoted@acme.test").await;
    for token in [&rogue, &demoted] {
        assert_eq!(on_other("/api/v1/users", token).await.unwrap().status(), StatusCode::OK, "cached as valid on the other vertical");
    }

    let (s, _) = app.call(Method::PATCH, "acme", &boss, &format!("/api/v1/users/{}", ids[0]), Some(json!({"active": false}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.call(Method::PATCH, "acme", &boss, &format!("/api/v1/users/{}", ids[1]), Some(json!({"role": "seller"}))).await;
    assert_eq!(s, StatusCode::OK);

    // The attack: create a new admin with the old token, here and on the other vertical.
    for (token, name) in [(&rogue, "deactivated"), (&demoted, "demoted")] {
        let body = json!({"email": format!("backdoor-{name}@acme.test"), "password": PASSWORD, "role": "admin"});
        let (s, answer) = app.call(Method::POST, "acme", token, "/api/v1/users", Some(body)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name} admin's old token: {answer}");
        let mut refused = false;
        for _ in 0..20 {
            if on_other("/api/v1/users", token).await.unwrap().status() == StatusCode::UNAUTHORIZED {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(refused, "the other vertical still honours the {name} admin's token after 0.5 s");
    }
    let (s, _) = app.call(Method::GET, "acme", &rogue, "/auth/me", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Signing in again gives the demoted user a token of their new role, which works.
    let fresh = app.login("acme", "demoted@acme.test").await;
    let (s, me) = app.call(Method::GET, "acme", fresh["access_token"].as_str().unwrap(), "/auth/me", None).await;
    assert_eq!((s, me["role"].as_str()), (StatusCode::OK, Some("seller")));
    let (s, _) = app.login_raw("acme", "rogue@acme.test", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A revoked cookie session is a signed-out visitor in the UI.
    let resp = app.req(Method::GET, "acme", "/").header("cookie", format!("__Host-bc_access={rogue}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let superuser = app.superuser().await;
    let backdoors: i64 = superuser.query_one("SELECT count(*) FROM users WHERE email LIKE 'backdoor%'", &[]).await.unwrap().get(0);
    assert_eq!(backdoors, 0);
}

/// Sends a request head (no body) and returns the status line's code, or `None` when nothing
/// is answered within `wait` (the server is waiting for the body).
async fn answer_to_head(app: &TestApp, head: &str, wait: Duration) -> Option<u16> {
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 12];
    match tokio::time::timeout(wait, conn.read_exact(&mut buf)).await {
        Ok(Ok(_)) => String::from_utf8_lossy(&buf[9..12]).parse().ok(),
        _ => None,
    }
}

fn upload_head(app: &TestApp, path: &str, method: &str, extra: &str, edge: bool) -> String {
    let edge = if edge { format!("x-basecommerce-edge: {}\r\n", app.edge_secret) } else { String::new() };
    format!("{method} {path} HTTP/1.1\r\nHost: acme\r\n{edge}x-tenant-slug: acme\r\nContent-Type: image/png\r\n{extra}Content-Length: 10000000\r\n\r\n")
}

/// Finding 3: every body was read (up to 10 MiB for uploads) before anyone was checked, so
/// anonymous clients could make the vertical hold 10 MiB each. Now the head decides first.
#[tokio::test]
async fn uploads_are_refused_from_their_head_before_any_body_is_read() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.user("acme", "seller@acme.test", basecommerce_vertical::domain::user::Role::Seller).await;
    let seller = app.token("acme", "seller@acme.test").await;
    let admin = app.token("acme", "admin@acme.test").await;
    let wait = Duration::from_secs(3);
    let logo = "/api/v1/branding/logo";
    let cases = [
        ("no edge secret", upload_head(&app, logo, "PUT", "", false), 403),
        ("no token", upload_head(&app, logo, "PUT", "", true), 401),
        ("a seller", upload_head(&app, logo, "PUT", &format!("Authorization: Bearer {seller}\r\n"), true), 403),
        ("a browser without a session", upload_head(&app, "/branding", "POST", "", true), 303),
        ("a bad tenant", upload_head(&app, logo, "PUT", "", true).replace("x-tenant-slug: acme", "x-tenant-slug: nosuch"), 404),
    ];
    for (who, head, expected) in cases {
        assert_eq!(answer_to_head(&app, &head, wait).await, Some(expected), "{who}: answered without the body");
    }
    // An admin's upload is read (the server waits for the body it was promised).
    let head = upload_head(&app, logo, "PUT", &format!("Authorization: Bearer {admin}\r\n"), true);
    assert_eq!(answer_to_head(&app, &head, Duration::from_millis(500)).await, None, "an admin's body is awaited");
}

/// Finding 3: the bytes of request bodies held at once are capped (four uploads at their
/// limit): one more body gets a 503 to retry instead of the memory.
#[tokio::test]
async fn bodies_in_flight_are_capped() {
    let app = TestApp::spawn_with(true, |s| s.files.max_upload_bytes = 8 * 1024 * 1024).await;
    app.tenant("acme").await;
    let admin = app.token("acme", "admin@acme.test").await;
    let auth = format!("Authorization: Bearer {admin}\r\n");
    // 32 MiB in flight: four 8 MiB uploads that send a little and then stall.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = upload_head(&app, "/api/v1/branding/logo", "PUT", &auth, true).replace("Content-Length: 10000000", "Content-Length: 8000000");
        conn.write_all(head.as_bytes()).await.unwrap();
        conn.write_all(&[0u8; 1024]).await.unwrap();
        held.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let head = upload_head(&app, "/api/v1/branding/logo", "PUT", &auth, true).replace("Content-Length: 10000000", "Content-Length: 8000000");
    assert_eq!(answer_to_head(&app, &head, Duration::from_secs(5)).await, Some(503), "a fifth large body waits for room, then is refused");
    // Small requests still go through.
    let (s, _) = app.call(Method::GET, "acme", &admin, "/auth/me", None).await;
    assert_eq!(s, StatusCode::OK);
    drop(held);
}

/// A TCP relay in front of PostgreSQL that counts the bytes the vertical sends it.
async fn counting_relay(target: std::net::SocketAddr) -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = std::sync::Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let server = tokio::net::TcpStream::connect(target).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n) = cr.read(&mut buf).await {
                        if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        counter.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    let _ = sw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, sent)
}

/// Finding 8: a known e-mail did a second transaction after argon2, so the time of a failed
/// login told which e-mails exist. Every failure now sends the database the same statements:
/// the bytes the vertical sends PostgreSQL for a wrong password and for an unknown e-mail (of
/// the same length) are equal.
#[tokio::test]
async fn failed_logins_cost_the_database_the_same_for_known_and_unknown_emails() {
    let db_port = harness::services().pg_port;
    let (relay, sent) = counting_relay(format!("127.0.0.1:{db_port}").parse().unwrap()).await;
    let app = TestApp::spawn_with(true, |s| {
        let url = s.database.url.as_ref().unwrap().expose().replace(&format!(":{db_port}/"), &format!(":{}/", relay.port()));
        s.database.url = Some(infra::Secret::new(url));
        // One connection: statements are prepared once, then every login reuses them.
        s.database.pool_size = 1;
        s.auth.lockout_threshold = 1000;
        s.vertical.tenant_cache_ttl_ms = 600_000;
    })
    .await;
    app.tenant("acme").await;
    let known = "admin@acme.test";
    let unknown = "nadie@acme.test";
    assert_eq!(known.len(), unknown.len());
    let cost = |email: &'static str| {
        let sent = sent.clone();
        let app = &app;
        async move {
            let before = sent.load(std::sync::atomic::Ordering::SeqCst);
            let (s, _) = app.login_raw("acme", email, "wrong password!").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            sent.load(std::sync::atomic::Ordering::SeqCst) - before
        }
    };
    // Warm up: prepared statements, the tenant cache.
    for _ in 0..2 {
        cost(known).await;
        cost(unknown).await;
    }
    let (k, u) = (cost(known).await, cost(unknown).await);
    assert!(k > 0);
    assert_eq!(k, u, "bytes sent to PostgreSQL: {k} for a known e-mail, {u} for an unknown one");
}

/// Finding 4: one tenant could fill the disk every tenant shares with uploads. Each tenant is
/// held to `files.tenant_quota_bytes` of originals: a replaced image counts once, concurrent
/// uploads cannot squeeze past it together, and another tenant is not affected.
#[tokio::test]
async fn a_tenant_is_held_to_its_upload_quota() {
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
        .unwrap();
    let quota = png.len() as u64 * 3;
    let app = TestApp::spawn_with(true, |s| {
        s.files.tenant_quota_bytes = quota;
        s.files.uploads_per_minute = 100;
    })
    .await;
    let upload = |slug: &'static str, token: String, path: String| {
        let (app, png) = (&app, png.clone());
        async move {
            let resp = app.req(Method::POST, slug, &path).bearer_auth(token).header("content-type", "image/png").body(png).send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    let mut products = std::collections::HashMap::new();
    for slug in ["acme", "bravo"] {
        app.tenant(slug).await;
        let token = app.token(slug, &format!("admin@{slug}.test")).await;
        let mut ids = Vec::new();
        for code in ["CIM", "ARE", "BRI", "TIJ", "VER"] {
            let body = json!({"code": code, "name": code, "unit": "UN", "base_price": "1.00"});
            let (s, p) = app.call(Method::POST, slug, &token, "/api/v1/products", Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{p}");
            ids.push(p["id"].as_str().unwrap().to_owned());
        }
        products.insert(slug, (token, ids));
    }
    let image = |id: &str| format!("/api/v1/products/{id}/images");
    let (acme, ids) = &products["acme"];
    // Two images, and the first replaced twice: three originals' worth is not yet reached.
    for id in [&ids[0], &ids[1], &ids[0], &ids[0]] {
        let (s, body) = upload("acme", acme.clone(), image(id)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    }
    // Two more at once: exactly one fits.
    let (a, b) = tokio::join!(upload("acme", acme.clone(), image(&ids[2])), upload("acme", acme.clone(), image(&ids[3])));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::ACCEPTED, StatusCode::CONFLICT], "{} / {}", a.1, b.1);
    let refused = if a.0 == StatusCode::CONFLICT { &a.1 } else { &b.1 };
    assert_eq!(refused["error"]["code"], "upload_quota_exceeded", "{refused}");
    let (s, body) = upload("acme", acme.clone(), image(&ids[4])).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("upload_quota_exceeded")), "{body}");
    // Nothing of a refused upload is kept: no file, no event.
    let db = app.superuser().await;
    let events: i64 = db
        .query_one("SELECT count(*) FROM event_outbox WHERE event_type = 'product_image_uploaded' AND payload->>'product_id' = $1", &[&ids[4]])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 0, "a refused upload records no event");
    // Another tenant has its own quota.
    let (bravo, bravo_ids) = &products["bravo"];
    let (s, body) = upload("bravo", bravo.clone(), image(&bravo_ids[0])).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
}
