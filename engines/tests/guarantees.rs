//! Delivery guarantees: duplicates are no-ops, crashes lose nothing, poison goes to the DLQ and
//! can be replayed, unknown events never stall the stream, one relay leads at a time, gone
//! consumers are removed, and NOTIFY (not the poll) wakes the relay.

mod common;

use std::time::Duration;

use common::{count, outbox_receipts, publish, record_in_outbox, redis_conn, xadd_raw, Process, Running};
use infra::EventEnvelope;
use serde_json::json;
use stack::{eventually, Stack};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

fn receipt(tenant: Uuid, product: &str, qty: &str) -> EventEnvelope {
    let product: Uuid = product.parse().unwrap();
    EventEnvelope::new(tenant, "stock", product, "stock_received", json!({"movement_id": Uuid::new_v4(), "product_id": product, "quantity": qty}))
}

async fn on_hand(db: &tokio_postgres::Client, product: &str) -> String {
    db.query_opt("SELECT on_hand::text FROM stock_levels WHERE product_id = $1::text::uuid", &[&product])
        .await
        .unwrap()
        .map(|r| r.get(0))
        .unwrap_or_else(|| "none".into())
}

async fn stream_pending(stack: &Stack) -> u64 {
    infra::bus::status(&mut redis_conn(stack).await, &stack.settings.engines).await.unwrap().pending
}

#[tokio::test]
async fn the_same_event_delivered_twice_has_one_effect() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let receipt = receipt(s.tenant_id, &p, "7");
    publish(&stack, &receipt).await;
    let event = serde_json::to_string(&receipt).unwrap();
    xadd_raw(&stack, &[("event", &event), ("type", "stock_received")]).await;
    let run = Running::start(&stack, 1, false).await;
    let db = stack.superuser().await;
    eventually(WAIT, "both copies acknowledged", || async {
        (stream_pending(&stack).await == 0 && count(&db, "SELECT count(*) FROM processed_events").await >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(on_hand(&db, &p).await, "7.000");
    assert_eq!(count(&db, "SELECT count(*) FROM processed_events WHERE engine = 'stock'").await, 1);
    run.stop().await;
}

#[tokio::test]
async fn unknown_newer_and_malformed_events_never_stall_the_stream() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let mut unknown = receipt(s.tenant_id, &p, "100");
    unknown.event_type = "invoice_teleported".into();
    let mut newer = receipt(s.tenant_id, &p, "100");
    newer.version = 2;
    xadd_raw(&stack, &[("event", &serde_json::to_string(&unknown).unwrap())]).await;
    xadd_raw(&stack, &[("event", &serde_json::to_string(&newer).unwrap())]).await;
    xadd_raw(&stack, &[("event", "{not json")]).await;
    xadd_raw(&stack, &[("something", "else")]).await;
    let valid = receipt(s.tenant_id, &p, "3");
    record_in_outbox(&stack, &valid).await;
    xadd_raw(&stack, &[("event", &serde_json::to_string(&valid).unwrap())]).await;
    let run = Running::start(&stack, 1, false).await;
    let db = stack.superuser().await;
    eventually(WAIT, "the valid event after the bad ones applied", || async { (on_hand(&db, &p).await == "3.000").then_some(()) }).await;
    eventually(WAIT, "nothing left pending", || async { (stream_pending(&stack).await == 0).then_some(()) }).await;
    let letters = stack.admin().dlq_list(10).await.unwrap();
    assert_eq!(letters.len(), 2, "the two malformed entries are dead letters: {letters:?}");
    assert!(letters.iter().all(|l| l.reason.contains("entry")), "{letters:?}");
    run.stop().await;
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_after_n_deliveries_and_replays_once_fixed() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let ghost = Uuid::new_v4().to_string();
    // A receipt for a product that does not exist (yet): the stock row's foreign key fails.
    publish(&stack, &receipt(s.tenant_id, &ghost, "4")).await;
    let good = s.product("CIM", "10.00").await;
    publish(&stack, &receipt(s.tenant_id, &good, "2")).await;
    let run = Running::start(&stack, 1, false).await;
    let admin = stack.admin();
    let letters = eventually(WAIT, "the poison in the DLQ", || async {
        let l = admin.dlq_list(10).await.unwrap();
        (!l.is_empty()).then_some(l)
    })
    .await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].deliveries, "5", "{letters:?}");
    assert!(letters[0].reason.contains("failed 5 deliveries") && letters[0].reason.contains("foreign key"), "{}", letters[0].reason);
    assert_eq!(letters[0].event["payload"]["product_id"].as_str(), Some(ghost.as_str()));
    let db = stack.superuser().await;
    assert_eq!(on_hand(&db, &good).await, "2.000", "the poison did not block the stream");
    eventually(WAIT, "poison acknowledged", || async { (stream_pending(&stack).await == 0).then_some(()) }).await;
    let status = admin.events_status().await.unwrap();
    assert_eq!(status.stream.dlq_length, 1);

    // Fix the cause (the product appears), replay, and the effect happens exactly once.
    db.execute(
        "INSERT INTO products (id, tenant_id, code, name, unit, base_price) VALUES ($1::text::uuid, $2, 'GHOST', 'Ghost', 'UN', 1)",
        &[&ghost, &s.tenant_id],
    )
    .await
    .unwrap();
    let replayed = admin.dlq_replay(Some(&letters[0].id)).await.unwrap();
    assert_eq!(replayed, vec![letters[0].id.clone()]);
    eventually(WAIT, "replayed event applied", || async { (on_hand(&db, &ghost).await == "4.000").then_some(()) }).await;
    assert!(admin.dlq_list(10).await.unwrap().is_empty());
    assert!(admin.dlq_replay(None).await.is_err(), "nothing left to replay");
    run.stop().await;
}

