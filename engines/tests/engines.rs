//! Each engine's numbers on hand-computed cases, end to end: API → outbox → relay → stream →
//! worker → engines' tables → `/api/v1/insights/*`.

mod common;

use std::time::Duration;

use common::{count, Running};
use reqwest::Method;
use serde_json::{json, Value};
use stack::{eventually, Session, Stack};

const WAIT: Duration = Duration::from_secs(20);

async fn insight(s: &Session, path: &str, want: usize) -> Vec<Value> {
    eventually(WAIT, path, || async {
        let (_, body) = s.call(Method::GET, path, None).await;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        (items.len() >= want).then_some(items)
    })
    .await
}

#[tokio::test]
async fn delivered_sale_drives_stock_rupture_alert_and_replenishment() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let cement = s.product("CIM", "32.90").await;
    let sup = s.post("/api/v1/suppliers", json!({"name": "Votorantim", "lead_time_days": 7})).await;
    let sid = sup["id"].as_str().unwrap();
    let pricey = s.post("/api/v1/suppliers", json!({"name": "Pricey", "lead_time_days": 2})).await;
    s.post(&format!("/api/v1/suppliers/{sid}/prices"), json!({"product_id": cement, "price": "25.00"})).await;
    s.post(&format!("/api/v1/suppliers/{}/prices", pricey["id"].as_str().unwrap()), json!({"product_id": cement, "price": "27.00"})).await;
    s.post("/api/v1/stock/receipts", json!({"product_id": cement, "quantity": "100", "supplier_id": sid})).await;
    let (client, site) = s.client_with_site("1", "Campinas", "13010-100").await;
    let order = s.order(&client, &site, &[(&cement, "95")]).await;
    s.deliver(&order).await;

    // avg = 95/90, lead 7 (cheapest supplier) → minimum 8.867; 5 on hand → ⌊5 × 90 / 95⌋ = 4 days, high.
    let alerts = insight(&s, "/api/v1/insights/stock-alerts", 1).await;
    assert_eq!(alerts[0]["on_hand"], "5.000");
    assert_eq!(alerts[0]["minimum"], "8.867");
    assert_eq!(alerts[0]["days_to_rupture"], 4);
    assert_eq!(alerts[0]["risk"], "high");
    // ⌈95/90 × (7 + 14) × 1.2 − 5⌉ = ⌈26.6 − 5⌉ = 22 from the cheapest supplier at 25.00 → 550.00.
    let repl = insight(&s, "/api/v1/insights/replenishment", 1).await;
    assert_eq!(repl[0]["suggested_quantity"], "22.000");
    assert_eq!(repl[0]["supplier_name"], "Votorantim");
    assert_eq!(repl[0]["estimated_cost"], "550.00");
    let (_, stock) = s.call(Method::GET, "/api/v1/stock", None).await;
    assert_eq!(stock["items"][0]["on_hand"], "5.000");
    assert_eq!(stock["items"][0]["days_to_rupture"], 4);
    let (_, dash) = s.call(Method::GET, "/api/v1/dashboard", None).await;
    assert_eq!(dash["open_alerts"], 1);

    // Stock recovers: the alert resolves itself and the suggestion goes away.
    s.post("/api/v1/stock/receipts", json!({"product_id": cement, "quantity": "50"})).await;
    eventually(WAIT, "alert resolved", || async {
        let (_, b) = s.call(Method::GET, "/api/v1/insights/stock-alerts", None).await;
        b["items"].as_array().unwrap().is_empty().then_some(())
    })
    .await;
    let (_, repl) = s.call(Method::GET, "/api/v1/insights/replenishment", None).await;
    assert!(repl["items"].as_array().unwrap().is_empty());
    let db = stack.superuser().await;
    assert_eq!(count(&db, "SELECT count(*) FROM stock_alerts WHERE status = 'resolved'").await, 1);
    run.stop().await;
}

