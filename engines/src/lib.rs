//! basecommerce engines: the outbox relay (Postgres → Redis Streams) and the worker that runs
//! the stock, sales, replenishment, supplier-price and delivery engines from the stream.

pub mod engines;
pub mod metrics;
pub mod relay;
/// systemd notifications live in infra (shared with the vertical and the proxy).
pub use infra::systemd;
pub mod worker;

/// `<host>-<pid>`: the consumer name in the group and the relay's application name.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into());
    format!("{host}-{}", std::process::id())
}