/// Issue 15, finding 7: the worker trusted whatever reached the stream. An event no outbox
/// wrote, a real one with its quantity inflated, and another tenant's re-addressed are each
/// dead-lettered at once, with no effect; the real events still apply.
#[tokio::test]
async fn events_not_in_their_tenants_outbox_as_sent_are_dead_lettered_without_effect() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let other = stack.tenant("beta").await;
    let p = s.product("CIM", "10.00").await;
    let beta_p = other.product("CIM", "10.00").await;
    let real = receipt(s.tenant_id, &p, "2");
    let mut inflated = real.clone();
    inflated.payload["quantity"] = json!("1000");
    let beta_real = receipt(other.tenant_id, &beta_p, "5");
    let mut readdressed = beta_real.clone();
    readdressed.tenant_id = s.tenant_id;
    readdressed.payload["product_id"] = json!(p);
    let forged = [receipt(s.tenant_id, &p, "1000"), inflated, readdressed];
    for f in &forged {
        xadd_raw(&stack, &[("event", &serde_json::to_string(f).unwrap()), ("type", "stock_received")]).await;
    }
    publish(&stack, &real).await;
    publish(&stack, &beta_real).await;

    let run = Running::start(&stack, 1, false).await;
    let db = stack.superuser().await;
    eventually(WAIT, "the real events applied", || async { (on_hand(&db, &beta_p).await == "5.000").then_some(()) }).await;
    eventually(WAIT, "nothing left pending", || async { (stream_pending(&stack).await == 0).then_some(()) }).await;
    assert_eq!(on_hand(&db, &p).await, "2.000", "only the real event moved acme's stock");
    let letters = stack.admin().dlq_list(10).await.unwrap();
    assert_eq!(letters.len(), 3, "{letters:?}");
    for letter in &letters {
        assert!(letter.reason.contains("not in the outbox"), "{}", letter.reason);
        assert_eq!(letter.deliveries, "1", "refused at once, not retried: {letter:?}");
    }
    let mut refused: Vec<String> = letters.iter().map(|l| l.event["event_id"].as_str().unwrap().to_owned()).collect();
    let mut expected: Vec<String> = forged.iter().map(|f| f.event_id.to_string()).collect();
    refused.sort();
    expected.sort();
    assert_eq!(refused, expected);
    run.stop().await;
}

