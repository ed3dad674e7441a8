//! The admin CLI as operators run it: the real `basecommerce` binary, configured through the
//! environment, against the harness's PostgreSQL and Redis.

use std::process::{Command, Output};

use serde_json::Value;
use stack::{connect, test_settings};

struct Cli {
    env: Vec<(String, String)>,
}

impl Cli {
    fn new() -> (Self, harness::TestDatabase) {
        let db = harness::services().create_database();
        let s = test_settings(&db);
        let env = vec![
            ("BASECOMMERCE_DATABASE__URL".into(), db.app_url.clone()),
            ("BASECOMMERCE_DATABASE__MIGRATE_URL".into(), db.owner_url.clone()),
            ("BASECOMMERCE_REDIS__URL".into(), harness::services().redis_url()),
            ("BASECOMMERCE_AUTH__JWT_SECRET".into(), s.auth.jwt_secret.unwrap().expose().to_owned()),
        ];
        (Self { env }, db)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_basecommerce")).args(args).envs(self.env.iter().cloned()).env_remove("CREDENTIALS_DIRECTORY").output().unwrap()
    }

    fn ok_json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

#[test]
fn migrate_is_idempotent_and_tenants_are_managed_with_meaningful_exit_codes() {
    let (cli, _db) = Cli::new();
    let first = cli.ok_json(&["--json", "migrate"]);
    assert!(!first["applied"].as_array().unwrap().is_empty());
    let again = cli.ok_json(&["--json", "migrate"]);
    assert_eq!(again["applied"].as_array().unwrap().len(), 0, "second run applies nothing");
    assert_eq!(again["current_version"], first["current_version"]);

    let created = cli.ok_json(&["--json", "tenant", "create", "acme", "--name", "ACME Materiais", "--admin-email", "boss@acme.test"]);
    assert_eq!(created["tenant"]["slug"], "acme");
    assert_eq!(created["admin"]["role"], "admin");
    let generated = created["generated_password"].as_str().unwrap();
    assert!(generated.len() >= 16);
    assert_eq!(created["invalidation_published"], true);

    let list = cli.ok_json(&["--json", "tenant", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["users"], 1);
    assert_eq!(list[0]["status"], "active");

    let table = cli.run(&["tenant", "list"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.lines().next().unwrap().starts_with("SLUG"), "{text}");
    assert!(text.contains("ACME Materiais"));

    assert_eq!(cli.run(&["tenant", "create", "acme", "--name", "again"]).status.code(), Some(73), "duplicate");
    assert_eq!(cli.run(&["tenant", "create", "Not_Valid", "--name", "x"]).status.code(), Some(65), "invalid slug");
    assert_eq!(cli.run(&["tenant", "create", "www", "--name", "x"]).status.code(), Some(65), "reserved slug");
    assert_eq!(cli.run(&["tenant", "suspend", "nosuch"]).status.code(), Some(66), "unknown tenant");
    assert_eq!(cli.run(&["tenant", "frobnicate"]).status.code(), Some(2), "usage error");

    let suspended = cli.ok_json(&["--json", "tenant", "suspend", "acme"]);
    assert_eq!(suspended["tenant"]["status"], "suspended");
    let resumed = cli.ok_json(&["--json", "tenant", "resume", "acme"]);
    assert_eq!(resumed["tenant"]["status"], "active");

    let pw = std::env::temp_dir().join(format!("bc-pw-{}", std::process::id()));
    std::fs::write(&pw, "a long enough password\n").unwrap();
    let user = cli.ok_json(&["--json", "user", "create", "acme", "Seller@Acme.test", "--role", "seller", "--password-file", pw.to_str().unwrap()]);
    assert_eq!(user["user"]["email"], "seller@acme.test");
    assert!(user["generated_password"].is_null());
    std::fs::write(&pw, "short\n").unwrap();
    let out = cli.run(&["user", "create", "acme", "x@acme.test", "--role", "seller", "--password-file", pw.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
}

#[test]
fn config_errors_exit_78_with_one_line_naming_the_key() {
    let (cli, _db) = Cli::new();
    let out = Command::new(env!("CARGO_BIN_EXE_basecommerce"))
        .args(["migrate"])
        .envs(cli.env.iter().cloned())
        .env("BASECOMMERCE_AUTH__JWT_SECRET", "change_me")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("auth.jwt_secret"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_basecommerce")).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[tokio::test]
async fn tenant_changes_are_announced_on_redis() {
    let (cli, _db) = Cli::new();
    cli.ok_json(&["--json", "migrate"]);
    cli.ok_json(&["--json", "tenant", "create", "acme", "--name", "ACME"]);
    let client = redis::Client::open(harness::services().redis_url()).unwrap();
    let (mut sink, mut stream) = client.get_async_pubsub().await.unwrap().split();
    sink.subscribe(infra::redis::TENANT_CHANGES_CHANNEL).await.unwrap();
    let env = cli.env.clone();
    let suspend = tokio::task::spawn_blocking(move || Cli { env }.ok_json(&["--json", "tenant", "suspend", "acme"]));
    use futures_util::StreamExt;
    let msg = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next()).await.expect("announced within 10 s").unwrap();
    assert_eq!(msg.get_payload::<String>().unwrap(), "acme");
    assert_eq!(suspend.await.unwrap()["invalidation_published"], true);
}

/// refinery records each applied file's checksum; an edited migration must stop `migrate`.
#[tokio::test]
async fn a_changed_migration_is_refused() {
    let (cli, db) = Cli::new();
    cli.ok_json(&["--json", "migrate"]);
    let su = connect(&db.superuser_url).await;
    su.execute("UPDATE refinery_schema_history SET checksum = '12345' WHERE version = 1", &[]).await.unwrap();
    let out = cli.run(&["migrate"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("V1") || err.to_lowercase().contains("divergent") || err.contains("checksum"), "{err}");
}

#[tokio::test]
async fn cert_status_lists_issued_certificates_and_failing_names() {
    let (cli, db) = Cli::new();
    cli.ok_json(&["--json", "migrate"]);
    assert_eq!(cli.ok_json(&["--json", "cert", "status"]), serde_json::json!([]), "nothing issued yet");
    let su = connect(&db.superuser_url).await;
    su.batch_execute(
        "INSERT INTO acme_certificates (name, domains, chain_pem, key_pem, issuer, not_before, not_after) \
           VALUES ('*.example.com', '{*.example.com,example.com}', 'x', 'y', 'CN=Test CA', now(), now() + interval '90 days'); \
         INSERT INTO acme_status (name, failures, last_error, last_attempt_at, next_attempt_at) \
           VALUES ('shop.client.test', 3, 'connection refused', now(), now() + interval '48 minutes')",
    )
    .await
    .unwrap();
    let certs = cli.ok_json(&["--json", "cert", "status"]);
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!((certs[0]["name"].as_str(), certs[0]["issuer"].as_str()), (Some("*.example.com"), Some("CN=Test CA")));
    assert!(certs[0]["not_after"].is_string());
    assert_eq!((certs[1]["name"].as_str(), certs[1]["failures"].as_i64()), (Some("shop.client.test"), Some(3)));
    assert_eq!(certs[1]["last_error"], "connection refused");
    let table = cli.run(&["cert", "status"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("NOT AFTER") && table.contains("connection refused (failures 3"), "{table}");
}
