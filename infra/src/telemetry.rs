//! Logging: JSON lines when stdout is not a terminal (journald captures stdout under systemd),
//! a human format on a terminal. Output goes through a non-blocking writer so a slow
//! journald never stalls a request.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::{fmt, EnvFilter};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Keep the guard alive for the life of the process:
/// dropping it flushes buffered lines.
pub fn init(service: &'static str, settings: &LogSettings) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = fmt().with_env_filter(filter).with_writer(writer);
    let result = if json {
        // Span fields (tenant, request_id) are flattened onto every line so
        // `journalctl -o cat | jq 'select(.tenant=="acme")'` works.
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.with_target(false).try_init()
    };
    if result.is_ok() {
        tracing::info!(service, version = env!("CARGO_PKG_VERSION"), "starting");
    }
    guard
}

/// Crypto provider shared by every TLS client and server in the process (rustls with ring):
/// install it once so no library picks another one.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
