//! The browser UI over HTTP without a browser: sessions, CSRF, validation messages with input
//! kept, flash confirmations, the quote flow's totals, roles, tenant isolation, asset caching.
//! (`tests/stack/tests/browser.rs` drives the same pages in real Chromium behind the proxy.)

use std::collections::HashMap;

use basecommerce_vertical::domain::user::Role;
use reqwest::{Method, StatusCode};
use stack::{TestApp, PASSWORD};

/// A minimal browser: a cookie jar, redirects followed by hand, the last page's CSRF token.
struct Browser<'a> {
    app: &'a TestApp,
    slug: String,
    cookies: HashMap<String, String>,
    csrf: String,
}

struct Page {
    status: StatusCode,
    url: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp, slug: &str) -> Self {
        Self { app, slug: slug.into(), cookies: HashMap::new(), csrf: String::new() }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<Vec<(String, String)>>) -> Page {
        let (mut method, mut path, mut form) = (method, path.to_owned(), form);
        for _ in 0..6 {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            let mut rb = self.app.req(method.clone(), &self.slug, &path).header("cookie", cookie);
            if let Some(f) = &form {
                rb = rb.form(f);
            }
            let resp = rb.send().await.unwrap();
            for c in resp.headers().get_all("set-cookie") {
                let c = c.to_str().unwrap();
                let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
                let (k, v) = pair.split_once('=').unwrap();
                if v.is_empty() || attrs.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
            if resp.status() == StatusCode::SEE_OTHER {
                path = resp.headers()["location"].to_str().unwrap().to_owned();
                method = Method::GET;
                form = None;
                continue;
            }
            let (status, headers) = (resp.status(), resp.headers().clone());
            let body = resp.text().await.unwrap();
            if let Some(i) = body.find("name=\"_csrf\" value=\"") {
                let rest = &body[i + 20..];
                self.csrf = rest[..rest.find('"').unwrap()].to_owned();
            }
            return Page { status, url: path, headers, body };
        }
        panic!("redirect loop at {path}");
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// Posts a form with the current CSRF token.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut f: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        f.push(("_csrf".into(), self.csrf.clone()));
        self.send(Method::POST, path, Some(f)).await
    }

    async fn login(&mut self, email: &str, password: &str) -> Page {
        self.get("/login").await;
        self.post("/auth/login", &[("email", email), ("password", password)]).await
    }
}

