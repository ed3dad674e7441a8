//! `basecommerce-vertical`: the construction vertical's HTTP server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The construction vertical's JSON API, served behind basecommerce-proxy.
#[derive(Parser)]
#[command(name = "basecommerce-vertical", version, about)]
struct Args {
    /// Configuration file (TOML); environment BASECOMMERCE_<SECTION>__<KEY> overrides it.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    infra::telemetry::install_crypto_provider();
    let settings = match infra::Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("basecommerce-vertical: {e}");
            return ExitCode::from(78);
        }
    };
    let _log = infra::telemetry::init("basecommerce-vertical", &settings.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("basecommerce-vertical: cannot start the runtime: {e}");
            return ExitCode::from(71);
        }
    };
    runtime.block_on(async {
        let app = match basecommerce_vertical::startup::Application::build(settings).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %e, "start-up failed");
                eprintln!("basecommerce-vertical: {e}");
                return ExitCode::from(78);
            }
        };
        // Bound and connected: tell systemd (Type=notify), and keep its watchdog fed while the
        // runtime runs.
        infra::systemd::ready();
        tokio::spawn(infra::systemd::watchdog_task());
        let shutdown = async {
            infra::shutdown::signal().await;
            infra::systemd::stopping();
        };
        match app.run_until(shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}
