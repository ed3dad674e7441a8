//! Issue 15, finding 10: what the application role may do in the database, read from the
//! catalogs after all migrations and compared with an allow-list, plus the attacks a
//! compromised service would try with it. A new grant fails here until it is added on purpose.

use std::collections::BTreeSet;

use stack::{connect, TestApp};

/// Tables the services read and write (row-level security scopes each to one tenant).
const READ_WRITE: &[&str] = &[
    "clients",
    "complementary_suggestions",
    "delivery_routes",
    "delivery_stops",
    "event_outbox",
    "order_items",
    "orders",
    "price_history",
    "processed_events",
    "products",
    "quote_items",
    "quotes",
    "refresh_tokens",
    "replenishment_suggestions",
    "sale_facts",
    "sites",
    "stock_alerts",
    "stock_levels",
    "stock_movements",
    "stored_files",
    "supplier_price_alerts",
    "supplier_prices",
    "suppliers",
    "tenant_counters",
    "users",
];
/// Tables the services only read: readiness compares migration versions; tenants change only
/// through the owner (the CLI).
const READ_ONLY: &[&str] = &["refinery_schema_history", "tenants"];
/// Sequences behind the services' `bigserial` ids (inserting takes a number).
const SEQUENCES: &[&str] = &["event_outbox_id_seq", "price_history_id_seq"];
/// The readable columns of `tenant_domains` (not `verification_token`).
const DOMAIN_COLUMNS: &[&str] = &["created_at", "domain", "id", "tenant_id", "verified", "verified_at"];

fn set(rows: Vec<tokio_postgres::Row>) -> BTreeSet<String> {
    rows.iter().map(|r| r.get::<_, String>(0)).collect()
}

#[tokio::test]
async fn the_app_role_holds_exactly_the_allow_listed_privileges() {
    let app = TestApp::spawn().await;
    let su = app.superuser().await;

    let tables = su
        .query(
            "SELECT c.relname || ' ' || a.privilege_type FROM pg_class c, aclexplode(c.relacl) a \
             WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = 'basecommerce_app'::regrole",
            &[],
        )
        .await
        .unwrap();
    let mut expected = BTreeSet::new();
    for t in READ_WRITE {
        for p in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
            expected.insert(format!("{t} {p}"));
        }
    }
    expected.extend(READ_ONLY.iter().map(|t| format!("{t} SELECT")));
    expected.extend(SEQUENCES.iter().flat_map(|s| [format!("{s} SELECT"), format!("{s} USAGE")]));
    assert_eq!(set(tables), expected, "table and sequence privileges of basecommerce_app");

    let columns = su
        .query(
            "SELECT c.relname || '.' || at.attname || ' ' || a.privilege_type \
             FROM pg_attribute at JOIN pg_class c ON c.oid = at.attrelid, aclexplode(at.attacl) a \
             WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = 'basecommerce_app'::regrole",
            &[],
        )
        .await
        .unwrap();
    let expected: BTreeSet<String> = DOMAIN_COLUMNS.iter().map(|c| format!("tenant_domains.{c} SELECT")).collect();
    assert_eq!(set(columns), expected, "column privileges of basecommerce_app");

    let defaults = su
        .query(
            "SELECT d.defaclobjtype::text || ' ' || a.privilege_type FROM pg_default_acl d, aclexplode(d.defaclacl) a \
             WHERE a.grantee = 'basecommerce_app'::regrole",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(set(defaults), BTreeSet::new(), "no privileges on future tables by default");

    // Attributes: the app role and its login roles can do nothing beyond their grants, and the
    // schema owner cannot create roles (install.sh creates them as the superuser).
    let owner: String = su.query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = 'users'", &[]).await.unwrap().get(0);
    let powerful = su
        .query(
            "SELECT rolname::text FROM pg_roles \
             WHERE (rolname = $1 OR rolname = 'basecommerce_app' \
                    OR oid IN (SELECT member FROM pg_auth_members WHERE roleid = 'basecommerce_app'::regrole)) \
               AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication)",
            &[&owner],
        )
        .await
        .unwrap();
    assert_eq!(set(powerful), BTreeSet::new(), "roles with attributes beyond their grants");
}

#[tokio::test]
async fn a_compromised_service_cannot_rewrite_history_tenants_or_read_domain_proofs() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let beta = app.tenant("beta").await;
    let su = app.superuser().await;
    su.execute("INSERT INTO tenant_domains (tenant_id, domain) VALUES ($1, 'shop.beta.test')", &[&beta.id]).await.unwrap();

    let db = connect(&app.db.app_url).await;
    // Bound to acme, as the services are.
    db.batch_execute(&format!("SET app.tenant_id = '{}'", acme.id)).await.unwrap();
    let denied = |r: Result<u64, tokio_postgres::Error>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{what}: {e}");
    };
    denied(db.execute("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 7", &[]).await, "rewrite migration history");
    denied(db.execute("DELETE FROM refinery_schema_history WHERE version = 7", &[]).await, "delete migration history");
    denied(db.execute("UPDATE tenants SET name = 'pwned', logo_url = 'https://evil.test/x.png' WHERE slug = 'beta'", &[]).await, "rebrand another tenant");
    denied(db.execute("UPDATE tenants SET status = 'suspended' WHERE slug = 'beta'", &[]).await, "suspend another tenant");
    denied(db.query("SELECT verification_token FROM tenant_domains", &[]).await.map(|r| r.len() as u64), "read domain proofs");
    // What the edge needs still works.
    let owner: i64 = db.query_one("SELECT count(*) FROM tenant_domains WHERE domain = 'shop.beta.test' AND NOT verified", &[]).await.unwrap().get(0);
    assert_eq!(owner, 1);

    // A table a later migration adds is not the application's until granted.
    let owner_db = connect(&app.db.owner_url).await;
    owner_db.batch_execute("CREATE TABLE later_table (id int)").await.unwrap();
    denied(db.query("SELECT * FROM later_table", &[]).await.map(|r| r.len() as u64), "read a table nobody granted");
}

