//! `basecommerce-engines`: not built yet — see the engines issue. Until then it refuses to start
//! rather than pretend to work, but already shares the configuration contract.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(name = "basecommerce-engines", version, about = "basecommerce engines (not implemented in this build)")]
struct Args {
    /// Configuration file (TOML); environment BASECOMMERCE_<SECTION>__<KEY> overrides it.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = infra::Settings::load(args.config.as_deref()) {
        eprintln!("basecommerce-engines: {e}");
        return ExitCode::from(78);
    }
    eprintln!("basecommerce-engines: not implemented in this build");
    ExitCode::from(70)
}
