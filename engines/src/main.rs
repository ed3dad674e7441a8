//! `basecommerce-engines relay|worker`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use engines::metrics::{self, Metrics, Probe};
use engines::relay::OutboxRelay;
use engines::worker::EventWorker;
use infra::Settings;
use tokio::sync::watch;

/// Event relay and engines' worker of basecommerce.
#[derive(Parser)]
#[command(name = "basecommerce-engines", version, about)]
struct Args {
    /// Configuration file (TOML); environment BASECOMMERCE_<SECTION>__<KEY> overrides it.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish the outbox to the Redis stream (one leader, others stand by).
    Relay,
    /// Apply events from the stream with the engines (any number of workers).
    Worker,
}

fn main() -> ExitCode {
    let args = Args::parse();
    infra::telemetry::install_crypto_provider();
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("basecommerce-engines: {e}");
            return ExitCode::from(78);
        }
    };
    let service = match args.command {
        Command::Relay => "basecommerce-relay",
        Command::Worker => "basecommerce-worker",
    };
    let _log = infra::telemetry::init(service, &settings.log);
    let settings = Arc::new(settings);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            infra::shutdown::signal().await;
            let _ = stop_tx.send(true);
        });
        let result = match args.command {
            Command::Relay => relay(settings.clone(), stop_rx.clone()).await,
            Command::Worker => worker(settings.clone(), stop_rx.clone()).await,
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "start-up failed");
                eprintln!("basecommerce-engines: {e}");
                ExitCode::from(78)
            }
        }
    })
}

/// Connects to Redis, retrying until it answers or shutdown is asked.
async fn redis_until_up(settings: &Settings, stop: &watch::Receiver<bool>) -> anyhow::Result<Option<redis::aio::ConnectionManager>> {
    let url = settings.require_redis_url()?;
    let mut delay = Duration::from_millis(200);
    loop {
        match infra::redis::connect(url).await {
            Ok(c) => return Ok(Some(c)),
            Err(e) => tracing::warn!(error = %e, "redis not reachable yet; retrying"),
        }
        if *stop.borrow() {
            return Ok(None);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn status_probe(
    settings: Arc<Settings>,
    redis: redis::aio::ConnectionManager,
    pool: deadpool_postgres::Pool,
    metrics: Arc<Metrics>,
    role: &'static str,
    extra: Arc<dyn Fn() -> serde_json::Value + Send + Sync>,
) -> Probe {
    Arc::new(move || {
        let settings = settings.clone();
        let mut redis = redis.clone();
        let pool = pool.clone();
        let metrics = metrics.clone();
        let extra = extra.clone();
        Box::pin(async move {
            // The outbox is optional in the document: PostgreSQL away does not hide the stream.
            let outbox = match pool.get().await {
                Ok(client) => engines::relay::outbox_backlog(&client).await.ok(),
                Err(_) => None,
            };
            if let Some(b) = &outbox {
                metrics.observe_outbox(b);
            }
            match infra::bus::status(&mut redis, &settings.engines).await {
                Ok(s) => {
                    metrics.observe_bus(&s);
                    (true, serde_json::json!({ "status": "ok", "role": role, "stream": s, "outbox": outbox, "instance": extra() }))
                }
                Err(e) => (false, serde_json::json!({ "status": "degraded", "role": role, "error": e.to_string(), "outbox": outbox })),
            }
        })
    })
}

async fn relay(settings: Arc<Settings>, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    settings.require_engines_database_url()?;
    let Some(redis) = redis_until_up(&settings, &stop).await? else { return Ok(()) };
    let metrics = Metrics::new();
    let m = metrics.clone();
    // One connection, only for the probe's outbox figures (the relay's own session holds the lock).
    let pool = infra::db::pool(settings.require_engines_database_url()?, &settings.database, 1)?;
    let leader = Arc::new(move || serde_json::json!({ "leader": m.is_leader.get() == 1 }));
    let probe = status_probe(settings.clone(), redis.clone(), pool, metrics.clone(), "relay", leader);
    metrics::serve(settings.engines.relay_health_listen, metrics.clone(), probe, stop.clone()).await;
    OutboxRelay::new(settings, redis, metrics).run(stop).await;
    Ok(())
}

async fn worker(settings: Arc<Settings>, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let pool = infra::db::pool(settings.require_engines_database_url()?, &settings.database, settings.database.pool_size.min(8))?;
    let Some(redis) = redis_until_up(&settings, &stop).await? else { return Ok(()) };
    let Some(reader) = redis_until_up(&settings, &stop).await? else { return Ok(()) };
    let metrics = Metrics::new();
    let worker = EventWorker::new(settings.clone(), pool.clone(), redis.clone(), reader, metrics.clone());
    let consumer = worker.consumer().to_owned();
    let probe = status_probe(settings.clone(), redis, pool, metrics.clone(), "worker", Arc::new(move || serde_json::json!({ "consumer": consumer })));
    metrics::serve(settings.engines.worker_health_listen, metrics, probe, stop.clone()).await;
    let timeout = Duration::from_secs(settings.engines.shutdown_timeout_secs);
    let mut stop_wait = stop.clone();
    let run = tokio::spawn(worker.run(stop));
    tokio::pin!(run);
    tokio::select! {
        _ = &mut run => {}
        _ = stop_wait.wait_for(|s| *s) => {
            if tokio::time::timeout(timeout, &mut run).await.is_err() {
                tracing::warn!("in-flight events did not finish within engines.shutdown_timeout_secs; they stay pending for another worker");
            }
        }
    }
    Ok(())
}
