//! Log setup: `tracing` to stderr, level from `RUST_LOG` (default `info`), human-readable or
//! JSON (`MLGUARD_LOG_FORMAT=json`). Nothing in this crate logs a secret; every value is
//! escaped against log forging by [`mlguard_http::log_format`] in either format. Lines are
//! written off the request path by [`mlguard_http::log_writer`] (bounded queue, drops counted
//! in `mlguard_http_log_lines_dropped_total`).

use mlguard_http::log_format::{CachedSystemTime, EscapedFields, JsonSafeWriter};
use mlguard_http::log_writer::{LogWriterBuilder, LogWriterGuard};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (a second call installs nothing). Keep the guard until the
/// program ends: dropping it writes out the queued lines.
pub fn init() -> Option<LogWriterGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("MLGUARD_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal, not in files, journald or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(CachedSystemTime)
        .with_target(true);
    let (installed, guard) = if json {
        let (writer, guard) = LogWriterBuilder::new()
            .build(JsonSafeWriter(std::io::stderr()))
            .ok()?;
        (builder.json().with_writer(writer).try_init(), guard)
    } else {
        let (writer, guard) = LogWriterBuilder::new().build(std::io::stderr()).ok()?;
        (
            builder.with_writer(writer).fmt_fields(EscapedFields).try_init(),
            guard,
        )
    };
    installed.ok().map(|()| guard)
}