#[tokio::test]
async fn the_issue_example_ten_of_twelve_is_eighteen_days_without_alert() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let p = s.product("AREIA", "120.00").await;
    s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "12"})).await;
    let (client, site) = s.client_with_site("1", "Campinas", "13010-100").await;
    let order = s.order(&client, &site, &[(&p, "10")]).await;
    s.deliver(&order).await;
    let level = eventually(WAIT, "stock level", || async {
        let (_, b) = s.call(Method::GET, "/api/v1/stock", None).await;
        let item = b["items"][0].clone();
        (item["on_hand"] == "2.000" && item["days_to_rupture"].is_number()).then_some(item)
    })
    .await;
    // minimum = 10/90 × 7 × 1.2 = 0.933 < 2 on hand: not below minimum, so no alert; ⌊2 × 9⌋ = 18 days.
    assert_eq!(level["days_to_rupture"], 18);
    assert_eq!(level["minimum"], "0.933");
    let (_, alerts) = s.call(Method::GET, "/api/v1/insights/stock-alerts", None).await;
    assert!(alerts["items"].as_array().unwrap().is_empty());
    run.stop().await;
}

#[tokio::test]
async fn overselling_is_recorded_and_flagged_never_negative() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let p = s.product("TIJOLO", "1.00").await;
    s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "5"})).await;
    let (client, site) = s.client_with_site("1", "Campinas", "13010-100").await;
    let order = s.order(&client, &site, &[(&p, "8")]).await;
    s.deliver(&order).await;
    let alerts = insight(&s, "/api/v1/insights/stock-alerts", 1).await;
    assert_eq!(alerts[0]["oversold"], true);
    assert_eq!(alerts[0]["on_hand"], "0.000");
    assert_eq!(alerts[0]["days_to_rupture"], 0, "0 days is a real value");
    let (_, stock) = s.call(Method::GET, "/api/v1/stock", None).await;
    assert_eq!(stock["items"][0]["oversold"], "3.000");
    run.stop().await;
}

#[tokio::test]
async fn three_two_item_orders_make_a_high_complementary_pair() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let cement = s.product("CIM", "32.90").await;
    let sand = s.product("AREIA", "120.00").await;
    let lime = s.product("CAL", "15.00").await;
    let (client, site) = s.client_with_site("1", "Campinas", "13010-100").await;
    for _ in 0..3 {
        let o = s.order(&client, &site, &[(&cement, "1"), (&sand, "1")]).await;
        s.deliver(&o).await;
    }
    // A single-product order does not count (orders need ≥ 2 products).
    let single = s.order(&client, &site, &[(&cement, "1")]).await;
    s.deliver(&single).await;
    // cement+lime once: cement→lime = 1/4 = 25 % (low); lime→cement = 1/1 = 100 %.
    let o = s.order(&client, &site, &[(&cement, "1"), (&lime, "1")]).await;
    s.deliver(&o).await;
    let all = insight(&s, "/api/v1/insights/sales-suggestions", 4).await;
    let find = |p: &str, q: &str| all.iter().find(|x| x["product_id"] == p && x["complementary_id"] == q).cloned();
    let sand_after_cement = find(&cement, &sand).expect("cement → sand");
    assert_eq!(sand_after_cement["frequency_percent"], "75.00", "3 of the 4 multi-product orders with cement");
    assert_eq!(sand_after_cement["priority"], "high");
    let cement_after_sand = find(&sand, &cement).unwrap();
    assert_eq!((cement_after_sand["frequency_percent"].as_str(), cement_after_sand["priority"].as_str()), (Some("100.00"), Some("high")));
    let lime_after_cement = find(&cement, &lime).unwrap();
    assert_eq!((lime_after_cement["frequency_percent"].as_str(), lime_after_cement["priority"].as_str()), (Some("25.00"), Some("low")));
    let (_, for_sand) = s.call(Method::GET, &format!("/api/v1/insights/complementary/{sand}"), None).await;
    assert_eq!(for_sand["items"].as_array().unwrap().len(), 1);
    run.stop().await;
}

