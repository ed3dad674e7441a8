//! Security probe generated from the vertical's own OpenAPI document. For every operation:
//!
//! * **cross-tenant** — tenant B's token on B's host, aimed at tenant A's ids (in the path and in
//!   every id field of the body): refused, and no response of B's ever contains A's ids or names;
//!   A's rows are byte-for-byte unchanged afterwards;
//! * **authentication** — A's host and ids with no token, an expired token, a token signed with
//!   another key, an `alg: none` token, A's token under B's `X-Tenant-Slug`, and no or a wrong
//!   edge secret (a caller going around the proxy), and the token of an admin deactivated
//!   since (revocation takes effect on the next request): all refused;
//! * **before the body** — login under a non-canonical path (`/auth/login/`, `//auth/login`)
//!   does not exist, and an anonymous upload is refused before its body is sent;
//! * **Redis** — each service's own ACL user is refused what its service does not do.
//!
//! Every probe is listed in a Markdown report (`$CARGO_TARGET_TMPDIR/security-probe.md`).

use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};
use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use infra::redis::acl::RedisService;
use reqwest::Method;
use serde_json::{json, Map, Value};
use stack::{Session, Stack};

/// A's resources, by the name their ids go by.
struct Victim {
    ids: BTreeMap<&'static str, String>,
    /// Strings that only A's data contains.
    markers: Vec<String>,
}

async fn seed(a: &Session) -> Victim {
    let pid = a.product("ALPHA-SECRET-CEMENT", "10.00").await;
    let (cid, sid) = a.client_with_site("12.345.678/0001-90", "Campinas", "13010-000").await;
    let quote = a.post("/api/v1/quotes", json!({"client_id": cid, "site_id": sid, "items": [{"product_id": pid, "quantity": "2"}]})).await;
    let qid = quote["id"].as_str().unwrap().to_owned();
    let oid = a.order(&cid, &sid, &[(&pid, "1")]).await;
    let supplier = a.post("/api/v1/suppliers", json!({"name": "Alpha Secret Supplier", "lead_time_days": 5})).await;
    let supid = supplier["id"].as_str().unwrap().to_owned();
    a.post(&format!("/api/v1/suppliers/{supid}/prices"), json!({"product_id": pid, "price": "7.50"})).await;
    let user = a
        .post("/api/v1/users", json!({"email": "seller@alpha-secret.test", "name": "Alpha Seller", "password": "a-long-enough-password-1", "role": "seller"}))
        .await;
    let uid = user["id"].as_str().unwrap().to_owned();
    let ids = BTreeMap::from([("client", cid), ("site", sid), ("product", pid), ("quote", qid), ("order", oid), ("supplier", supid), ("user", uid)]);
    let mut markers: Vec<String> = ids.values().cloned().collect();
    markers.extend(["ALPHA-SECRET-CEMENT", "Alpha Secret Supplier", "alpha-secret.test", "Client 12.345.678/0001-90"].map(String::from));
    Victim { ids, markers }
}

/// The id a path parameter stands for, from the parameter's name and the path's resource.
fn path_value(path: &str, param: &str, v: &Victim) -> String {
    let resource = |name: &str| v.ids.get(name).cloned().unwrap_or_default();
    match param {
        "quote_id" => resource("quote"),
        "product_id" => resource("product"),
        "action" => "approve".into(),
        _ => {
            let segment = path.trim_start_matches("/api/v1/").split('/').next().unwrap_or("");
            resource(segment.trim_end_matches('s'))
        }
    }
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r.strip_prefix("#/components/schemas/").and_then(|n| spec["components"]["schemas"].get(n)).unwrap_or(schema),
        None => schema,
    }
}

/// A plausible value for a body field: A's ids wherever an id goes, sensible literals elsewhere.
fn field_value(spec: &Value, name: &str, schema: &Value, v: &Victim) -> Value {
    let schema = resolve(spec, schema);
    if let Some(first) = schema.get("enum").and_then(|e| e.as_array()).and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(options) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        if let Some(o) = options.iter().find(|o| o.get("type") != Some(&json!("null"))) {
            return field_value(spec, name, o, v);
        }
    }
    if let Some(resource) = name.strip_suffix("_id") {
        return json!(v.ids.get(resource).cloned().unwrap_or_default());
    }
    match name {
        "items" => json!([{"product_id": v.ids["product"], "quantity": "1"}]),
        "email" => json!("probe@bravo.test"),
        "password" => json!("a-long-enough-password-2"),
        "document" => json!("98.765.432/0001-10"),
        "postal_code" => json!("13010-000"),
        "status" => json!("cancelled"),
        _ => {
            let ty = schema.get("type").map(|t| if let Some(a) = t.as_array() { a[0].clone() } else { t.clone() });
            match ty.as_ref().and_then(Value::as_str) {
                Some("integer") | Some("number") => json!(1),
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                _ if name.contains("price") || name.contains("quantity") || name.contains("percent") => json!("1"),
                _ => json!("probe"),
            }
        }
    }
}

