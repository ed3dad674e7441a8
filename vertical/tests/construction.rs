//! The dealer's business through the real API on a real PostgreSQL: quote → order → delivery
//! with exact totals, idempotent conversion under concurrency, gap-free numbering, tenant
//! isolation, outbox events, and bad input.

use std::collections::HashSet;

use basecommerce_vertical::domain::user::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stack::TestApp;

/// A tenant with an admin and a seller token, a client with a site, and two products.
struct Shop {
    slug: String,
    admin: String,
    seller: String,
    client: String,
    site: String,
    cement: String,
    sand: String,
}

async fn shop(app: &TestApp, slug: &str) -> Shop {
    let t = app.tenant(slug).await;
    let seller_email = format!("seller@{slug}.test");
    app.user(slug, &seller_email, Role::Seller).await;
    let admin = app.token(slug, &t.admin_email).await;
    let seller = app.token(slug, &seller_email).await;
    let (s, client) = app
        .call(
            Method::POST,
            slug,
            &seller,
            "/api/v1/clients",
            Some(json!({"kind": "company", "name": "Construtora Alfa", "document": "12.345.678/0001-90", "city": "Campinas", "postal_code": "13010-000"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{client}");
    let (s, site) = app
        .call(
            Method::POST,
            slug,
            &seller,
            "/api/v1/sites",
            Some(json!({"client_id": client["id"], "name": "Obra Centro", "city": "Campinas", "postal_code": "13010-100"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let (s, cement) = app
        .call(
            Method::POST,
            slug,
            &admin,
            "/api/v1/products",
            Some(json!({"code": "CIM-50", "name": "Cimento CP-II 50kg", "unit": "UN", "base_price": "32.90"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cement}");
    let (s, sand) = app
        .call(Method::POST, slug, &admin, "/api/v1/products", Some(json!({"code": "AREIA-M3", "name": "Areia média", "unit": "M3", "base_price": 120})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sand}");
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    Shop { slug: slug.into(), admin, seller, client: id(&client), site: id(&site), cement: id(&cement), sand: id(&sand) }
}

impl Shop {
    fn quote_body(&self) -> Value {
        json!({
            "client_id": self.client, "site_id": self.site, "discount_percent": "5",
            "items": [
                {"product_id": self.cement, "quantity": "10", "discount_percent": "0"},
                {"product_id": self.sand, "quantity": "2.5", "unit_price": "118.50", "discount_percent": "10"}
            ]
        })
    }

    async fn approved_quote(&self, app: &TestApp) -> Value {
        let (s, q) = app.call(Method::POST, &self.slug, &self.seller, "/api/v1/quotes", Some(self.quote_body())).await;
        assert_eq!(s, StatusCode::CREATED, "{q}");
        let id = q["id"].as_str().unwrap();
        for action in ["send", "approve"] {
            let (s, b) = app.call(Method::POST, &self.slug, &self.seller, &format!("/api/v1/quotes/{id}/{action}"), None).await;
            assert_eq!(s, StatusCode::OK, "{action}: {b}");
        }
        q
    }
}

async fn events(app: &TestApp, tenant_slug: &str) -> Vec<(String, Value)> {
    let db = app.superuser().await;
    db.query(
        "SELECT e.event_type, e.payload, e.version FROM event_outbox e JOIN tenants t ON t.id = e.tenant_id WHERE t.slug = $1 ORDER BY e.id",
        &[&tenant_slug],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| {
        assert_eq!(r.get::<_, i32>(2), 1, "integer version");
        (r.get::<_, String>(0), r.get::<_, Value>(1))
    })
    .collect()
}

fn types(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter().map(|(t, _)| t.as_str()).collect()
}

#[tokio::test]
async fn quote_to_delivered_order_with_exact_totals_and_events() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "acme").await;
    let (s, q) = app.call(Method::POST, "acme", &shop.seller, "/api/v1/quotes", Some(shop.quote_body())).await;
    assert_eq!(s, StatusCode::CREATED, "{q}");
    assert_eq!(q["number"], "Q-000001");
    assert_eq!(q["status"], "draft");
    // 10 × 32.90 = 329.00; 2.5 × 118.50 × 0.9 = 266.625 → 266.62 (half-even); Σ 595.62 × 0.95 = 565.839 → 565.84
    assert_eq!(q["items"][0]["unit_price"], "32.90", "defaults to the base price");
    assert_eq!(q["items"][0]["total"], "329.00");
    assert_eq!(q["items"][1]["quantity"], "2.500");
    assert_eq!(q["items"][1]["total"], "266.62");
    assert_eq!(q["subtotal"], "595.62");
    assert_eq!(q["total"], "565.84");
    assert_eq!(q["discount_percent"], "5.00");
    let qid = q["id"].as_str().unwrap();

    let (s, e) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/orders/from-quote/{qid}"), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(e["error"]["code"], "quote_not_approved");
    assert!(e["error"]["message"].as_str().unwrap().contains("draft"), "{e}");

    for (action, status) in [("send", "sent"), ("approve", "approved")] {
        let (s, b) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{qid}/{action}"), None).await;
        assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some(status)), "{b}");
    }
    let (s, b) = app.call(Method::PUT, "acme", &shop.seller, &format!("/api/v1/quotes/{qid}"), Some(shop.quote_body())).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("quote_not_draft")));

    let (s, order) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/orders/from-quote/{qid}"), None).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    assert_eq!(order["number"], "O-000001");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["total"], "565.84");
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    assert_eq!(order["items"][1]["unit_price"], "118.50", "prices frozen from the quote");
    let (s, again) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/orders/from-quote/{qid}"), None).await;
    assert_eq!((s, &again["id"]), (StatusCode::OK, &order["id"]), "a repeat returns the same order");
    let (_, q) = app.call(Method::GET, "acme", &shop.seller, &format!("/api/v1/quotes/{qid}"), None).await;
    assert_eq!((q["status"].as_str(), &q["order_id"]), (Some("converted"), &order["id"]));

    // A price change after conversion does not touch the order.
    let (s, _) = app.call(Method::PATCH, "acme", &shop.admin, &format!("/api/v1/products/{}", shop.cement), Some(json!({"base_price": "35.00"}))).await;
    assert_eq!(s, StatusCode::OK);

    let oid = order["id"].as_str().unwrap();
    let (s, e) = app.call(Method::PATCH, "acme", &shop.seller, &format!("/api/v1/orders/{oid}"), Some(json!({"status": "delivered"}))).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")), "cannot skip steps");
    for status in ["preparing", "out_for_delivery", "delivered"] {
        let (s, b) = app.call(Method::PATCH, "acme", &shop.seller, &format!("/api/v1/orders/{oid}"), Some(json!({"status": status}))).await;
        assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some(status)), "{b}");
    }
    let (s, delivered) = app.call(Method::PATCH, "acme", &shop.seller, &format!("/api/v1/orders/{oid}"), Some(json!({"status": "delivered"}))).await;
    assert_eq!(s, StatusCode::OK, "repeating the current status is a no-op");
    assert!(delivered["delivered_at"].is_string());
    assert_eq!(delivered["total"], "565.84");
    let (s, e) = app.call(Method::PATCH, "acme", &shop.seller, &format!("/api/v1/orders/{oid}"), Some(json!({"status": "cancelled"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, _) = app.call(Method::PATCH, "acme", &shop.seller, &format!("/api/v1/orders/{oid}"), Some(json!({"notes": "late"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "notes are closed after delivery");

    let evs = events(&app, "acme").await;
    assert_eq!(
        types(&evs),
        vec![
            "quote_created",
            "quote_sent",
            "quote_approved",
            "quote_converted",
            "order_created",
            "product_price_changed",
            "order_status_changed",
            "order_status_changed",
            "order_status_changed",
            "sale_recorded"
        ]
    );
    let sale = &evs.iter().find(|(t, _)| t == "sale_recorded").unwrap().1;
    assert_eq!(sale["order_id"], order["id"]);
    assert_eq!(sale["total"], "565.84");
    assert_eq!(sale["site"]["city"], "Campinas");
    assert_eq!(sale["items"][0]["product_id"].as_str(), Some(shop.cement.as_str()));
    assert_eq!(sale["items"][0]["quantity"], "10.000");
    assert_eq!(sale["items"][0]["unit_price"], "32.90");
    assert_eq!(sale["items"][1]["total"], "266.62");
    let created = &evs[0].1;
    assert_eq!(created["total"], "565.84");
    assert_eq!(created["items"].as_array().unwrap().len(), 2);
    let price = &evs.iter().find(|(t, _)| t == "product_price_changed").unwrap().1;
    assert_eq!((price["old_price"].as_str(), price["new_price"].as_str()), (Some("32.90"), Some("35.00")));
    let status = &evs.iter().rfind(|(t, _)| t == "order_status_changed").unwrap().1;
    assert_eq!((status["from"].as_str(), status["to"].as_str()), (Some("out_for_delivery"), Some("delivered")));

    let (s, dash) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/dashboard", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(dash["quotes_today"], 1);
    assert_eq!(dash["orders_today"], 1);
    assert_eq!(dash["revenue_this_month"], "565.84");
    assert_eq!(dash["recent_quotes"][0]["number"], "Q-000001");
}

#[tokio::test]
async fn concurrent_conversions_create_exactly_one_order() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "acme").await;
    let q = shop.approved_quote(&app).await;
    let path = format!("/api/v1/orders/from-quote/{}", q["id"].as_str().unwrap());
    let calls = (0..20).map(|_| app.call(Method::POST, "acme", &shop.seller, &path, None));
    let results = futures_util::future::join_all(calls).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let repeats = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!((created, repeats), (1, 19), "{results:?}");
    let ids: HashSet<&str> = results.iter().map(|(_, b)| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    let n: i64 = app.superuser().await.query_one("SELECT count(*) FROM orders", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    let evs = events(&app, "acme").await;
    assert_eq!(types(&evs).iter().filter(|t| **t == "order_created").count(), 1);
}

#[tokio::test]
async fn concurrent_quote_creation_gets_gap_free_distinct_numbers() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "acme").await;
    // A failed creation (inactive product) must not consume a number.
    let (s, _) = app.call(Method::DELETE, "acme", &shop.admin, &format!("/api/v1/products/{}", shop.sand), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = app.call(Method::POST, "acme", &shop.seller, "/api/v1/quotes", Some(shop.quote_body())).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("items[1].product_id")), "{e}");

    let body = json!({"client_id": shop.client, "items": [{"product_id": shop.cement, "quantity": 1}]});
    let calls = (0..50).map(|_| app.call(Method::POST, "acme", &shop.seller, "/api/v1/quotes", Some(body.clone())));
    let results = futures_util::future::join_all(calls).await;
    let mut numbers: Vec<String> = results
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, StatusCode::CREATED, "{b}");
            b["number"].as_str().unwrap().to_owned()
        })
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=50).map(|n| format!("Q-{n:06}")).collect();
    assert_eq!(numbers, expected);
    let evs = events(&app, "acme").await;
    assert_eq!(types(&evs).iter().filter(|t| **t == "quote_created").count(), 50, "the failed creation left no event");
}

#[tokio::test]
async fn another_tenant_sees_nothing_and_can_reference_nothing() {
    let app = TestApp::spawn().await;
    let a = shop(&app, "alpha").await;
    let b = shop(&app, "beta").await;
    let quote = a.approved_quote(&app).await;
    let qid = quote["id"].as_str().unwrap();
    let (_, order) = app.call(Method::POST, "alpha", &a.seller, &format!("/api/v1/orders/from-quote/{qid}"), None).await;
    let oid = order["id"].as_str().unwrap();
    let (_, supplier) = app.call(Method::POST, "alpha", &a.admin, "/api/v1/suppliers", Some(json!({"name": "Votorantim"}))).await;
    let sid = supplier["id"].as_str().unwrap();

    let resources = [
        format!("/api/v1/clients/{}", a.client),
        format!("/api/v1/sites/{}", a.site),
        format!("/api/v1/products/{}", a.cement),
        format!("/api/v1/quotes/{qid}"),
        format!("/api/v1/orders/{oid}"),
        format!("/api/v1/suppliers/{sid}"),
    ];
    for path in &resources {
        let (s, _) = app.call(Method::GET, "beta", &b.admin, path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "GET {path}");
        let (s, _) = app.call(Method::PATCH, "beta", &b.admin, path, Some(json!({}))).await;
        // Quotes are replaced with PUT: PATCH is no method of theirs (405 before any lookup).
        let expected = if path.contains("/quotes/") { StatusCode::METHOD_NOT_ALLOWED } else { StatusCode::NOT_FOUND };
        assert_eq!(s, expected, "PATCH {path}");
    }
    for path in [&resources[0], &resources[1], &resources[2], &resources[5]] {
        let (s, _) = app.call(Method::DELETE, "beta", &b.admin, path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "DELETE {path}");
    }
    for action in ["send", "approve", "cancel"] {
        let (s, _) = app.call(Method::POST, "beta", &b.seller, &format!("/api/v1/quotes/{qid}/{action}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{action}");
    }
    // References across tenants: B's quote with A's product, client or site; an order from A's quote.
    let cases = [
        json!({"client_id": b.client, "items": [{"product_id": a.cement, "quantity": 1}]}),
        json!({"client_id": a.client, "items": [{"product_id": b.cement, "quantity": 1}]}),
        json!({"client_id": b.client, "site_id": a.site, "items": [{"product_id": b.cement, "quantity": 1}]}),
    ];
    for body in cases {
        let (s, e) = app.call(Method::POST, "beta", &b.seller, "/api/v1/quotes", Some(body.clone())).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body} -> {e}");
    }
    let (s, _) = app.call(Method::POST, "beta", &b.seller, &format!("/api/v1/orders/from-quote/{qid}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call(Method::POST, "beta", &b.seller, "/api/v1/sites", Some(json!({"client_id": a.client, "name": "x"}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call(Method::POST, "beta", &b.admin, "/api/v1/stock/receipts", Some(json!({"product_id": a.cement, "quantity": 5}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.call(Method::POST, "beta", &b.admin, &format!("/api/v1/suppliers/{sid}/prices"), Some(json!({"product_id": b.cement, "price": 10}))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let a_ids: HashSet<String> =
        [&a.client, &a.site, &a.cement, &a.sand].iter().map(|s| s.to_string()).chain([qid.to_string(), oid.to_string(), sid.to_string()]).collect();
    for list in ["clients", "sites", "products", "quotes", "orders", "suppliers", "stock"] {
        let (s, page) = app.call(Method::GET, "beta", &b.admin, &format!("/api/v1/{list}"), None).await;
        assert_eq!(s, StatusCode::OK, "{list}");
        for item in page["items"].as_array().unwrap() {
            let id = item["id"].as_str().or(item["product_id"].as_str()).unwrap();
            assert!(!a_ids.contains(id), "{list} leaked {id}");
        }
    }
    let (_, quotes) = app.call(Method::GET, "beta", &b.admin, "/api/v1/quotes", None).await;
    assert_eq!(quotes["items"].as_array().unwrap().len(), 0);
    assert_eq!(events(&app, "beta").await.len(), 0, "B's refused attempts wrote no events");
}

#[tokio::test]
async fn stock_supplier_and_price_events_land_once_each() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "acme").await;
    let (s, sup) = app.call(Method::POST, "acme", &shop.admin, "/api/v1/suppliers", Some(json!({"name": "Votorantim", "lead_time_days": 5}))).await;
    assert_eq!(s, StatusCode::CREATED, "{sup}");
    let sid = sup["id"].as_str().unwrap();
    let (s, r) = app
        .call(
            Method::POST,
            "acme",
            &shop.admin,
            "/api/v1/stock/receipts",
            Some(json!({"product_id": shop.cement, "quantity": "100", "supplier_id": sid, "unit_cost": "25.10"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, _) = app
        .call(
            Method::POST,
            "acme",
            &shop.admin,
            "/api/v1/stock/adjustments",
            Some(json!({"product_id": shop.cement, "quantity": "-3", "reason": "broken bags"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.call(Method::POST, "acme", &shop.seller, "/api/v1/stock/receipts", Some(json!({"product_id": shop.cement, "quantity": 1}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "sellers do not manage stock");
    for price in ["25.00", "28.00"] {
        let (s, p) = app
            .call(Method::POST, "acme", &shop.admin, &format!("/api/v1/suppliers/{sid}/prices"), Some(json!({"product_id": shop.cement, "price": price})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
    }
    let (_, prices) = app.call(Method::GET, "acme", &shop.seller, &format!("/api/v1/suppliers/{sid}/prices"), None).await;
    assert_eq!(prices["items"][0]["price"], "28.00");
    assert_eq!(prices["items"][0]["previous_price"], "25.00");
    let (_, movements) = app.call(Method::GET, "acme", &shop.seller, &format!("/api/v1/stock/movements?product_id={}", shop.cement), None).await;
    assert_eq!(movements["items"].as_array().unwrap().len(), 2);
    let (_, levels) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/stock", None).await;
    assert_eq!(levels["items"].as_array().unwrap().len(), 2);
    assert_eq!(levels["items"][0]["on_hand"], "0", "levels come from the engines, not the request");

    let evs = events(&app, "acme").await;
    assert_eq!(types(&evs), vec!["stock_received", "stock_adjusted", "supplier_price_changed", "supplier_price_changed"]);
    assert_eq!(evs[0].1["quantity"], "100.000");
    assert_eq!(evs[0].1["unit_cost"], "25.10");
    assert_eq!(evs[1].1["quantity"], "-3.000");
    assert!(evs[2].1["old_price"].is_null());
    assert_eq!((evs[3].1["old_price"].as_str(), evs[3].1["new_price"].as_str()), (Some("25.00"), Some("28.00")));

    let db = app.superuser().await;
    let history: i64 = db.query_one("SELECT count(*) FROM price_history WHERE supplier_id IS NOT NULL", &[]).await.unwrap().get(0);
    assert_eq!(history, 2);
}

#[tokio::test]
async fn quote_rules_send_needs_items_approve_needs_validity_cancel_not_after_conversion() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "acme").await;
    let (_, empty) = app.call(Method::POST, "acme", &shop.seller, "/api/v1/quotes", Some(json!({"client_id": shop.client}))).await;
    let eid = empty["id"].as_str().unwrap();
    let (s, e) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{eid}/send"), None).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("items")));
    let (s, e) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{eid}/approve"), None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("invalid_transition")));
    let (s, replaced) = app.call(Method::PUT, "acme", &shop.seller, &format!("/api/v1/quotes/{eid}"), Some(shop.quote_body())).await;
    assert_eq!((s, replaced["total"].as_str()), (StatusCode::OK, Some("565.84")), "{replaced}");

    let (_, sent) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{eid}/send"), None).await;
    assert_eq!(sent["status"], "sent");
    app.superuser().await.execute("UPDATE quotes SET sent_at = now() - interval '8 days' WHERE id = $1::text::uuid", &[&eid]).await.unwrap();
    let (s, e) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{eid}/approve"), None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("quote_expired")), "{e}");
    let (s, c) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{eid}/cancel"), None).await;
    assert_eq!((s, c["status"].as_str()), (StatusCode::OK, Some("cancelled")));
    let (s, _) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{eid}/cancel"), None).await;
    assert_eq!(s, StatusCode::CONFLICT);

    let q = shop.approved_quote(&app).await;
    let qid = q["id"].as_str().unwrap();
    app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/orders/from-quote/{qid}"), None).await;
    let (s, _) = app.call(Method::POST, "acme", &shop.seller, &format!("/api/v1/quotes/{qid}/cancel"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "a converted quote cannot be cancelled");

    // A client referenced by quotes cannot be deleted; the reason is named.
    let (s, e) = app.call(Method::DELETE, "acme", &shop.seller, &format!("/api/v1/clients/{}", shop.client), None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("client_in_use")));
    assert!(e["error"]["message"].as_str().unwrap().contains("2 quote(s) and 1 order(s)"), "{e}");
    let (_, fresh) =
        app.call(Method::POST, "acme", &shop.seller, "/api/v1/clients", Some(json!({"kind": "individual", "name": "Ana", "document": "123.456.789-00"}))).await;
    let (s, _) = app.call(Method::DELETE, "acme", &shop.seller, &format!("/api/v1/clients/{}", fresh["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // Deleted means gone (products and suppliers, which DELETE only deactivates, stay readable).
    let (s, _) = app.call(Method::GET, "acme", &shop.seller, &format!("/api/v1/clients/{}", fresh["id"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app
        .call(Method::POST, "acme", &shop.seller, "/api/v1/clients", Some(json!({"kind": "company", "name": "Dup", "document": "12.345.678/0001-90"})))
        .await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("duplicate_document")));
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "acme").await;
    let item = |extra: Value| {
        let mut i = json!({"product_id": shop.cement, "quantity": "1"});
        i.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"client_id": shop.client, "items": [i]})
    };
    let cases: Vec<(&str, Value, &str, StatusCode, &str)> = vec![
        ("/api/v1/quotes", item(json!({"quantity": "-2"})), "POST", StatusCode::UNPROCESSABLE_ENTITY, "items[0].quantity"),
        ("/api/v1/quotes", item(json!({"quantity": "0"})), "POST", StatusCode::UNPROCESSABLE_ENTITY, "items[0].quantity"),
        ("/api/v1/quotes", item(json!({"quantity": "1.0001"})), "POST", StatusCode::UNPROCESSABLE_ENTITY, "items[0].quantity"),
        ("/api/v1/quotes", item(json!({"unit_price": "0"})), "POST", StatusCode::UNPROCESSABLE_ENTITY, "items[0].unit_price"),
        ("/api/v1/quotes", item(json!({"unit_price": "-5"})), "POST", StatusCode::UNPROCESSABLE_ENTITY, "items[0].unit_price"),
        ("/api/v1/quotes", item(json!({"discount_percent": "100.5"})), "POST", StatusCode::UNPROCESSABLE_ENTITY, "items[0].discount_percent"),
        ("/api/v1/quotes", item(json!({"colour": "red"})), "POST", StatusCode::BAD_REQUEST, "items[0].colour"),
        ("/api/v1/quotes", item(json!({"product_id": "not-a-uuid"})), "POST", StatusCode::BAD_REQUEST, "items[0].product_id"),
        ("/api/v1/quotes", json!({"client_id": shop.client, "discount_percent": 101}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "discount_percent"),
        ("/api/v1/quotes", json!({"client_id": shop.client, "valid_days": 0}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "valid_days"),
        ("/api/v1/quotes", json!({"client_id": "123"}), "POST", StatusCode::BAD_REQUEST, "client_id"),
        ("/api/v1/products", json!({"code": "X1", "name": "x", "unit": "LITRE", "base_price": "1"}), "POST", StatusCode::BAD_REQUEST, "unit"),
        ("/api/v1/products", json!({"code": "X1", "name": "x", "unit": "UN", "base_price": "0"}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "base_price"),
        ("/api/v1/products", json!({"code": "X1", "name": "x", "unit": "UN", "base_price": "-1"}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "base_price"),
        ("/api/v1/products", json!({"code": "X1", "name": "x", "unit": "UN", "base_price": "1", "stock": 3}), "POST", StatusCode::BAD_REQUEST, "stock"),
        ("/api/v1/products", json!({"code": "", "name": "x", "unit": "UN", "base_price": "1"}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "code"),
        ("/api/v1/clients", json!({"kind": "alien", "name": "x", "document": "1"}), "POST", StatusCode::BAD_REQUEST, "kind"),
        ("/api/v1/clients", json!({"kind": "company", "name": "x", "document": "1", "email": "nope"}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "email"),
        ("/api/v1/stock/adjustments", json!({"product_id": shop.cement, "quantity": "0", "reason": "x"}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "quantity"),
        ("/api/v1/stock/adjustments", json!({"product_id": shop.cement, "quantity": "1", "reason": " "}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "reason"),
        ("/api/v1/suppliers", json!({"name": "x", "lead_time_days": -1}), "POST", StatusCode::UNPROCESSABLE_ENTITY, "lead_time_days"),
    ];
    for (path, body, method, status, field) in cases {
        let token = if path.contains("products") || path.contains("stock") || path.contains("suppliers") { &shop.admin } else { &shop.seller };
        let (s, e) = app.call(method.parse().unwrap(), "acme", token, path, Some(body.clone())).await;
        assert_eq!((s, e["error"]["field"].as_str()), (status, Some(field)), "{path} {body} -> {e}");
    }
    for path in ["/api/v1/quotes/xyz", "/api/v1/orders/123", "/api/v1/clients/%27or%201=1"] {
        let (s, e) = app.call(Method::GET, "acme", &shop.seller, path, None).await;
        assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")), "{path}");
    }
    for query in ["limit=0", "limit=201", "limit=x", "cursor=garbage", "status=lost", "from=yesterday"] {
        let (s, e) = app.call(Method::GET, "acme", &shop.seller, &format!("/api/v1/quotes?{query}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {e}");
        assert!(e["error"]["field"].is_string());
    }
    // Values only the database would refuse still come back as client errors, never 500.
    let nul = json!({"kind": "company", "name": "Nul\u{0}Byte", "document": "9"});
    let (s, e) = app.call(Method::POST, "acme", &shop.seller, "/api/v1/clients", Some(nul)).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("name")), "{e}");
    let (s, _) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/clients?search=%00x", None).await;
    assert_eq!(s, StatusCode::OK);
    let huge = item(json!({"quantity": "100000", "unit_price": "100000000"}));
    let (s, e) = app.call(Method::POST, "acme", &shop.seller, "/api/v1/quotes", Some(huge)).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("items[0].quantity")), "{e}");
    let three = json!({"client_id": shop.client, "items": [
        {"product_id": shop.cement, "quantity": "9000", "unit_price": "100000000"},
        {"product_id": shop.cement, "quantity": "9000", "unit_price": "100000000"}]});
    let (s, e) = app.call(Method::POST, "acme", &shop.seller, "/api/v1/quotes", Some(three)).await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("items")), "{e}");
    let (s, _) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/quotes?from=-10000-01-01", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, sup) = app.call(Method::POST, "acme", &shop.admin, "/api/v1/suppliers", Some(json!({"name": "S"}))).await;
    let (s, e) = app
        .call(
            Method::POST,
            "acme",
            &shop.admin,
            &format!("/api/v1/suppliers/{}/prices", sup["id"].as_str().unwrap()),
            Some(json!({"product_id": shop.cement, "price": "1", "valid_from": "-10000-01-01"})),
        )
        .await;
    assert!(s.is_client_error(), "{s} {e}");
    assert!(events(&app, "acme").await.is_empty(), "refused requests leave no events");
}

#[tokio::test]
async fn lists_search_filter_and_paginate() {
    let app = TestApp::spawn().await;
    let shop = shop(&app, "acme").await;
    for i in 0..5 {
        app.call(
            Method::POST,
            "acme",
            &shop.admin,
            "/api/v1/products",
            Some(json!({"code": format!("TIJ-{i}"), "name": format!("Tijolo {i}"), "unit": "UN", "base_price": "1.10"})),
        )
        .await;
    }
    let (_, found) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/products?search=tijolo", None).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 5);
    let (_, found) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/products?search=100%25", None).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "wildcards in the term are literal");
    app.call(Method::DELETE, "acme", &shop.admin, &format!("/api/v1/products/{}", shop.sand), None).await;
    let (_, inactive) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/products?active=false", None).await;
    assert_eq!(inactive["items"].as_array().unwrap().len(), 1);
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    loop {
        let (_, page) = app.call(Method::GET, "acme", &shop.seller, &format!("/api/v1/products?limit=2&cursor={cursor}"), None).await;
        for p in page["items"].as_array().unwrap() {
            assert!(seen.insert(p["id"].as_str().unwrap().to_owned()), "no repeats across pages");
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let (_, sites) = app.call(Method::GET, "acme", &shop.seller, &format!("/api/v1/sites?client_id={}", shop.client), None).await;
    assert_eq!(sites["items"].as_array().unwrap().len(), 1);
    let (_, clients) = app.call(Method::GET, "acme", &shop.seller, "/api/v1/clients?search=0001-90", None).await;
    assert_eq!(clients["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    let resp = app.req(Method::GET, "acme", "/api/openapi.json").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in ["/api/v1/quotes", "/api/v1/orders/from-quote/{quote_id}", "/api/v1/insights/stock-alerts", "/auth/login", "/api/v1/suppliers/{id}/prices"] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("Quote") && schemas.contains_key("ErrorBody"));
    assert_eq!(doc["components"]["schemas"]["Product"]["properties"]["base_price"]["type"], "string");
}