#[tokio::test]
async fn supplier_price_rise_and_cheaper_alternative_alerts() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "32.90").await;
    let a = s.post("/api/v1/suppliers", json!({"name": "Alpha"})).await["id"].as_str().unwrap().to_owned();
    let b = s.post("/api/v1/suppliers", json!({"name": "Beta"})).await["id"].as_str().unwrap().to_owned();
    // Each change is applied before the next, as a person would make them.
    let db = stack.superuser().await;
    let steps = [(&a, "25.00"), (&b, "20.00"), (&a, "27.00"), (&a, "30.00")];
    for (n, (supplier, price)) in steps.iter().enumerate() {
        s.post(&format!("/api/v1/suppliers/{supplier}/prices"), json!({"product_id": p, "price": price})).await;
        eventually(WAIT, "price event applied", || async {
            (count(&db, "SELECT count(*) FROM processed_events WHERE engine = 'supplier_price'").await == n as i64 + 1).then_some(())
        })
        .await;
    }
    // 25 first: nothing to compare. 20: cheaper than 25. 25 → 27: +8 % (no rise alert) but
    // 27 ≥ 20 × 1.15 = 23 → above cheapest. 27 → 30: +11.11 % (rise) and +50 % over Beta.
    let alerts = insight(&s, "/api/v1/insights/supplier-price-alerts", 3).await;
    let rises: Vec<&Value> = alerts.iter().filter(|x| x["kind"] == "price_increase").collect();
    assert_eq!(rises.len(), 1, "{alerts:?}");
    assert_eq!(
        (rises[0]["previous_price"].as_str(), rises[0]["new_price"].as_str(), rises[0]["change_percent"].as_str()),
        (Some("27.00"), Some("30.00"), Some("11.11"))
    );
    let cheaper: Vec<&Value> = alerts.iter().filter(|x| x["kind"] == "above_cheapest").collect();
    assert_eq!(cheaper.len(), 2);
    assert!(cheaper.iter().all(|x| x["alternative_supplier_name"] == "Beta" && x["alternative_price"] == "20.00"));
    assert!(cheaper.iter().any(|x| x["change_percent"] == "50.00"));
    run.stop().await;
}

#[tokio::test]
async fn delivery_routes_follow_orders_and_drop_delivered_stops() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "32.90").await;
    let (c1, site_a) = s.client_with_site("1", "Campinas", "13010-100").await;
    let (c2, site_b) = s.client_with_site("2", "Campinas", "13010-900").await;
    let (c3, site_c) = s.client_with_site("3", "Sumaré", "13170-000").await;
    let o1 = s.order(&c1, &site_a, &[(&p, "1")]).await;
    let o2 = s.order(&c2, &site_b, &[(&p, "1")]).await;
    let o3 = s.order(&c3, &site_c, &[(&p, "1")]).await;
    for o in [&o2, &o1, &o3] {
        s.set_status(o, "preparing").await;
    }
    s.set_status(&o1, "out_for_delivery").await;
    let routes = eventually(WAIT, "two routes with three stops", || async {
        let (_, b) = s.call(Method::GET, "/api/v1/insights/delivery-routes", None).await;
        let routes = b["items"].as_array().cloned().unwrap_or_default();
        let stops: usize = routes.iter().map(|r| r["stops"].as_array().unwrap().len()).sum();
        let o1_out =
            routes.iter().flat_map(|r| r["stops"].as_array().unwrap().clone()).any(|st| st["order_id"] == o1.as_str() && st["status"] == "out_for_delivery");
        (routes.len() == 2 && stops == 3 && o1_out).then_some(routes)
    })
    .await;
    let campinas = routes.iter().find(|r| r["region"] == "Campinas 13010").unwrap();
    let postal: Vec<&str> = campinas["stops"].as_array().unwrap().iter().map(|st| st["postal_code"].as_str().unwrap()).collect();
    assert_eq!(postal, vec!["13010-100", "13010-900"], "stops ordered by postal code");
    assert!(routes.iter().any(|r| r["region"] == "Sumaré 13170"));

    s.set_status(&o1, "delivered").await;
    s.set_status(&o3, "cancelled").await;
    eventually(WAIT, "delivered and cancelled stops dropped", || async {
        let (_, b) = s.call(Method::GET, "/api/v1/insights/delivery-routes", None).await;
        let routes = b["items"].as_array().cloned().unwrap_or_default();
        (routes.len() == 1 && routes[0]["stops"].as_array().unwrap().len() == 1 && routes[0]["stops"][0]["order_id"] == o2.as_str()).then_some(())
    })
    .await;
    run.stop().await;
}

