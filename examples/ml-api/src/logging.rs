//! Log setup: `tracing` to stderr, level from `RUST_LOG` (default `info`), human-readable or
//! JSON (`MLGUARD_LOG_FORMAT=json`). Nothing in this crate logs a secret.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (a second call does nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("MLGUARD_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files, journald or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