#[tokio::test]
async fn republished_outbox_rows_are_deduplicated() {
    let stack = Stack::start().await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "5"})).await;
    let db = stack.superuser().await;
    eventually(WAIT, "receipt applied", || async { (on_hand(&db, &p).await == "5.000").then_some(()) }).await;
    // The relay crashed after XADD but before marking: the rows look unpublished again.
    db.execute("UPDATE event_outbox SET published_at = NULL", &[]).await.unwrap();
    let mut redis = redis_conn(&stack).await;
    eventually(WAIT, "republished", || async {
        let len: u64 = redis::cmd("XLEN").arg(&stack.settings.engines.stream).query_async(&mut redis.clone()).await.unwrap();
        (len >= 2 && count(&db, "SELECT count(*) FROM event_outbox WHERE published_at IS NULL").await == 0).then_some(())
    })
    .await;
    eventually(WAIT, "duplicate acknowledged", || async { (stream_pending(&stack).await == 0).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(on_hand(&db, &p).await, "5.000");
    let _ = &mut redis;
    run.stop().await;
}

#[tokio::test]
async fn two_workers_share_a_stream_without_double_effects() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let db = stack.superuser().await;
    outbox_receipts(&db, s.tenant_id, &p, 500).await;
    let run = Running::start(&stack, 2, true).await;
    eventually(WAIT, "500 receipts applied", || async { (on_hand(&db, &p).await == "500.000").then_some(()) }).await;
    eventually(WAIT, "all acknowledged", || async { (stream_pending(&stack).await == 0).then_some(()) }).await;
    assert_eq!(count(&db, "SELECT count(*) FROM processed_events WHERE engine = 'stock'").await, 500);
    assert_eq!(on_hand(&db, &p).await, "500.000");
    run.stop().await;
}

#[tokio::test]
async fn a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let db = stack.superuser().await;
    let n = 1000;
    outbox_receipts(&db, s.tenant_id, &p, n).await;
    let relay = Running::start(&stack, 0, true).await;
    eventually(WAIT, "all published", || async { (count(&db, "SELECT count(*) FROM event_outbox WHERE published_at IS NULL").await == 0).then_some(()) }).await;

    let mut first = Process::spawn(&stack, "worker");
    let done_before_kill = eventually(WAIT, "the worker started applying", || async {
        let c = count(&db, "SELECT count(*) FROM processed_events WHERE engine = 'stock'").await;
        (c > 0).then_some(c)
    })
    .await;
    first.kill9();
    let after_kill = count(&db, "SELECT count(*) FROM processed_events WHERE engine = 'stock'").await;
    assert!(after_kill < n, "killed mid-way ({done_before_kill} → {after_kill} of {n})");
    let pending = stream_pending(&stack).await;

    let _second = Process::spawn(&stack, "worker");
    eventually(Duration::from_secs(120), "every event applied after restart", || async {
        (count(&db, "SELECT count(*) FROM processed_events WHERE engine = 'stock'").await == n).then_some(())
    })
    .await;
    eventually(WAIT, "nothing pending", || async { (stream_pending(&stack).await == 0).then_some(()) }).await;
    assert_eq!(on_hand(&db, &p).await, format!("{n}.000"), "each effect exactly once (pending at kill: {pending})");
    relay.stop().await;
}

#[tokio::test]
async fn sigterm_stops_a_worker_cleanly() {
    let stack = Stack::start().await;
    let mut worker = Process::spawn(&stack, "worker");
    let mut redis = redis_conn(&stack).await;
    eventually(WAIT, "consumer group created", || async {
        let groups: redis::RedisResult<Vec<redis::Value>> =
            redis::cmd("XINFO").arg("GROUPS").arg(&stack.settings.engines.stream).query_async(&mut redis.clone()).await;
        groups.ok().filter(|g| !g.is_empty()).map(|_| ())
    })
    .await;
    let started = std::time::Instant::now();
    let status = worker.terminate();
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopped in {:?}", started.elapsed());
    let _ = &mut redis;
}

