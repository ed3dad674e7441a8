//! Spawns a real vertical on port 0 against a fresh database on the harness's PostgreSQL and the
//! shared Redis, and offers the calls tests make through it.

use std::net::SocketAddr;

use admin::Admin;
use basecommerce_vertical::domain::user::{Email, NewPassword, Role};
use basecommerce_vertical::startup::Application;
use harness::TestDatabase;
use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};
use infra::{Settings, TenantSlug};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{connect, test_settings, PASSWORD};

/// A running vertical (port 0) on a fresh database of the shared servers.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub edge_secret: String,
    pub db: TestDatabase,
    pub settings: Settings,
}

pub struct TestTenant {
    pub slug: String,
    pub id: uuid::Uuid,
    pub admin_email: String,
}

impl TestApp {
    /// A migrated database and a running vertical.
    pub async fn spawn() -> Self {
        Self::spawn_with(true, |_| {}).await
    }

    pub async fn spawn_with(migrate: bool, tweak: impl FnOnce(&mut Settings)) -> Self {
        infra::telemetry::install_crypto_provider();
        let db = harness::services().create_database();
        let mut settings = test_settings(&db);
        tweak(&mut settings);
        if migrate {
            Admin::new(settings.clone()).unwrap().migrate().await.expect("migrations apply");
        }
        let app = Application::build(settings.clone()).await.expect("vertical builds");
        let addr = app.local_addr();
        tokio::spawn(app.run_until(std::future::pending()));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { addr, http, edge_secret: settings.edge.secret.clone().unwrap().expose().to_owned(), db, settings }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn admin(&self) -> Admin {
        Admin::new(self.settings.clone()).unwrap()
    }

    /// Creates a tenant with an admin user whose password is [`PASSWORD`].
    pub async fn tenant(&self, slug: &str) -> TestTenant {
        let admin_email = format!("admin@{slug}.test");
        let change = self
            .admin()
            .create_tenant(
                &TenantSlug::parse(slug).unwrap(),
                &format!("{slug} Materiais"),
                Some((Email::parse(&admin_email).unwrap(), NewPassword::parse(PASSWORD).unwrap())),
            )
            .await
            .unwrap();
        TestTenant { slug: slug.into(), id: change.tenant.id, admin_email }
    }

    /// Adds a user with [`PASSWORD`].
    pub async fn user(&self, slug: &str, email: &str, role: Role) {
        self.admin()
            .create_user(&TenantSlug::parse(slug).unwrap(), &Email::parse(email).unwrap(), "", role, &NewPassword::parse(PASSWORD).unwrap())
            .await
            .unwrap();
    }

    /// A request as the proxy would forward it: edge secret and tenant header set.
    pub fn req(&self, method: Method, slug: &str, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).header(EDGE_SECRET_HEADER, &self.edge_secret).header(TENANT_SLUG_HEADER, slug)
    }

    /// Logs in and returns the JSON token response (panics on failure).
    pub async fn login(&self, slug: &str, email: &str) -> Value {
        let (status, body) = self.login_raw(slug, email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "login failed: {body}");
        body
    }

    pub async fn token(&self, slug: &str, email: &str) -> String {
        self.login(slug, email).await["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn login_raw(&self, slug: &str, email: &str, password: &str) -> (StatusCode, Value) {
        let resp = self.req(Method::POST, slug, "/auth/login").json(&json!({ "email": email, "password": password })).send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// An authenticated JSON call; returns status and body (Null when empty).
    pub async fn call(&self, method: Method, slug: &str, token: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self.req(method, slug, path).bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    /// A superuser connection to the test database (bypasses RLS: for checking raw state).
    pub async fn superuser(&self) -> tokio_postgres::Client {
        connect(&self.db.superuser_url).await
    }
}
