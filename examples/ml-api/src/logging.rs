//! Log setup: mlguard-http's subscriber ([`mlguard_http::subscriber`]) to stderr, level from
//! `RUST_LOG` (default `info`), human-readable or JSON (`MLGUARD_LOG_FORMAT=json`), every value
//! escaped against log forging, lines written off the request path (drops counted in
//! `mlguard_http_log_lines_dropped_total`). Nothing in this crate logs a secret.

use mlguard_http::log_writer::LogWriterGuard;
use mlguard_http::subscriber::LogFormat;

/// Installs the global subscriber (a second call installs nothing). Keep the guard until the
/// program ends: dropping it writes out the queued lines.
pub fn init() -> Option<LogWriterGuard> {
    let format = std::env::var("MLGUARD_LOG_FORMAT").ok();
    mlguard_http::subscriber::init(LogFormat::from_setting(format.as_deref()))
}