/// The body of an operation: every required field, plus every field that can carry an id.
fn body_for(spec: &Value, op: &Value, v: &Victim) -> Option<Value> {
    let schema = op["requestBody"]["content"]["application/json"].get("schema")?;
    let schema = resolve(spec, schema);
    let required: Vec<&str> = schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut body = Map::new();
    for (name, prop) in schema["properties"].as_object().into_iter().flatten() {
        if required.contains(&name.as_str()) || name.ends_with("_id") || name == "items" {
            body.insert(name.clone(), field_value(spec, name, prop, v));
        }
    }
    Some(Value::Object(body))
}

/// One request as a probe sends it.
struct Probe<'a> {
    stack: &'a Stack,
    slug: &'a str,
    token: Option<String>,
    edge: Option<String>,
}

impl Probe<'_> {
    async fn send(&self, method: &Method, path: &str, body: Option<&Value>) -> (u16, String) {
        let mut rb = self.stack.http.request(method.clone(), format!("http://{}{path}", self.stack.vertical)).header(TENANT_SLUG_HEADER, self.slug);
        if let Some(e) = &self.edge {
            rb = rb.header(EDGE_SECRET_HEADER, e);
        }
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t).header("x-requested-with", "probe");
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// Tokens an attacker might try, derived from A's real one.
fn forged_tokens(real: &str, key: &str) -> Vec<(&'static str, String)> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims: Value = serde_json::from_slice(&b64.decode(real.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let sign =
        |claims: &Value, key: &[u8]| jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &jsonwebtoken::EncodingKey::from_secret(key)).unwrap();
    let mut expired = claims.clone();
    expired["iat"] = json!(claims["iat"].as_i64().unwrap() - 7200);
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 3600);
    let none = format!("{}.{}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#), b64.encode(claims.to_string()));
    vec![
        ("expired token", sign(&expired, key.as_bytes())),
        ("token signed with another key", sign(&claims, stack::random_hex(32).as_bytes())),
        ("alg: none token", none),
    ]
}

/// A's rows, as one digest per table (to prove nothing of A's changed).
async fn fingerprint(stack: &Stack, tenant: uuid::Uuid) -> BTreeMap<&'static str, String> {
    let db = stack.superuser().await;
    let mut out = BTreeMap::new();
    for table in ["clients", "sites", "products", "quotes", "quote_items", "orders", "order_items", "suppliers", "supplier_prices", "users", "stock_levels"] {
        let sql = format!("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {table} t WHERE tenant_id = $1");
        out.insert(table, db.query_one(&sql, &[&tenant]).await.unwrap().get::<_, String>(0));
    }
    out
}

