//! Regression: logins must not grow the vertical's memory. Argon2 works in 19 MiB; hashed with
//! the crate's own per-call allocation, each login left ~17 MiB the allocator could not reuse
//! (a vertical went from ~45 MiB to ~240 MiB after a dozen logins, ~500 MiB after a burst of
//! 50 concurrent ones — found by the soak test). Now every hashing thread reuses one buffer.
//!
//! The real vertical binary runs pinned to one CPU (`taskset`), so it has exactly one hashing
//! thread and the bound below does not depend on the machine's core count.

use infra::edge::{EDGE_SECRET_HEADER, TENANT_SLUG_HEADER};
use std::process::{Command, Stdio};
use std::time::Duration;

use harness::KillOnDrop;
use stack::{eventually, rss_kib, workspace_binary, Stack, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_leaves_the_verticals_memory_where_it_was() {
    let stack = Stack::start().await;
    stack.tenant("acme").await;
    let addr = format!("127.0.0.1:{}", harness::free_port());
    let edge = stack.settings.edge.secret.as_ref().unwrap().expose().to_owned();
    let child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(workspace_binary("basecommerce-vertical"))
        .envs(stack.env())
        .env("BASECOMMERCE_EDGE__SECRET", &edge)
        .env("BASECOMMERCE_VERTICAL__LISTEN", &addr)
        .env("BASECOMMERCE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("taskset (util-linux) and the vertical binary");
    let pid = child.id(); // taskset execs the vertical: same process
    let _vertical = KillOnDrop(child);
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(30), "vertical up", || async { http.get(format!("http://{addr}/health")).send().await.ok().map(|_| ()) }).await;
    let login = || {
        let (http, edge, addr) = (http.clone(), edge.clone(), addr.clone());
        async move {
            let r = http
                .post(format!("http://{addr}/auth/login"))
                .header(EDGE_SECRET_HEADER, edge)
                .header(TENANT_SLUG_HEADER, "acme")
                .json(&serde_json::json!({"email": "admin@acme.test", "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
        }
    };

    login().await;
    let after_one = rss_kib(pid).unwrap();
    for _ in 0..10 {
        login().await;
    }
    let burst: Vec<_> = (0..50).map(|_| tokio::spawn(login())).collect();
    for l in burst {
        l.await.unwrap();
    }
    let after_sixty = rss_kib(pid).unwrap();
    println!("vertical RSS: {after_one} KiB after one login, {after_sixty} KiB after 60");
    // 16 MiB of slack for connections, buffers and allocator noise: less than one argon2
    // working area (19 MiB), while the old behaviour grew by ~17 MiB per login.
    assert!(after_sixty <= after_one + 16 * 1024, "60 logins grew the vertical from {after_one} KiB to {after_sixty} KiB");
}
