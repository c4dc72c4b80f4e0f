//! One call to install the `tracing` subscriber the layers' events are written for (with the
//! `subscriber` feature): [`init`].
//!
//! **What it protects against:** the two ways a log hurts a server. Forged lines: every field
//! value is escaped by [`log_format`](crate::log_format) (text: [`EscapedFields`]; JSON:
//! [`JsonSafeWriter`]), so a newline or an escape sequence in a header a client chose cannot
//! start a fake line or repaint a terminal. Requests that wait on the log: lines go through
//! [`log_writer`](crate::log_writer)'s bounded queue and are written by its own thread, dropped
//! and counted when the sink is stuck. Timestamps are RFC 3339 UTC with microseconds
//! ([`CachedSystemTime`]); the level filter is `RUST_LOG` (default `info`); colours only when
//! stderr is a terminal.
//!
//! Build the subscriber yourself from those parts when you need other layers (an OpenTelemetry
//! exporter, a file): [`init`] is only their usual assembly, writing to stderr.
//!
//! ```
//! use mlguard_http::subscriber::{LogFormat, init};
//! // Keep the guard until the program ends: dropping it writes out the queued lines.
//! let guard = init(LogFormat::Text);
//! tracing::info!("started");
//! drop(guard);
//! ```

use crate::log_format::{CachedSystemTime, EscapedFields, JsonSafeWriter};
use crate::log_writer::{LogWriterBuilder, LogWriterGuard};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The line format of [`init`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// tracing-subscriber's text lines, values escaped.
    #[default]
    Text,
    /// One JSON object per line, escaped for terminals too.
    Json,
}

impl LogFormat {
    /// `json` (any case) is [`LogFormat::Json`]; anything else, or nothing, is text. For a
    /// variable such as `MLGUARD_LOG_FORMAT`.
    ///
    /// ```
    /// use mlguard_http::subscriber::LogFormat;
    /// assert_eq!(LogFormat::from_setting(Some("JSON")), LogFormat::Json);
    /// assert_eq!(LogFormat::from_setting(None), LogFormat::Text);
    /// ```
    #[must_use]
    pub fn from_setting(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// Installs the global subscriber: `format` lines to stderr through a
/// [`LogWriterBuilder`] writer of the default size, level from `RUST_LOG` (default `info`). Returns
/// the writer's guard (keep it until the program ends), or `None` when a global subscriber
/// was already installed (nothing is changed then) or the writer thread cannot start.
#[must_use = "dropping the guard at once stops the writer"]
pub fn init(format: LogFormat) -> Option<LogWriterGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal, not in files, journald or pipes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(CachedSystemTime)
        .with_target(true);
    let (installed, guard) = match format {
        LogFormat::Json => {
            let (writer, guard) = LogWriterBuilder::new()
                .build(JsonSafeWriter(std::io::stderr()))
                .ok()?;
            (builder.json().with_writer(writer).try_init(), guard)
        }
        LogFormat::Text => {
            let (writer, guard) = LogWriterBuilder::new().build(std::io::stderr()).ok()?;
            let subscriber = builder.with_writer(writer).fmt_fields(EscapedFields);
            (subscriber.try_init(), guard)
        }
    };
    installed.ok().map(|()| guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_in_any_case_selects_json() {
        for value in ["json", "JSON", "Json", "jSoN"] {
            assert_eq!(LogFormat::from_setting(Some(value)), LogFormat::Json, "{value}");
        }
        for value in [
            None,
            Some(""),
            Some("text"),
            Some("jsonl"),
            Some(" json"),
            Some("yaml"),
        ] {
            assert_eq!(LogFormat::from_setting(value), LogFormat::Text, "{value:?}");
        }
    }
}
