//! `basecommerce-proxy`: not built yet — see the proxy issue. Until then it refuses to start
//! rather than pretend to work, but already shares the configuration contract.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "basecommerce-proxy", version, about = "basecommerce proxy (not implemented in this build)")]
struct Args {
    /// Configuration file (TOML); environment BASECOMMERCE_<SECTION>__<KEY> overrides it.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = infra::Settings::load(args.config.as_deref()) {
        eprintln!("basecommerce-proxy: {e}");
        return ExitCode::from(78);
    }
    eprintln!("basecommerce-proxy: not implemented in this build");
    ExitCode::from(70)
}
