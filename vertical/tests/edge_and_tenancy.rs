//! The trust boundary (edge secret, tenant header), tenant status, health, request hygiene, and
//! row-level security proven directly in the database.

use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stack::{connect, TestApp};

#[tokio::test]
async fn health_is_open_and_everything_else_needs_the_edge_secret() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let live = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    // Readiness waits for Redis to connect in the background.
    let mut ready = Value::Null;
    for _ in 0..100 {
        let resp = app.http.get(app.url("/health/ready")).send().await.unwrap();
        let ok = resp.status() == StatusCode::OK;
        ready = resp.json().await.unwrap();
        if ok {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready["status"], "ready", "{ready}");

    let no_secret = app.http.get(app.url("/tenant.json")).header(TENANT_SLUG_HEADER, "acme").send().await.unwrap();
    assert_eq!(no_secret.status(), StatusCode::FORBIDDEN);
    let body: Value = no_secret.json().await.unwrap();
    assert_eq!(body["error"]["code"], "edge_required");
    let wrong = app.http.get(app.url("/tenant.json")).header(TENANT_SLUG_HEADER, "acme").header(EDGE_SECRET_HEADER, "x".repeat(64)).send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let empty = app.http.get(app.url("/tenant.json")).header(TENANT_SLUG_HEADER, "acme").header(EDGE_SECRET_HEADER, "").send().await.unwrap();
    assert_eq!(empty.status(), StatusCode::FORBIDDEN);

    let ok = app.req(Method::GET, "acme", "/tenant.json").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let t: Value = ok.json().await.unwrap();
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["name"], "acme Materiais");
    assert!(t["branding"].is_object());
}

#[tokio::test]
async fn readiness_reports_a_schema_that_is_not_migrated() {
    let app = TestApp::spawn_with(false, |_| {}).await;
    let resp = app.http.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.unwrap();
    let migrations = body["checks"].as_array().unwrap().iter().find(|c| c["name"] == "migrations").unwrap();
    assert_eq!(migrations["ok"], false, "{body}");
}

/// Polls `path` of tenant acme until it answers `expected` (a tenant change reaches the
/// vertical's cache through Redis); gives up after 30 s.
async fn until_status(app: &TestApp, token: &str, path: &str, expected: StatusCode) {
    let start = std::time::Instant::now();
    loop {
        let (s, _) = app.call(Method::GET, "acme", token, path, None).await;
        if s == expected {
            return;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "{path} never answered {expected}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn unknown_invalid_and_suspended_tenants_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let token = app.token("acme", &t.admin_email).await;
    for slug in ["nosuch", "Bad_Slug", "www", ""] {
        let resp = app.req(Method::GET, slug, "/tenant.json").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{slug}");
    }
    let resp = app.http.get(app.url("/tenant.json")).header(EDGE_SECRET_HEADER, &app.edge_secret).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no tenant header");

    // The tenant row is cached (vertical.tenant_cache_ttl_ms); the admin's announcement on
    // Redis drops it, so the suspension shows without waiting for the entry to expire.
    let (s, _) = app.call(Method::GET, "acme", &token, "/tenant.json", None).await;
    assert_eq!(s, StatusCode::OK, "cached while active");
    app.admin().set_status(&"acme".parse().unwrap(), basecommerce_vertical::domain::tenant::TenantStatus::Suspended).await.unwrap();
    until_status(&app, &token, "/tenant.json", StatusCode::FORBIDDEN).await;
    for path in ["/tenant.json", "/auth/me", "/api/v1/users"] {
        let (s, body) = app.call(Method::GET, "acme", &token, path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"]["code"], "tenant_suspended");
    }
    let (s, _) = app.login_raw("acme", &t.admin_email, stack::PASSWORD).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    app.admin().set_status(&"acme".parse().unwrap(), basecommerce_vertical::domain::tenant::TenantStatus::Active).await.unwrap();
    until_status(&app, &token, "/auth/me", StatusCode::OK).await;
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let login = |body: &'static str, ct: &'static str| app.req(Method::POST, "acme", "/auth/login").header("content-type", ct).body(body).send();

    let resp = login("{\"email\": ", "application/json").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let b: Value = resp.json().await.unwrap();
    assert!(b["error"]["message"].as_str().unwrap().starts_with("malformed JSON"), "{b}");

    let resp = login(r#"{"email":"a@b.co","password":"x","admin":true}"#, "application/json").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"]["field"], "admin", "{b}");

    let resp = login(r#"{"email":"a@b.co"}"#, "application/json").await.unwrap();
    let b: Value = resp.json().await.unwrap();
    assert!(b["error"]["message"].as_str().unwrap().contains("password"), "{b}");

    let resp = login(r#"{"email":"a@b.co","password":"x"}"#, "text/plain").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let big = "x".repeat(2 * 1024 * 1024);
    let resp = app.req(Method::POST, "acme", "/auth/login").header("content-type", "application/json").body(big).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"]["code"], "payload_too_large");

    // Outside `/api` and `/auth` the path space is the browser UI's (HTML; tests/ui.rs).
    let resp = app.req(Method::GET, "acme", "/api/no/such/route").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.headers().get("x-request-id").is_some());

    let resp = app.req(Method::GET, "acme", "/tenant.json").header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = app.req(Method::GET, "acme", "/tenant.json").header("x-request-id", "bad id!").send().await.unwrap();
    assert_ne!(resp.headers()["x-request-id"], "bad id!");

    let t = app.tenant("beta").await;
    let token = app.token("beta", &t.admin_email).await;
    let (s, b) = app.call(Method::PATCH, "beta", &token, "/api/v1/users/not-a-uuid", Some(json!({}))).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")));
}

/// RLS is the net under the application's own tenant filters: a query that forgets its
/// `WHERE tenant_id = …` still sees only the current tenant's rows, and cannot write another's.
#[tokio::test]
async fn row_level_security_blocks_a_query_that_forgets_its_tenant_filter() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    app.user("beta", "second@beta.test", basecommerce_vertical::domain::user::Role::Seller).await;

    let mut db = connect(&app.db.app_url).await;
    let is_super: bool = db.query_one("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user", &[]).await.unwrap().get(0);
    assert!(!is_super, "the app role must not bypass RLS");

    let tx = db.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&a.id.to_string()]).await.unwrap();
    let emails: Vec<String> = tx.query("SELECT email FROM users", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(emails, vec![a.admin_email.clone()]);
    let err = tx.execute("INSERT INTO clients (tenant_id, kind, name, document) VALUES ($1, 'company', 'Sneaky', '1')", &[&b.id]).await.unwrap_err();
    let msg = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(msg.contains("row-level security"), "{msg}");
    tx.rollback().await.unwrap();

    // The setting is transaction-local: the next transaction on the same connection sees nothing.
    let tx = db.transaction().await.unwrap();
    let n: i64 = tx.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0);
    assert_eq!(n, 0, "no tenant set, no rows");
    tx.commit().await.unwrap();

    let tx = db.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&b.id.to_string()]).await.unwrap();
    let n: i64 = tx.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    tx.commit().await.unwrap();

    // And the app role cannot create or suspend tenants: that is the owner's job.
    let err = db.execute("UPDATE tenants SET status = 'suspended'", &[]).await.unwrap_err();
    let msg = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
    assert!(msg.contains("permission denied"), "{msg}");
}