#[tokio::test]
async fn the_standby_relay_takes_over_when_the_leader_dies() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let db = stack.superuser().await;
    let mut a = Process::spawn(&stack, "relay");
    let mut b = Process::spawn(&stack, "relay");
    let leader_name = || async {
        db.query_opt(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::int8 << 32) | l.objid::int8) = $1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[&infra::bus::RELAY_LOCK_KEY],
        )
        .await
        .unwrap()
        .map(|r| r.get::<_, String>(0))
    };
    let first = eventually(WAIT, "a leader", || async { leader_name().await }).await;
    let (leader, standby) = if first.ends_with(&format!("-{}", a.pid())) { (&mut a, b.pid()) } else { (&mut b, a.pid()) };
    assert!(first.ends_with(&format!("-{}", leader.pid())), "{first}");
    s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "1"})).await;
    eventually(WAIT, "published by the leader", || async {
        (count(&db, "SELECT count(*) FROM event_outbox WHERE published_at IS NULL").await == 0).then_some(())
    })
    .await;

    leader.kill9();
    eventually(WAIT, "the standby leads", || async { leader_name().await.filter(|n| n.ends_with(&format!("-{standby}"))) }).await;
    s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "1"})).await;
    eventually(WAIT, "published by the new leader", || async {
        (count(&db, "SELECT count(*) FROM event_outbox WHERE published_at IS NULL").await == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn consumers_that_are_gone_are_removed_once_their_work_is_claimed() {
    let stack = Stack::start().await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let e = &stack.settings.engines;
    let mut redis = redis_conn(&stack).await;
    infra::bus::ensure_group(&mut redis, e).await.unwrap();
    publish(&stack, &receipt(s.tenant_id, &p, "3")).await;
    // Consumers of earlier runs: one died holding an entry, one never read anything.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(&e.group)
        .arg("gone-1")
        .arg("COUNT")
        .arg(1)
        .arg("STREAMS")
        .arg(&e.stream)
        .arg(">")
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: u64 = redis::cmd("XGROUP").arg("CREATECONSUMER").arg(&e.stream).arg(&e.group).arg("gone-2").query_async(&mut redis).await.unwrap();
    assert_eq!(common::consumers(&stack).await.len(), 2);

    let run = Running::start(&stack, 1, false).await;
    let db = stack.superuser().await;
    eventually(WAIT, "the dead consumer's entry applied", || async { (on_hand(&db, &p).await == "3.000").then_some(()) }).await;
    let left = eventually(WAIT, "only the live consumer left", || async {
        let c = common::consumers(&stack).await;
        (c.len() == 1 && !c[0].0.starts_with("gone-")).then_some(c)
    })
    .await;
    assert_eq!(left[0].1, 0, "{left:?}");
    run.stop().await;
}

#[tokio::test]
async fn notify_wakes_the_relay_long_before_its_poll_fallback() {
    let mut stack = Stack::start().await;
    // Without the NOTIFY wake-up, an event would wait up to a minute for the relay's next poll.
    stack.settings.engines.poll_interval_ms = 60_000;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let db = stack.superuser().await;
    // The first receipt may be read by the relay's first query as leader; each later one is
    // written while the relay waits, so only a notification can wake it before the poll.
    for n in 1..=4 {
        let started = std::time::Instant::now();
        s.post("/api/v1/stock/receipts", json!({"product_id": p, "quantity": "1"})).await;
        let expected = format!("{n}.000");
        eventually(Duration::from_secs(10), &format!("receipt {n} applied well before the 60 s poll"), || async {
            (on_hand(&db, &p).await == expected).then_some(())
        })
        .await;
        println!("receipt {n}: effect after {:?}", started.elapsed());
    }
    run.stop().await;
}
