//! Redis (with its append-only file) and PostgreSQL restarted under a running relay and worker:
//! both reconnect by themselves and every event is applied exactly once.

mod common;

use std::time::Duration;

use common::{count, outbox_receipts, Running};
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