/// `tenant_read` pipelines BEGIN, the tenant binding, the reads and COMMIT: it must bind the
/// tenant like a tenant transaction, refuse writes, and never hand the connection back inside a
/// transaction, not even when the request is dropped half-way.
#[tokio::test]
async fn pipelined_reads_see_only_their_tenant_and_leave_no_transaction_open() {
    use futures_util::FutureExt;
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    let b = app.tenant("beta").await;
    app.user("beta", "second@beta.test", basecommerce_vertical::domain::user::Role::Seller).await;
    let pool = infra::db::pool(&infra::Secret::new(app.db.app_url.clone()), &infra::Settings::default().database, 1).unwrap();
    let client = pool.get().await.unwrap();
    let emails = client.prepare_cached("SELECT email FROM users ORDER BY email").await.unwrap();
    let rows = infra::db::tenant_read(&client, a.id, &[(&emails, &[])]).await.unwrap();
    assert_eq!(rows[0].iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), vec![a.admin_email.clone()]);
    let rows = infra::db::tenant_read(&client, b.id, &[(&emails, &[]), (&emails, &[])]).await.unwrap();
    assert_eq!((rows[0].len(), rows[1].len()), (2, 2), "each statement's rows, beta's only");
    assert_eq!(outside(&client).await, ("off".to_string(), None), "committed: no transaction, no tenant left on the connection");

    let write = client.prepare_cached("INSERT INTO clients (tenant_id, kind, name, document) VALUES ($1, 'company', 'Sneaky', '1')").await.unwrap();
    let err = infra::db::tenant_read(&client, a.id, &[(&write, &[&a.id])]).await.unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(outside(&client).await, ("off".to_string(), None));

    // Polled once (every message queued), then dropped like a request whose client went away.
    assert!(infra::db::tenant_read(&client, a.id, &[(&emails, &[])]).now_or_never().is_none());
    assert_eq!(outside(&client).await, ("off".to_string(), None), "the queued COMMIT still ran");
}

/// Whether `client` is inside a read-only transaction, and the tenant bound on it.
async fn outside(client: &infra::db::PooledClient) -> (String, Option<String>) {
    let read_only: String = client.query_one("SHOW transaction_read_only", &[]).await.unwrap().get(0);
    let bound: Option<String> = client.query_one("SELECT nullif(current_setting('app.tenant_id', true), '')", &[]).await.unwrap().get(0);
    (read_only, bound)
}