/// What the edge's role may do: look tenants and verified domains up, keep its certificates.
#[tokio::test]
async fn the_edge_role_holds_exactly_its_allow_list() {
    let app = TestApp::spawn().await;
    let su = app.superuser().await;
    let privileges = |sql: &'static str| {
        let su = &su;
        async move { set(su.query(sql, &[]).await.unwrap()) }
    };
    let tables = privileges(
        "SELECT c.relname || ' ' || a.privilege_type FROM pg_class c, aclexplode(c.relacl) a \
         WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = 'basecommerce_edge'::regrole",
    )
    .await;
    let mut expected = BTreeSet::new();
    for t in ["acme_accounts", "acme_certificates", "acme_challenges", "acme_status"] {
        for p in ["SELECT", "INSERT", "UPDATE", "DELETE"] {
            expected.insert(format!("{t} {p}"));
        }
    }
    assert_eq!(tables, expected, "table privileges of basecommerce_edge");
    let columns = privileges(
        "SELECT c.relname || '.' || at.attname || ' ' || a.privilege_type \
         FROM pg_attribute at JOIN pg_class c ON c.oid = at.attrelid, aclexplode(at.attacl) a \
         WHERE c.relnamespace = 'public'::regnamespace AND a.grantee = 'basecommerce_edge'::regrole",
    )
    .await;
    let expected: BTreeSet<String> = [
        "tenants.id",
        "tenants.slug",
        "tenants.status",
        "tenants.created_at",
        "tenant_domains.id",
        "tenant_domains.tenant_id",
        "tenant_domains.domain",
        "tenant_domains.verified",
        "tenant_domains.verified_at",
    ]
    .iter()
    .map(|c| format!("{c} SELECT"))
    .collect();
    assert_eq!(columns, expected, "column privileges of basecommerce_edge");
}

/// A compromised vertical or worker cannot reach the certificates; a compromised proxy cannot
/// bind a domain, touch a tenant or read business data.
#[tokio::test]
async fn neither_side_can_cross_into_the_others_secrets() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("acme").await;
    let su = app.superuser().await;
    su.batch_execute(
        "INSERT INTO acme_certificates (name, domains, chain_pem, key_pem, issuer, not_before, not_after) \
         VALUES ('*.example.com', '{*.example.com}', 'chain', 'key', 'CA', now(), now() + interval '90 days')",
    )
    .await
    .unwrap();
    let denied = |r: Result<u64, tokio_postgres::Error>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{what}: {e}");
    };

    let vertical = connect(&app.db.app_url).await;
    vertical.batch_execute(&format!("SET app.tenant_id = '{}'", acme.id)).await.unwrap();
    denied(vertical.query("SELECT key_pem FROM acme_certificates", &[]).await.map(|r| r.len() as u64), "app reads a private key");
    denied(vertical.query("SELECT credentials FROM acme_accounts", &[]).await.map(|r| r.len() as u64), "app reads the ACME account key");
    denied(
        vertical.execute("INSERT INTO acme_challenges (token, key_authorization, expires_at) VALUES ('t', 't.k', now() + interval '1 hour')", &[]).await,
        "app plants an HTTP-01 answer",
    );

    let edge = connect(&app.db.edge_url).await;
    let active: i64 = edge.query_one("SELECT count(*) FROM tenants WHERE slug = 'acme' AND status = 'active'", &[]).await.unwrap().get(0);
    assert_eq!(active, 1, "the edge looks tenants up");
    let keys: i64 = edge.query_one("SELECT count(*) FROM acme_certificates WHERE key_pem = 'key'", &[]).await.unwrap().get(0);
    assert_eq!(keys, 1, "the edge reads its certificates");
    denied(
        edge.execute("INSERT INTO tenant_domains (tenant_id, domain, verified) VALUES ($1, 'evil.test', true)", &[&acme.id]).await,
        "edge binds a domain to a tenant",
    );
    denied(edge.execute("UPDATE tenant_domains SET verified = true", &[]).await, "edge verifies a domain");
    denied(edge.execute("UPDATE tenants SET status = 'suspended'", &[]).await, "edge suspends a tenant");
    denied(edge.query("SELECT verification_token FROM tenant_domains", &[]).await.map(|r| r.len() as u64), "edge reads domain proofs");
    denied(edge.query("SELECT email FROM users", &[]).await.map(|r| r.len() as u64), "edge reads users");
    denied(edge.query("SELECT * FROM event_outbox", &[]).await.map(|r| r.len() as u64), "edge reads the outbox");
}
