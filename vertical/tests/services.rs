//! The service layer's own guarantees: a tenant transaction dropped half-way leaves nothing
//! behind on its pooled connection, and a tenant never loses its last active admin.

use basecommerce_vertical::domain::user::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use stack::{TestApp, PASSWORD};

/// Active admins of a tenant, counted through the application role under row-level security.
async fn active_admins(app: &TestApp, tenant_id: uuid::Uuid) -> i64 {
    let pool = infra::db::pool(&infra::Secret::new(app.db.app_url.clone()), &app.settings.database, 1).unwrap();
    let tx = infra::db::TenantTx::begin_read_only(pool.get().await.unwrap(), tenant_id).await.unwrap();
    let n: i64 = tx.query_one("SELECT count(*) FROM users WHERE role = 'admin' AND active", &[]).await.unwrap().get(0);
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn a_dropped_tenant_transaction_rolls_back_before_its_connection_is_reused() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    // One connection: the next `get` can only be served once the dropped transaction gave it back.
    let pool = infra::db::pool(&infra::Secret::new(app.db.app_url.clone()), &app.settings.database, 1).unwrap();
    {
        let tx = infra::db::TenantTx::begin(pool.get().await.unwrap(), t.id).await.unwrap();
        tx.execute("INSERT INTO clients (tenant_id, kind, name, document) VALUES ($1, 'company', 'Ghost', 'G-1')", &[&t.id]).await.unwrap();
        // Dropped here without commit, as when a client disconnects mid-request.
    }
    let client = pool.get().await.unwrap();
    let bound: Option<String> = client.query_one("SELECT nullif(current_setting('app.tenant_id', true), '')", &[]).await.unwrap().get(0);
    assert_eq!(bound, None, "the tenant binding must not outlive its transaction");
    // SAVEPOINT is refused outside a transaction block (25P01): the connection is idle.
    let outside = client.batch_execute("SAVEPOINT probe").await.expect_err("the connection came back inside the dropped transaction");
    assert_eq!(outside.code().map(|c| c.code()), Some("25P01"), "{outside}");
    drop(client);
    let tx = infra::db::TenantTx::begin(pool.get().await.unwrap(), t.id).await.unwrap();
    let ghosts: i64 = tx.query_one("SELECT count(*) FROM clients WHERE name = 'Ghost'", &[]).await.unwrap().get(0);
    tx.commit().await.unwrap();
    assert_eq!(ghosts, 0, "the uncommitted insert must have been rolled back");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_or_deactivated() {
    let app = TestApp::spawn().await;
    let t = app.tenant("acme").await;
    app.user("acme", "second@acme.test", Role::Admin).await;
    let first = app.token("acme", &t.admin_email).await;
    let second = app.token("acme", "second@acme.test").await;
    let (_, users) = app.call(Method::GET, "acme", &first, "/api/v1/users", None).await;
    let id_of = |email: &str| users["items"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"].as_str().unwrap().to_owned();
    let (first_id, second_id) = (id_of(&t.admin_email), id_of("second@acme.test"));

    let (s, e) = app.call(Method::PATCH, "acme", &first, &format!("/api/v1/users/{second_id}"), Some(json!({"role": "seller"}))).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    // The demoted admin's token (issued while an admin) cannot take the last admin with it.
    for change in [json!({"role": "seller"}), json!({"active": false})] {
        let (s, e) = app.call(Method::PATCH, "acme", &second, &format!("/api/v1/users/{first_id}"), Some(change)).await;
        assert_ne!(s, StatusCode::OK, "the tenant's last admin was removed: {e}");
    }
    assert_eq!(active_admins(&app, t.id).await, 1);
    let _ = PASSWORD;
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    for round in 0..6 {
        let slug = format!("race{round}");
        let t = app.tenant(&slug).await;
        let other = format!("other@{slug}.test");
        app.user(&slug, &other, Role::Admin).await;
        let a = app.token(&slug, &t.admin_email).await;
        let b = app.token(&slug, &other).await;
        let (_, users) = app.call(Method::GET, &slug, &a, "/api/v1/users", None).await;
        let id_of = |email: &str| users["items"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"].as_str().unwrap().to_owned();
        let (a_id, b_id) = (id_of(&t.admin_email), id_of(&other));
        // Half the rounds demote, half deactivate: both remove an admin.
        let change = if round % 2 == 0 { json!({"role": "seller"}) } else { json!({"active": false}) };
        let path_b = format!("/api/v1/users/{b_id}");
        let path_a = format!("/api/v1/users/{a_id}");
        let ((sa, _), (sb, _)) =
            tokio::join!(app.call(Method::PATCH, &slug, &a, &path_b, Some(change.clone())), app.call(Method::PATCH, &slug, &b, &path_a, Some(change.clone())));
        assert!(!(sa == StatusCode::OK && sb == StatusCode::OK), "round {round}: both admins were removed");
        assert_eq!(active_admins(&app, t.id).await, 1, "round {round}: ({sa}, {sb})");
    }
}
