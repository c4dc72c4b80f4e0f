//! Log setup: `tracing` to stderr, level from `RUST_LOG` (default `info`), human-readable or
//! JSON (`MLGUARD_LOG_FORMAT=json`). Nothing in this crate logs a secret; every value is
//! escaped against log forging by [`mlguard_http::log_format`] in either format.

use mlguard_http::log_format::{EscapedFields, JsonSafeStderr};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (a second call does nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("MLGUARD_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal, not in files, journald or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    let _ = if json {
        builder.json().with_writer(JsonSafeStderr).try_init()
    } else {
        builder
            .with_writer(std::io::stderr)
            .fmt_fields(EscapedFields)
            .try_init()
    };
}