#[tokio::test]
async fn no_endpoint_lets_one_tenant_or_a_forged_caller_reach_another_tenants_data() {
    let stack = Stack::start().await;
    let a = stack.tenant("alpha").await;
    let b = stack.tenant("bravo").await;
    let victim = seed(&a).await;
    let edge = stack.settings.edge.secret.as_ref().unwrap().expose().to_owned();
    let spec: Value = stack
        .http
        .get(format!("http://{}/api/openapi.json", stack.vertical))
        .header(EDGE_SECRET_HEADER, &edge)
        .header(TENANT_SLUG_HEADER, "alpha")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = stack.settings.auth.jwt_secret.as_ref().unwrap().expose().to_owned();
    let revoked = revoked_admin_token(&a).await;
    let before = fingerprint(&stack, a.tenant_id).await;

    let mut report = String::from("| probe | operation | status | verdict |\n|---|---|---|---|\n");
    let mut failures = Vec::new();
    let mut operations = 0;
    let public = ["/auth/login", "/auth/refresh", "/auth/logout"];
    for (path, item) in spec["paths"].as_object().unwrap() {
        if public.contains(&path.as_str()) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            operations += 1;
            let mut concrete = path.clone();
            for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path") {
                let name = p["name"].as_str().unwrap();
                concrete = concrete.replace(&format!("{{{name}}}"), &path_value(path, name, &victim));
            }
            let body = body_for(&spec, op, &victim);
            let names_a = path.contains('{') || body.as_ref().is_some_and(|b| victim.ids.values().any(|id| b.to_string().contains(id.as_str())));
            let operation = format!("`{method} {path}`");

            // Tenant B against A's resources.
            let as_b = Probe { stack: &stack, slug: "bravo", token: Some(b.token.clone()), edge: Some(edge.clone()) };
            let (status, text) = as_b.send(&method, &concrete, body.as_ref()).await;
            // Echoing back an id B itself sent is not a leak; anything else of A's is.
            let sent = format!("{concrete} {}", body.as_ref().map(Value::to_string).unwrap_or_default());
            let leaked: Vec<&String> = victim.markers.iter().filter(|m| text.contains(m.as_str()) && !sent.contains(m.as_str())).collect();
            let refused = !(200..300).contains(&status);
            let verdict = match (leaked.is_empty(), refused || !names_a) {
                (true, true) => {
                    if refused {
                        "refused"
                    } else {
                        "own data only"
                    }
                }
                (false, _) => "LEAK",
                (true, false) => "ACCEPTED A's ids",
            };
            if verdict == "LEAK" || verdict == "ACCEPTED A's ids" {
                failures.push(format!("tenant B {operation}: {status} {verdict} {leaked:?} {text}"));
            }
            writeln!(report, "| tenant B on A's ids | {operation} | {status} | {verdict} |").unwrap();

            // Forged or missing credentials against A's own host and ids.
            let mut attempts: Vec<(&str, Probe)> = vec![
                ("no token", Probe { stack: &stack, slug: "alpha", token: None, edge: Some(edge.clone()) }),
                ("A's token on B's host", Probe { stack: &stack, slug: "bravo", token: Some(a.token.clone()), edge: Some(edge.clone()) }),
                ("no edge secret", Probe { stack: &stack, slug: "alpha", token: Some(a.token.clone()), edge: None }),
                ("wrong edge secret", Probe { stack: &stack, slug: "alpha", token: Some(a.token.clone()), edge: Some(stack::random_hex(32)) }),
            ];
            attempts.push(("revoked token", Probe { stack: &stack, slug: "alpha", token: Some(revoked.clone()), edge: Some(edge.clone()) }));
            for (what, token) in forged_tokens(&a.token, &key) {
                attempts.push((what, Probe { stack: &stack, slug: "alpha", token: Some(token), edge: Some(edge.clone()) }));
            }
            for (what, probe) in attempts {
                let (status, text) = probe.send(&method, &concrete, body.as_ref()).await;
                let ok = matches!(status, 401 | 403) && victim.markers.iter().all(|m| !text.contains(m.as_str()));
                if !ok {
                    failures.push(format!("{what} {operation}: {status} {text}"));
                }
                writeln!(report, "| {what} | {operation} | {status} | {} |", if ok { "refused" } else { "NOT REFUSED" }).unwrap();
            }
        }
    }
    for (what, operation, status, ok) in before_the_body(&stack, &edge).await {
        if !ok {
            failures.push(format!("{what} {operation}: {status}"));
        }
        writeln!(report, "| {what} | {operation} | {status} | {} |", if ok { "refused" } else { "NOT REFUSED" }).unwrap();
    }
    let after = fingerprint(&stack, a.tenant_id).await;
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("security-probe.md");
    std::fs::write(&path, format!("# Security probe\n\n{operations} operations from the OpenAPI document; {} failures.\n\n{report}", failures.len())).unwrap();
    println!("security probe report: {}", path.display());

    assert!(operations >= 40, "the probe covers the whole API ({operations} operations)");
    assert!(failures.is_empty(), "{} probe failures:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(before, after, "tenant A's rows are unchanged after every probe");
}

/// The token of a second admin of A, taken before A's first admin deactivated them.
async fn revoked_admin_token(a: &Session) -> String {
    let email = "second-admin@alpha.test";
    let password = "a-long-enough-password-3";
    let user = a.post("/api/v1/users", json!({"email": email, "name": "Second Admin", "password": password, "role": "admin"})).await;
    let mut anonymous = a.clone();
    anonymous.token = String::new();
    let (status, login) = anonymous.call(Method::POST, "/auth/login", Some(json!({"email": email, "password": password}))).await;
    assert_eq!(status, 200, "{login}");
    let (status, body) = a.call(Method::PATCH, &format!("/api/v1/users/{}", user["id"].as_str().unwrap()), Some(json!({"active": false}))).await;
    assert_eq!(status, 200, "{body}");
    login["access_token"].as_str().unwrap().to_owned()
}

