//! Login, refresh rotation and reuse revocation, logout, lockout, cross-tenant tokens.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stack::{TestApp, PASSWORD};

#[tokio::test]
async fn login_returns_tokens_and_cookies_and_me_works_with_either() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let resp = app.req(Method::POST, "acme", "/auth/login").json(&json!({"email": t.admin_email.to_uppercase(), "password": PASSWORD})).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookies: Vec<String> = resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap();
    assert!(cookies.iter().any(|c| c.starts_with("__Host-bc_access=") && c.contains("HttpOnly") && c.contains("SameSite=Lax")), "{cookies:?}");
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-bc_refresh=") && c.contains("Path=/;") && c.contains("Secure") && c.contains("SameSite=Strict")),
        "{cookies:?}"
    );

    let (status, me) = app.call(Method::GET, "acme", access, "/auth/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], t.admin_email);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["tenant"]["slug"], "acme");

    let cookie = format!("__Host-bc_access={access}");
    let resp = app.req(Method::GET, "acme", "/auth/me").header("cookie", cookie).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = app.req(Method::GET, "acme", "/auth/me").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // A cookie session may change things only with a header other sites' forms cannot send.
    let cookie = format!("__Host-bc_access={access}");
    let body = json!({"email": "new@acme.test", "password": PASSWORD, "role": "seller"});
    let resp = app.req(Method::POST, "acme", "/api/v1/users").header("cookie", &cookie).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app.req(Method::POST, "acme", "/api/v1/users").header("cookie", &cookie).header("x-requested-with", "fetch").json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    let (s, _) = app.login_raw("acme", "nul\u{0}@acme.test", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a NUL byte is a failed login, not a 500");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let (s1, b1) = app.login_raw("acme", &t.admin_email, "wrong password!").await;
    let (s2, b2) = app.login_raw("acme", "nobody@acme.test", "wrong password!").await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!((s1, &b1), (s2, &b2));
    assert_eq!(b1["error"]["code"], "unauthorized");
}

#[tokio::test]
async fn five_failures_lock_the_account_for_fifteen_minutes() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    for _ in 0..5 {
        let (s, _) = app.login_raw("acme", &t.admin_email, "not the password").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, _) = app.login_raw("acme", &t.admin_email, PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "locked account must refuse the right password");

    let db = app.superuser().await;
    let row = db.query_one("SELECT locked_until - now() FROM users WHERE email = $1", &[&t.admin_email]).await.unwrap();
    let remaining: tokio_postgres::types::Json<Value> =
        db.query_one("SELECT to_jsonb(extract(epoch FROM locked_until - now())) FROM users WHERE email = $1", &[&t.admin_email]).await.unwrap().get(0);
    let secs = remaining.0.as_f64().unwrap();
    assert!((14.0 * 60.0..=15.0 * 60.0).contains(&secs), "locked for {secs}s");
    drop(row);

    // Fifteen minutes later (moved back in the database), the right password works again.
    db.execute("UPDATE users SET locked_until = now() - interval '1 second' WHERE email = $1", &[&t.admin_email]).await.unwrap();
    app.login("acme", &t.admin_email).await;
    let failed: i32 = db.query_one("SELECT failed_logins FROM users WHERE email = $1", &[&t.admin_email]).await.unwrap().get(0);
    assert_eq!(failed, 0);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let first = app.login("acme", &t.admin_email).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let refresh = |token: String| {
        let rb = app.req(Method::POST, "acme", "/auth/refresh").json(&json!({ "refresh_token": token }));
        async move {
            let resp = rb.send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let (s, second) = refresh(r1.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let (s, _) = app.call(Method::GET, "acme", second["access_token"].as_str().unwrap(), "/auth/me", None).await;
    assert_eq!(s, StatusCode::OK);

    // r1 is spent: presenting it again is theft; the whole family (r2 included) dies.
    let (s, body) = refresh(r1).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, _) = refresh(r2).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the rotated successor must be revoked too");

    // A different login is a different family and keeps working.
    let other = app.login("acme", &t.admin_email).await;
    let (s, _) = refresh(other["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn refresh_works_from_the_cookie_and_logout_ends_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let login = app.login("acme", &t.admin_email).await;
    let cookie = format!("__Host-bc_refresh={}", login["refresh_token"].as_str().unwrap());
    let resp = app.req(Method::POST, "acme", "/auth/refresh").header("cookie", &cookie).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let fresh: Value = resp.json().await.unwrap();

    let resp = app.req(Method::POST, "acme", "/auth/logout").json(&json!({ "refresh_token": fresh["refresh_token"] })).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let cleared: Vec<_> = resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("__Host-bc_access=;") && c.contains("Max-Age=0")), "{cleared:?}");

    let resp = app.req(Method::POST, "acme", "/auth/refresh").json(&json!({ "refresh_token": fresh["refresh_token"] })).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_is_only_valid_on_its_own_tenant() {
    let app = TestApp::spawn().await;
    let a = app.tenant("alpha").await;
    app.tenant("beta").await;
    let token_a = app.token("alpha", &a.admin_email).await;
    let (s, _) = app.call(Method::GET, "alpha", &token_a, "/api/v1/users", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = app.call(Method::GET, "beta", &token_a, "/api/v1/users", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, _) = app.call(Method::GET, "beta", &token_a, "/auth/me", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Login on beta with alpha's credentials fails: users are per tenant.
    let (s, _) = app.login_raw("beta", &a.admin_email, PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_api_is_admin_only_and_validates() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    let admin = app.token("acme", &t.admin_email).await;
    let (s, u) = app
        .call(Method::POST, "acme", &admin, "/api/v1/users", Some(json!({"email": "Seller@Acme.test", "name": "Sam", "password": PASSWORD, "role": "seller"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(u["email"], "seller@acme.test");
    assert!(u.get("password_hash").is_none());

    let (s, e) =
        app.call(Method::POST, "acme", &admin, "/api/v1/users", Some(json!({"email": "seller@acme.test", "password": PASSWORD, "role": "seller"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, e) = app.call(Method::POST, "acme", &admin, "/api/v1/users", Some(json!({"email": "x@acme.test", "password": "short", "role": "seller"}))).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("password")));
    let (s, e) = app.call(Method::POST, "acme", &admin, "/api/v1/users", Some(json!({"email": "x@acme.test", "password": PASSWORD, "role": "owner"}))).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("role")), "{e}");

    let seller = app.token("acme", "seller@acme.test").await;
    let (s, e) = app.call(Method::GET, "acme", &seller, "/api/v1/users", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    let (s, _) = app.call(Method::POST, "acme", &seller, "/api/v1/users", Some(json!({"email": "y@acme.test", "password": PASSWORD, "role": "admin"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, list) = app.call(Method::GET, "acme", &admin, "/api/v1/users?limit=1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let cursor = list["next_cursor"].as_str().expect("a second page exists");
    let (_, page2) = app.call(Method::GET, "acme", &admin, &format!("/api/v1/users?limit=1&cursor={cursor}"), None).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_ne!(page2["items"][0]["id"], list["items"][0]["id"]);
    assert!(page2["next_cursor"].is_null());

    // Deactivating a user ends their logins.
    let (s, _) = app.call(Method::PATCH, "acme", &admin, &format!("/api/v1/users/{}", u["id"].as_str().unwrap()), Some(json!({"active": false}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.login_raw("acme", "seller@acme.test", PASSWORD).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
