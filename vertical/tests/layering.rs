//! The vertical's layers, checked on its source: services own the SQL and know nothing of HTTP
//! or HTML; the JSON handlers (`routes`) and the pages (`ui`) are adapters over them and never
//! reach each other's or the OpenAPI document's code, so there is no import loop between
//! `routes`, `ui` and `docs` (only `router` and `docs` see the handlers).

use std::path::{Path, PathBuf};

fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// Lines of `dir` that mention any of `needles`, as `file:line: text`.
fn offending(dir: &str, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for (path, text) in sources(dir) {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|w| code.contains(w)) {
                hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    hits
}

/// SQL keywords as they appear in statements (upper case, followed by a space).
const SQL: &[&str] = &["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "set_config("];

#[test]
fn route_handlers_hold_no_sql() {
    let hits = offending("routes", SQL);
    assert!(hits.is_empty(), "SQL belongs in the services:\n{}", hits.join("\n"));
}

#[test]
fn pages_hold_no_sql_and_never_call_the_json_handlers() {
    let hits = offending("ui", &[SQL, &["crate::routes", "crate::docs", "crate::router"]].concat());
    assert!(hits.is_empty(), "pages call services, not handlers:\n{}", hits.join("\n"));
}

#[test]
fn handlers_never_reach_the_openapi_document() {
    let hits = offending("routes", &["crate::docs", "crate::router"]);
    assert!(hits.is_empty(), "handlers must not depend on docs/router (import loop):\n{}", hits.join("\n"));
}

#[test]
fn services_know_nothing_of_http_or_html() {
    for dir in ["people", "catalog", "sales", "insights", "domain"] {
        let hits = offending(dir, &["crate::routes", "crate::ui", "crate::docs", "crate::router", "crate::http", "crate::error", "ApiError", "HttpResponse"]);
        assert!(hits.is_empty(), "services return DomainError and typed values:\n{}", hits.join("\n"));
    }
}

#[test]
fn only_infra_binds_a_tenant() {
    for dir in ["routes", "ui", "people", "catalog", "sales", "insights", "auth"] {
        let hits = offending(dir, &["set_config(", "tenant_transaction("]);
        assert!(hits.is_empty(), "bind tenants with AppState::tenant_tx / infra::db::TenantTx:\n{}", hits.join("\n"));
    }
}