/// Movements of one batch are applied one after another, not summed: +5, −8, +10 is 0 with 3
/// oversold and then 10 on hand (a sum, +7, would hide the oversale), and a redelivered event in
/// the same batch counts once.
#[tokio::test]
async fn a_batch_applies_its_movements_in_order_and_each_event_once() {
    use infra::EventEnvelope;
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let other = stack.tenant("beta").await;
    let sand = s.product("AREIA", "80.00").await;
    let beta_sand = other.product("AREIA", "80.00").await;
    let product: uuid::Uuid = sand.parse().unwrap();
    let movement = |tenant: uuid::Uuid, product: &str, kind: &str, qty: &str| {
        EventEnvelope::new(
            tenant,
            "stock",
            product.parse().unwrap(),
            kind,
            json!({"movement_id": uuid::Uuid::new_v4(), "product_id": product, "quantity": qty}),
        )
    };
    let received = movement(s.tenant_id, &sand, "stock_received", "5");
    let sale = EventEnvelope::new(
        s.tenant_id,
        "order",
        uuid::Uuid::new_v4(),
        "sale_recorded",
        json!({"order_id": uuid::Uuid::new_v4(), "number": "O-000001", "client_id": uuid::Uuid::new_v4(), "total": "640.00", "delivered_at": null, "site": null,
               "items": [{"product_id": product, "quantity": "8", "unit_price": "80.00", "discount_percent": "0", "total": "640.00"}]}),
    );
    let restock = movement(s.tenant_id, &sand, "stock_received", "10");
    let beta = movement(other.tenant_id, &beta_sand, "stock_received", "4");
    let batch = vec![received.clone(), beta, sale, restock, received];
    // As the vertical wrote them: the worker applies only what an outbox holds.
    for event in &batch[..4] {
        common::record_in_outbox(&stack, event).await;
    }
    let settings = &stack.settings;
    let pool = infra::db::pool(settings.require_engines_database_url().unwrap(), &settings.database, 2).unwrap();
    let files = infra::files::LocalDisk::new(&settings.files.dir);
    let outcomes = engines::engines::process_batch(&pool, &files, &batch).await.unwrap();
    use engines::engines::Outcome::{Applied, Duplicate};
    assert_eq!(outcomes, [Applied, Applied, Applied, Applied, Duplicate]);

    let (_, stock) = s.call(Method::GET, "/api/v1/stock", None).await;
    assert_eq!((stock["items"][0]["on_hand"].as_str(), stock["items"][0]["oversold"].as_str()), (Some("10.000"), Some("3.000")));
    let (_, stock) = other.call(Method::GET, "/api/v1/stock", None).await;
    assert_eq!(stock["items"][0]["on_hand"], "4.000", "each tenant's movements under its own binding");
    let again = engines::engines::process_batch(&pool, &files, &batch).await.unwrap();
    assert!(again.iter().all(|o| *o == Duplicate), "a redelivered batch changes nothing: {again:?}");
    let (_, stock) = s.call(Method::GET, "/api/v1/stock", None).await;
    assert_eq!(stock["items"][0]["on_hand"], "10.000");
}
