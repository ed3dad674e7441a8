//! Loading, precedence and validation of the whole configuration.

use super::database::{validate_postgres_url, validate_redis_url};
use super::*;

const GOOD_JWT: &str = "3f9a1c7e5b2d48f0a6c3e9b17d524f8e0c6a2b9d4e7f1a3c5b8d0e2f4a6c8e1b";

fn env_none() -> Env {
    Env::prefixed("BASECOMMERCE_TEST_NOTHING_SET_")
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bc-config-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn jwt_secret_rules_name_the_key() {
    assert!(validate_jwt_secret(GOOD_JWT).is_ok());
    for bad in ["change_me", "abc", &"a".repeat(64), &"0123".repeat(16)[..63], &format!("{}zz", &GOOD_JWT[..62])] {
        let err = validate_jwt_secret(bad).unwrap_err();
        assert_eq!(err.key, "auth.jwt_secret", "{bad}");
        assert!(!err.to_string().contains('\n'));
    }
    let err = validate_jwt_secret(&format!("change_me{}", GOOD_JWT)).unwrap_err();
    assert!(err.message.contains("placeholder"));
}

#[test]
fn file_then_env_precedence_and_lists() {
    let d = tmpdir("prec");
    let file = write(
        &d,
        "c.toml",
        &format!("[auth]\njwt_secret = \"{GOOD_JWT}\"\n[vertical]\nlisten = \"127.0.0.1:9001\"\n[proxy]\nbase_domains = [\"example.com\"]\n"),
    );
    let s = Settings::load_from(Some(&file), None, env_none()).unwrap();
    assert_eq!(s.vertical.listen.port(), 9001);
    assert_eq!(s.proxy.base_domains, vec!["example.com"]);
    assert_eq!(s.engines.stream, "events:construction");

    let prefix = format!("BCT{}_", std::process::id());
    std::env::set_var(format!("{prefix}VERTICAL__LISTEN"), "127.0.0.1:9002");
    std::env::set_var(format!("{prefix}PROXY__BASE_DOMAINS"), "[a.com,staging.a.com]");
    let s = Settings::load_from(Some(&file), None, Env::prefixed(&prefix)).unwrap();
    assert_eq!(s.vertical.listen.port(), 9002);
    assert_eq!(s.proxy.base_domains, vec!["a.com", "staging.a.com"]);
}

#[test]
fn acme_needs_an_email_accepted_terms_and_a_token_for_dns01() {
    let mut s = Settings::default();
    s.acme.enabled = true;
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.email");
    s.acme.email = Some("ops@example.com".into());
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.accept_terms");
    s.acme.accept_terms = true;
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.key_encryption_key", "private keys are never stored unsealed");
    s.acme.key_encryption_key = Some(Secret::new("ab".repeat(31)));
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.key_encryption_key", "a short key is refused");
    s.acme.key_encryption_key = Some(Secret::new("zz".repeat(32)));
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.key_encryption_key", "a key that is not hex is refused");
    s.acme.key_encryption_key = Some(Secret::new("ab".repeat(32)));
    s.acme.validate().unwrap();
    s.acme.dns_provider = Some("digitalocean".into());
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.dns_token");
    s.acme.dns_token = Some(Secret::new("dop_v1_abc"));
    s.acme.validate().unwrap();
    s.acme.dns_provider = Some("route53".into());
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.dns_provider");
    s.acme.dns_provider = None;
    s.acme.directory_url = "http://insecure.example/dir".into();
    assert_eq!(s.acme.validate().unwrap_err().key, "acme.directory_url");
}

#[test]
fn credentials_directory_supplies_secrets() {
    let d = tmpdir("cred");
    write(&d, "auth.jwt_secret", &format!("{GOOD_JWT}\n"));
    write(&d, "database.url", "postgres://app:pw@db.internal:25060/basecommerce?sslmode=require");
    let s = Settings::load_from(None, Some(&d), env_none()).unwrap();
    assert_eq!(s.require_jwt_secret().unwrap().expose(), GOOD_JWT);
    assert!(s.require_database_url().unwrap().expose().contains("sslmode=require"));
    assert!(!format!("{s:?}").contains("pw@"), "secrets must not appear in Debug output");
}

#[test]
fn bad_values_are_one_line_errors_naming_the_key() {
    let d = tmpdir("bad");
    let cases = [
        ("[auth]\njwt_secret = \"change_me\"\n", "auth.jwt_secret"),
        ("[database]\nurl = \"mysql://x\"\n", "database.url"),
        ("[database]\nurl = \"postgres://x/y?sslmode=bogus\"\n", "database.url"),
        ("[redis]\nurl = \"http://localhost\"\n", "redis.url"),
        ("[vertical]\nlisten = \"not an address\"\n", "vertical.listen"),
        ("[vertical]\nlisten_port = 1\n", "vertical.listen_port"),
        ("[edge]\nsecret = \"short\"\n", "edge.secret"),
    ];
    for (i, (body, key)) in cases.iter().enumerate() {
        let f = write(&d, &format!("{i}.toml"), body);
        let err = Settings::load_from(Some(&f), None, env_none()).unwrap_err();
        assert_eq!(&err.key, key, "{body} -> {err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn missing_secret_is_named_when_required() {
    let s = Settings::load_from(None, None, env_none()).unwrap();
    let err = s.require_jwt_secret().unwrap_err();
    assert_eq!(err.key, "auth.jwt_secret");
    assert!(err.message.contains("BASECOMMERCE_AUTH__JWT_SECRET"));
}

/// The documented example must stay loadable: every key in it exists, every value parses.
#[test]
fn example_config_is_valid() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("basecommerce.example.toml");
    let s = Settings::load_from(Some(&example), None, env_none()).unwrap();
    let defaults = Settings::default();
    assert_eq!(s.vertical.listen, defaults.vertical.listen);
    assert_eq!(s.engines.stream, defaults.engines.stream);
    assert_eq!(s.auth.lockout_threshold, 5);
}

#[test]
fn managed_service_urls_are_accepted() {
    validate_postgres_url("database.url", "postgresql://doadmin:x@db-postgresql-fra1-1.b.db.ondigitalocean.com:25060/defaultdb?sslmode=require").unwrap();
    validate_redis_url("redis.url", "rediss://default:x@db-redis-fra1-1.b.db.ondigitalocean.com:25061").unwrap();
}
