//! Redis (with its append-only file) and PostgreSQL restarted under a running relay and worker:
//! both reconnect by themselves and every event is applied exactly once. A SIGKILLed worker
//! restarted under its stable name finishes its own pending entries at once.

mod common;

use std::time::Duration;

use common::{consumers, count, outbox_receipts, Process, Running};
use harness::{Options, Services};
use stack::{eventually, Stack};

async fn superuser(stack: &Stack) -> tokio_postgres::Client {
    eventually(Duration::from_secs(30), "postgres accepting connections", || async {
        match tokio_postgres::connect(&stack.db.superuser_url, tokio_postgres::NoTls).await {
            Ok((c, conn)) => {
                tokio::spawn(conn);
                Some(c)
            }
            Err(_) => None,
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_postgres_restarts_lose_nothing() {
    let services = Services::start_with(Options { redis_aof: true }).expect("dedicated servers");
    let stack = Stack::start_on(&services).await;
    let run = Running::start(&stack, 1, true).await;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let applied = |expected: i64| {
        let stack = &stack;
        async move {
            eventually(Duration::from_secs(60), &format!("{expected} receipts applied"), || async {
                let db = superuser(stack).await;
                (count(&db, "SELECT count(*) FROM processed_events WHERE engine = 'stock'").await == expected).then_some(())
            })
            .await
        }
    };

    outbox_receipts(&superuser(&stack).await, s.tenant_id, &p, 100).await;
    applied(100).await;

    // Some events wait in the outbox and on the stream while Redis goes down and comes back.
    outbox_receipts(&superuser(&stack).await, s.tenant_id, &p, 100).await;
    services.restart_redis().expect("redis restarts");
    outbox_receipts(&superuser(&stack).await, s.tenant_id, &p, 100).await;
    applied(300).await;

    outbox_receipts(&superuser(&stack).await, s.tenant_id, &p, 100).await;
    services.restart_postgres().expect("postgres restarts");
    outbox_receipts(&superuser(&stack).await, s.tenant_id, &p, 100).await;
    applied(500).await;

    let db = superuser(&stack).await;
    let on_hand: String = db.query_one("SELECT on_hand::text FROM stock_levels", &[]).await.unwrap().get(0);
    assert_eq!(on_hand, "500.000", "every receipt exactly once");
    assert_eq!(count(&db, "SELECT count(*) FROM event_outbox WHERE published_at IS NULL").await, 0);
    run.stop().await;
}

/// Reclaiming a dead consumer's entries would take ten minutes here: only a restarted worker
/// that reads its own pending entries can finish the work within this test's time.
const NEVER_RECLAIMED_MS: u64 = 600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_finishes_its_own_pending_work_at_restart_exactly_once() {
    let mut stack = Stack::start().await;
    stack.settings.engines.claim_idle_ms = NEVER_RECLAIMED_MS;
    let s = stack.tenant("acme").await;
    let p = s.product("CIM", "10.00").await;
    let db = stack.superuser().await;
    let relay = Running::start(&stack, 0, true).await;
    let name = [("BASECOMMERCE_ENGINES__CONSUMER_NAME", "test-worker-1")];
    let processed = "SELECT count(*) FROM processed_events WHERE engine = 'stock'";
    let wait = Duration::from_secs(30);

    let mut first = Process::spawn_with(&stack, "worker", &name);
    outbox_receipts(&db, s.tenant_id, &p, 200).await;
    eventually(wait, "the first 200 receipts applied", || async { (count(&db, processed).await == 200).then_some(()) }).await;

    // Hold the worker mid-batch (read, not committed), then kill it: its entries stay pending
    // under its name.
    let mut blocker = stack.superuser().await;
    let lock = blocker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE processed_events IN EXCLUSIVE MODE").await.unwrap();
    outbox_receipts(&db, s.tenant_id, &p, 300).await;
    let held = eventually(wait, "entries read and held by the worker", || async {
        consumers(&stack).await.into_iter().find(|(n, _)| n == "test-worker-1").map(|(_, pending)| pending).filter(|pending| *pending > 0)
    })
    .await;
    first.kill9();
    lock.rollback().await.unwrap();
    assert_eq!(count(&db, processed).await, 200, "nothing of the held batch was committed");

    let started = std::time::Instant::now();
    let _second = Process::spawn_with(&stack, "worker", &name);
    eventually(Duration::from_secs(60), "all 500 applied after the restart, long before claim_idle_ms", || async {
        (count(&db, processed).await == 500).then_some(())
    })
    .await;
    println!("{held} held entries and the rest applied {:?} after the restart", started.elapsed());
    eventually(wait, "nothing pending", || async {
        let c = consumers(&stack).await;
        (c.iter().all(|(_, pending)| *pending == 0)).then_some(())
    })
    .await;
    let on_hand: String = db.query_one("SELECT on_hand::text FROM stock_levels", &[]).await.unwrap().get(0);
    assert_eq!(on_hand, "500.000", "every receipt exactly once");
    assert_eq!(consumers(&stack).await, vec![("test-worker-1".to_owned(), 0)], "one stable consumer, no leftovers");
    relay.stop().await;
}