/// Issue 15, finding 9. The CSRF pair (nonce cookie and form token) anyone gets from an
/// anonymous `GET /login` — all an attacker who plants cookies in a victim's browser can know —
/// is refused once the victim has signed in; the session's own token works. Every cookie is
/// `__Host-` (Secure, `Path=/`, no `Domain`), which browsers refuse to take from a sibling
/// subdomain, i.e. from another tenant's pages.
#[tokio::test]
async fn a_visitors_csrf_pair_is_worthless_after_sign_in() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let mut b = Browser::new(&app, "acme");
    let page = b.get("/login").await;
    let set: Vec<&str> = page.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert!(!set.is_empty());
    for c in &set {
        assert!(c.starts_with("__Host-") && c.contains("; Secure") && c.contains("; Path=/;") && !c.to_lowercase().contains("domain="), "{c}");
    }
    let (visitor_nonce, visitor_csrf) = (b.cookies["__Host-bc_ui"].clone(), b.csrf.clone());

    let page = b.post("/auth/login", &[("email", &t.admin_email), ("password", PASSWORD)]).await;
    assert_eq!((page.status, page.url.as_str()), (StatusCode::OK, "/"));
    let (session_nonce, session_csrf) = (b.cookies["__Host-bc_ui"].clone(), b.csrf.clone());
    assert_ne!(session_csrf, visitor_csrf);

    // The planted visitor pair alongside the victim's session: refused, nothing created.
    b.cookies.insert("__Host-bc_ui".into(), visitor_nonce.clone());
    b.csrf = visitor_csrf.clone();
    let page = b.post("/clients/new", &[("kind", "company"), ("name", "Planted"), ("document", "111")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    // Keeping the visitor's nonce does not help either: the session's token needs its scope.
    b.csrf = session_csrf.clone();
    let page = b.post("/clients/new", &[("kind", "company"), ("name", "Planted"), ("document", "111")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "the nonce is part of the token");
    let planted: i64 = app.superuser().await.query_one("SELECT count(*) FROM clients WHERE name = 'Planted'", &[]).await.unwrap().get(0);
    assert_eq!(planted, 0);

    // The session's own pair works.
    b.cookies.insert("__Host-bc_ui".into(), session_nonce);
    b.csrf = session_csrf;
    let page = b.post("/clients/new", &[("kind", "company"), ("name", "Real"), ("document", "222")]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Client created."));
}

/// The id in a `/prefix/<uuid>` URL.
fn id_in(url: &str) -> String {
    url.split(['/', '?']).find(|s| s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4).unwrap().to_owned()
}

#[tokio::test]
async fn sign_in_csrf_session_renewal_expiry_and_sign_out() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let mut b = Browser::new(&app, "acme");

    let page = b.get("/clients").await;
    assert_eq!(page.url, "/login?next=%2Fclients", "no session: to the login page, remembering where we were");
    assert!(page.body.contains("acme Materiais"), "the tenant's name is on its login page");
    assert!(!page.body.contains("expired"));

    let page = b.post("/auth/login", &[("email", &t.admin_email), ("password", "wrong password!"), ("next", "/clients")]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("Invalid e-mail or password"));
    assert!(page.body.contains(&format!("value=\"{}\"", t.admin_email)), "the e-mail is kept");

    // A login form from elsewhere (no token) is refused.
    let mut stranger = Browser::new(&app, "acme");
    stranger.get("/login").await;
    stranger.csrf = "0".repeat(64);
    let page = stranger.post("/auth/login", &[("email", &t.admin_email), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!stranger.cookies.contains_key("__Host-bc_access"));

    let page = b.post("/auth/login", &[("email", &t.admin_email), ("password", PASSWORD), ("next", "/clients")]).await;
    assert_eq!((page.status, page.url.as_str()), (StatusCode::OK, "/clients"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers["cache-control"], "no-store");

    // A state-changing form without the right token changes nothing.
    let real = b.csrf.clone();
    b.csrf = "f".repeat(64);
    let page = b.post("/clients/new", &[("kind", "company"), ("name", "Forged"), ("document", "999")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    b.csrf = real;
    let page = b.get("/clients?search=Forged").await;
    assert!(!page.body.contains("999"), "the forged client must not exist");

    // The access cookie expired: the refresh cookie renews the session transparently.
    let old_refresh = b.cookies["__Host-bc_refresh"].clone();
    b.cookies.remove("__Host-bc_access");
    let page = b.get("/clients").await;
    assert_eq!((page.status, page.url.as_str()), (StatusCode::OK, "/clients"));
    assert_ne!(b.cookies["__Host-bc_refresh"], old_refresh, "renewal rotated the refresh token");

    // Both gone stale (revoked/expired refresh token): back to login, told why.
    b.cookies.remove("__Host-bc_access");
    b.cookies.insert("__Host-bc_refresh".into(), old_refresh);
    let page = b.get("/quotes").await;
    assert!(page.url.starts_with("/login?expired=1"), "{}", page.url);
    assert!(page.body.contains("Your session has expired"));

    // Sign out ends the session for good.
    let page = b.login(&t.admin_email, PASSWORD).await;
    assert_eq!(page.url, "/");
    let refresh = b.cookies["__Host-bc_refresh"].clone();
    let page = b.post("/auth/signout", &[]).await;
    assert!(page.body.contains("You have been signed out"));
    assert!(!b.cookies.contains_key("__Host-bc_access") && !b.cookies.contains_key("__Host-bc_refresh"));
    b.cookies.insert("__Host-bc_refresh".into(), refresh);
    let page = b.get("/").await;
    assert!(page.url.starts_with("/login?expired=1"), "the signed-out refresh token no longer works: {}", page.url);
}

#[tokio::test]
async fn forms_show_errors_by_the_field_and_the_quote_flow_computes_totals() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let mut b = Browser::new(&app, "acme");
    b.login(&t.admin_email, PASSWORD).await;

    b.get("/clients/new").await;
    let page = b.post("/clients/new", &[("kind", "company"), ("name", "  "), ("document", "12.345/0001"), ("city", "Campinas")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"f-name-err\""), "the error sits by the name field");
    assert!(page.body.contains("name must not be empty"));
    assert!(page.body.contains("value=\"12.345/0001\"") && page.body.contains("value=\"Campinas\""), "input kept");
    let page = b.post("/clients/new", &[("kind", "company"), ("name", "Construtora Alfa"), ("document", "12.345/0001"), ("city", "Campinas")]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Client created."), "flash confirmation");
    let client = id_in(&page.url);
    let again = b.get(&page.url).await;
    assert!(!again.body.contains("Client created."), "a flash shows once");

    b.get(&format!("/clients/{client}/sites/new")).await;
    let page =
        b.post(&format!("/clients/{client}/sites/new"), &[("name", "Obra Centro"), ("city", "Campinas"), ("postal_code", "13010-100"), ("active", "on")]).await;
    assert!(page.body.contains("Job site created.") && page.body.contains("Obra Centro"));

    b.get("/products/new").await;
    let page = b.post("/products/new", &[("code", "CIM"), ("name", "Cimento 50kg"), ("unit", "UN"), ("base_price", "-1"), ("active", "on")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"f-base_price-err\""));
    b.post("/products/new", &[("code", "CIM"), ("name", "Cimento 50kg"), ("unit", "UN"), ("base_price", "32.00"), ("active", "on")]).await;
    let page = b.post("/products/new", &[("code", "ARE"), ("name", "Areia m3"), ("unit", "M3"), ("base_price", "45.90"), ("active", "on")]).await;
    assert!(page.body.contains("Product created.") && page.body.contains("Areia m3"));

    // New quote: client → site and terms (saves a draft) → products → totals.
    let page = b.get(&format!("/quotes/new?client_id={client}")).await;
    assert!(page.body.contains("Obra Centro"));
    let site = page.body.split("name=\"site_id\"").nth(1).and_then(|s| s.split("value=\"").nth(2)).map(|s| s[..36].to_owned()).unwrap();
    let page = b.post("/quotes/new", &[("client_id", &client), ("site_id", &site), ("discount_percent", "0"), ("valid_days", "7")]).await;
    assert!(page.body.contains("Draft quote created"), "{}", page.url);
    let quote = id_in(&page.url);
    let product = |name: &str| {
        let i = page.body.find(name).unwrap();
        let tail = &page.body[i..];
        let j = tail.find("name=\"product_id\" value=\"").unwrap() + 25;
        tail[j..j + 36].to_owned()
    };
    let (cim, are) = (product("Cimento 50kg"), product("Areia m3"));
    b.post(&format!("/quotes/{quote}/add"), &[("product_id", &cim), ("quantity", "10"), ("discount_percent", "0")]).await;
    let page = b.post(&format!("/quotes/{quote}/add"), &[("product_id", &are), ("quantity", "3"), ("discount_percent", "10")]).await;
    assert!(page.body.contains("id=\"total\">443.93<"), "320.00 + 123.93");
    // A bad quantity is refused next to its line, the other input kept.
    let page = b
        .post(
            &format!("/quotes/{quote}"),
            &[
                ("product_0", &cim),
                ("price_0", "32.00"),
                ("qty_0", "-2"),
                ("disc_0", "0"),
                ("product_1", &are),
                ("price_1", "45.90"),
                ("qty_1", "3"),
                ("disc_1", "10"),
                ("discount_percent", "5"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("value=\"-2\"") && page.body.contains("must be greater than 0"));
    let page = b
        .post(
            &format!("/quotes/{quote}"),
            &[
                ("product_0", &cim),
                ("price_0", "32.00"),
                ("qty_0", "10"),
                ("disc_0", "0"),
                ("product_1", &are),
                ("price_1", "45.90"),
                ("qty_1", "3"),
                ("disc_1", "10"),
                ("discount_percent", "5"),
            ],
        )
        .await;
    assert!(page.body.contains("id=\"subtotal\">443.93<") && page.body.contains("id=\"total\">421.73<"), "5 % off 443.93");
    assert!(page.body.len() < 50_000, "page size {}", page.body.len());

    let page = b.post(&format!("/quotes/{quote}/approve"), &[]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "approving a draft is refused");
    assert!(page.body.contains("only sent quotes can be approved"));
    assert!(b.post(&format!("/quotes/{quote}/send"), &[]).await.body.contains("Quote sent."));
    assert!(b.post(&format!("/quotes/{quote}/approve"), &[]).await.body.contains("Quote approved."));
    let page = b.post(&format!("/quotes/{quote}/convert"), &[]).await;
    assert!(page.url.starts_with("/orders/") && page.body.contains("Order created from the quote."));
    assert!(page.body.contains("id=\"total\">421.73<"));
    let order = id_in(&page.url);
    for to in ["preparing", "out_for_delivery", "delivered"] {
        let page = b.post(&format!("/orders/{order}/status"), &[("status", to)]).await;
        assert!(page.body.contains("Order status changed."), "{to}");
    }
    let page = b.post(&format!("/orders/{order}/status"), &[("status", "cancelled")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "a delivered order cannot be cancelled");
    let page = b.get("/orders?status=delivered").await;
    assert!(page.body.contains("O-000001"));
    let page = b.get("/quotes?status=draft").await;
    assert!(!page.body.contains("Q-000001"), "the filter hides the converted quote");
    assert!(!b.get("/quotes?from=2000-01-01&to=2000-01-31").await.body.contains("Q-000001"), "period filter");
    assert!(b.get("/quotes?from=2000-01-01").await.body.contains("Q-000001"));

    // One event per business write, from the same handlers the API uses.
    let db = app.superuser().await;
    let n: i64 = db.query_one("SELECT count(*) FROM event_outbox WHERE event_type = 'sale_recorded'", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn sellers_tenants_assets_and_unknown_pages() {
    let app = TestApp::spawn().await;
    let a = app.tenant("acme").await;
    let _b = app.tenant("beta").await;
    app.user("acme", "seller@acme.test", Role::Seller).await;
    let mut seller = Browser::new(&app, "acme");
    seller.login("seller@acme.test", PASSWORD).await;
    assert_eq!(seller.get("/products/new").await.status, StatusCode::FORBIDDEN);
    assert_eq!(seller.get("/users").await.status, StatusCode::FORBIDDEN);
    let page = seller.get("/products").await;
    assert!(!page.body.contains("/products/new"), "sellers are not offered admin actions");
    assert_eq!(seller.get("/nowhere").await.status, StatusCode::NOT_FOUND);

    // acme's session cookies are not a session on beta.
    let mut admin = Browser::new(&app, "acme");
    admin.login(&a.admin_email, PASSWORD).await;
    admin.slug = "beta".into();
    let page = admin.get("/").await;
    assert!(page.url.starts_with("/login"), "{}", page.url);

    // Versioned assets: long-lived cache; an unknown version is a 404.
    let home = Browser::new(&app, "acme").get("/login").await;
    let css = home.body.split("href=\"/static/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let resp = app.req(Method::GET, "acme", &format!("/static/{css}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    let total = home.body.len() + resp.text().await.unwrap().len() + include_str!("../assets/app.js").len();
    assert!(total < 50_000, "login page + CSS + JS = {total} bytes");
    let resp = app.req(Method::GET, "acme", "/static/app.000000000000.css").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Pages are gzipped for clients that accept it.
    let resp = app.req(Method::GET, "acme", &format!("/static/{css}")).header("accept-encoding", "gzip, br").send().await.unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let gz = resp.bytes().await.unwrap();
    assert!(gz.starts_with(&[0x1f, 0x8b]) && gz.len() * 2 < include_str!("../assets/app.css").len(), "{} bytes", gz.len());

    // `next` after sign-in stays on this host, whatever the browser would make of it.
    for evil in ["//evil.example/", "/\t/evil.example/", "/\\evil.example"] {
        let mut b = Browser::new(&app, "acme");
        b.get("/login").await;
        let page = b.post("/auth/login", &[("email", &a.admin_email), ("password", PASSWORD), ("next", evil)]).await;
        assert_eq!(page.url, "/", "{evil:?}");
    }
}

/// A `multipart/form-data` body with text fields and one file.
fn multipart(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----bc-test-boundary-7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn image_uploads_from_the_ui_and_the_cors_allow_list() {
    use base64::Engine;
    let app = TestApp::spawn_with(true, |s| s.vertical.cors_origins = vec!["https://shop.example.com".into()]).await;
    let t = app.tenant("acme").await;
    let mut b = Browser::new(&app, "acme");
    b.login(&t.admin_email, PASSWORD).await;
    b.get("/products/new").await;
    let page = b.post("/products/new", &[("code", "CIM"), ("name", "Cimento"), ("unit", "UN"), ("base_price", "32.00"), ("active", "on")]).await;
    let edit = page.body.split("href=\"/products/").skip(1).map(|s| s.split('"').next().unwrap()).find(|s| s.ends_with("/edit")).unwrap().to_owned();
    let product = edit.trim_end_matches("/edit").to_owned();
    let page = b.get(&format!("/products/{edit}")).await;
    assert!(page.body.contains("enctype=\"multipart/form-data\"") && page.body.contains("No image yet."));

    let cookie = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let upload = |file: Vec<u8>, csrf: String| {
        let (ct, body) = multipart(&[("_csrf", &csrf)], &file);
        let cookie = cookie.clone();
        app.req(Method::POST, "acme", &format!("/products/{product}/image")).header("cookie", cookie).header("content-type", ct).body(body).send()
    };
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
        .unwrap();
    let resp = upload(png.clone(), b.csrf.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let flash = resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|c| c.starts_with("__Host-bc_flash=")).unwrap();
    assert!(flash.contains("Image%20uploaded") || flash.contains("Image+uploaded"), "{flash}");
    let original = app.settings.files.dir.join(format!("tenants/{}/products/{product}/original", t.id));
    assert_eq!(std::fs::read(&original).unwrap(), png, "the original is stored under the tenant's key");

    // A script with an image name: refused, the message shown as an error on the page.
    let resp = upload(b"#!/bin/sh\necho pwned\n".to_vec(), b.csrf.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    for c in resp.headers().get_all("set-cookie") {
        let (k, v) = c.to_str().unwrap().split(';').next().unwrap().split_once('=').unwrap();
        b.cookies.insert(k.into(), v.into());
    }
    let page = b.get(&format!("/products/{edit}")).await;
    assert!(page.body.contains("role=\"alert\">the file is not a JPEG, PNG or WebP image"), "clear refusal");
    // 11 MB from a browser form: back to the page with the reason, not a JSON 413.
    let mut big = png.clone();
    big.resize(11 * 1024 * 1024, 0);
    let resp = upload(big, b.csrf.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], format!("/products/{edit}"));
    let flash = resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).find(|c| c.starts_with("__Host-bc_flash=")).unwrap();
    assert!(flash.contains("larger"), "{flash}");
    // Without the CSRF token nothing is stored.
    let resp = upload(png.clone(), "0".repeat(64)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let db = app.superuser().await;
    let n: i64 = db.query_one("SELECT count(*) FROM event_outbox WHERE event_type = 'product_image_uploaded'", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);

    // CORS: the allowed origin by name, with credentials; anything else gets nothing.
    let pre =
        |origin: &str| app.req(Method::OPTIONS, "acme", "/api/v1/clients").header("origin", origin).header("access-control-request-method", "POST").send();
    let resp = pre("https://shop.example.com").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://shop.example.com");
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    let resp = pre("https://evil.example").await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let get = |origin: &str| app.req(Method::GET, "acme", "/tenant.json").header("origin", origin).send();
    assert_eq!(get("https://shop.example.com").await.unwrap().headers()["access-control-allow-origin"], "https://shop.example.com");
    assert!(get("https://evil.example").await.unwrap().headers().get("access-control-allow-origin").is_none());
}