/// Login under non-canonical spellings of its path (which the edge's login budget once missed)
/// and an anonymous upload whose body is never sent: the answer must come without the body.
async fn before_the_body(stack: &Stack, edge: &str) -> Vec<(&'static str, String, u16, bool)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut out = Vec::new();
    for path in ["/auth/login/", "//auth/login", "/auth//login"] {
        let resp = stack
            .http
            .post(format!("http://{}{path}", stack.vertical))
            .header(EDGE_SECRET_HEADER, edge)
            .header(TENANT_SLUG_HEADER, "alpha")
            .json(&json!({"email": "admin@alpha.test", "password": stack::PASSWORD}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        out.push(("non-canonical login path", format!("`POST {path}`"), status, status == 404));
    }
    let mut conn = tokio::net::TcpStream::connect(stack.vertical).await.unwrap();
    let head = format!(
        "PUT /api/v1/branding/logo HTTP/1.1\r\nHost: alpha\r\nx-basecommerce-edge: {edge}\r\nx-tenant-slug: alpha\r\n\
         Content-Type: image/png\r\nContent-Length: 10000000\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 12];
    let answered = tokio::time::timeout(std::time::Duration::from_secs(5), conn.read_exact(&mut buf)).await;
    let status = match answered {
        Ok(Ok(_)) => String::from_utf8_lossy(&buf[9..12]).parse().unwrap_or(0),
        _ => 0,
    };
    out.push(("anonymous upload body", "`PUT /api/v1/branding/logo` (body never sent)".to_string(), status, status == 401));
    out
}

/// Issue 15, finding 7: each service's Redis user is refused every command, key and channel its
/// service does not use — a compromised proxy or vertical cannot forge, read or trim events, the
/// relay cannot consume them, nobody but the administrator can flush or reconfigure Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_redis_user_is_refused_what_its_service_does_not_do() {
    let stack = Stack::start().await;
    let e = &stack.settings.engines;
    let (stream, dlq) = (e.stream.as_str(), e.dlq_stream.as_str());
    let (tenants, users) = (infra::redis::TENANT_CHANGES_CHANNEL, infra::redis::USER_CHANGES_CHANNEL);
    let group = e.group.as_str();
    let forged = vec!["XADD", stream, "*", "type", "stock.received", "event", "{}"];
    let read_group = vec!["XREADGROUP", "GROUP", group, "c", "COUNT", "1", "STREAMS", stream, ">"];
    let everyone = [vec!["FLUSHALL"], vec!["CONFIG", "GET", "requirepass"], vec!["KEYS", "*"], vec!["ACL", "LIST"]];
    let refused = [
        (RedisService::Proxy, vec![forged.clone(), vec!["XRANGE", stream, "-", "+"], vec!["PUBLISH", tenants, "acme"], vec!["SUBSCRIBE", users]]),
        (RedisService::Vertical, vec![forged.clone(), vec!["XRANGE", stream, "-", "+"], vec!["PUBLISH", tenants, "acme"], vec!["GET", "x"]]),
        (RedisService::Relay, vec![read_group.clone(), vec!["XACK", stream, group, "0-1"], vec!["XADD", dlq, "*", "a", "b"], vec!["PUBLISH", users, "x"]]),
        (
            RedisService::Worker,
            vec![vec!["XTRIM", stream, "MAXLEN", "0"], vec!["XADD", "events:another-install", "*", "a", "b"], vec!["PUBLISH", users, "x"], vec!["DEL", stream]],
        ),
    ];
    for (service, commands) in refused {
        let url = &stack.redis_users[&service];
        let mut conn = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
        let () = redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).unwrap_or_else(|e| panic!("{service:?} may ping: {e}"));
        for args in commands.into_iter().chain(everyone.clone()) {
            let mut cmd = redis::cmd(args[0]);
            cmd.arg(&args[1..]);
            let answer: redis::RedisResult<redis::Value> = cmd.query_async(&mut conn).await;
            let err = answer.expect_err(&format!("{service:?} must not run {args:?}"));
            assert!(err.to_string().to_ascii_uppercase().contains("NOPERM"), "{service:?} {args:?}: refused by the ACL, not by chance: {err}");
        }
    }
    // And what each does is allowed: the relay appends, the worker reads its group.
    let mut relay = redis::Client::open(stack.redis_users[&RedisService::Relay].as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("XADD").arg(stream).arg("*").arg("type").arg("t").query_async(&mut relay).await.unwrap();
    let mut worker = redis::Client::open(stack.redis_users[&RedisService::Worker].as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    infra::bus::ensure_group(&mut worker, e).await.unwrap();
    let _: redis::Value = redis::cmd(read_group[0]).arg(&read_group[1..]).query_async(&mut worker).await.unwrap();
}
