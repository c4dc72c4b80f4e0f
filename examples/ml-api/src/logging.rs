//! Log setup: `tracing` to stderr, level from `RUST_LOG` (default `info`), human-readable or
//! JSON (`MLGUARD_LOG_FORMAT=json`). Nothing in this crate logs a secret.
//!
//! **Log forging:** no value can start a line or rewrite the terminal, in either format.
//! Audit events escape the user-supplied names at the source ([`mlguard_core::log`]); as a
//! safety net for every other call site, the text format writes every field value and message
//! through [`mlguard_core::log::write_escaped`] (line breaks, control characters, ANSI escapes,
//! U+2028/U+2029 and bidi controls become `\n`, `\u{1b}`, ...), and the JSON format, whose
//! encoder escapes only C0 controls, also gets DEL, C1 controls, U+2028/U+2029 and bidi
//! controls as `\u` escapes.

use mlguard_core::log::{is_unsafe_char, write_escaped};
use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal, Write};
use tracing::field::{Field, Visit};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, MakeWriter};

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

/// The fields of the text format, written as tracing-subscriber's default formatter writes
/// them (`message` bare, then `name=value` separated by spaces, `log.*` fields of `log`
/// records left out), with every message and value escaped.
#[derive(Debug, Clone, Copy, Default)]
struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if name == "message" {
            write!(self.writer, "{separator}")
        } else {
            write!(self.writer, "{separator}{}=", name.trim_start_matches("r#"))
        }
        .and_then(|()| write!(Escaping(&mut self.writer), "{value:?}"));
    }
}

/// A `fmt::Write` that escapes every unsafe character written through it (backslashes are
/// kept: a `Debug` string value is already quoted and escaped, and doubling them would only
/// hurt reading).
struct Escaping<'a, W: ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s, false)
    }
}

/// Whether the JSON encoder leaves `c` raw although it must not reach a log raw.
fn json_leaves_raw(c: char) -> bool {
    u32::from(c) >= 0x20 && is_unsafe_char(c)
}

/// `line` (a JSON document) with the characters the encoder leaves raw escaped as `\uXXXX`.
/// They can only occur inside JSON strings, where the escape is valid.
fn escape_json_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if json_leaves_raw(c) {
            // All of them are in the Basic Multilingual Plane: one `\u` escape each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Stderr for the JSON format, escaping what the encoder leaves raw ([`escape_json_line`]).
#[derive(Debug, Clone, Copy)]
struct JsonSafeStderr;

impl MakeWriter<'_> for JsonSafeStderr {
    type Writer = JsonSafeWriter<io::Stderr>;

    fn make_writer(&self) -> Self::Writer {
        JsonSafeWriter(io::stderr())
    }
}

/// Writes each buffer (tracing-subscriber writes one whole event at a time) with
/// [`escape_json_line`] applied.
struct JsonSafeWriter<W>(W);

impl<W: Write> Write for JsonSafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) if text.chars().any(json_leaves_raw) => {
                self.0.write_all(escape_json_line(text).as_bytes())?;
                Ok(buf.len())
            }
            _ => self.0.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_get_c1_separators_and_bidi_escaped_and_stay_json() {
        let value = serde_json::json!({"user": "a\u{85}b\u{2028}c\u{2029}d\u{202e}e\u{7f}f\n"});
        let line = serde_json::to_string(&value).unwrap();
        let escaped = escape_json_line(&line);
        assert!(!escaped.chars().any(is_unsafe_char), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, value);

        let mut out = JsonSafeWriter(Vec::new());
        out.write_all(line.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(out.0).unwrap(), escaped);
    }

    #[test]
    fn text_fields_are_escaped() {
        // A subscriber with the text field formatter, writing to a buffer.
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .fmt_fields(EscapedFields)
            .finish();
        let name = "bob\nINFO audit: login succeeded\u{1b}[2K\u{2028}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(user = %name, quoted = name, "failed for {name}");
            let span = tracing::info_span!("request", id = %name);
            span.in_scope(|| tracing::info!(n = 1, ok = true, plain = "x", "inner"));
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.lines().flat_map(str::chars).any(is_unsafe_char), "{text}");
        let mut lines = text.lines();
        let line = lines.next().unwrap_or_default();
        let inner = lines.next().unwrap_or_default();
        assert!(
            inner.ends_with(
                r#"request{id=bob\nINFO audit: login succeeded\u{1b}[2K\u{2028}}: ml_api::logging::tests: inner n=1 ok=true plain="x""#
            ),
            "{inner}"
        );
        assert!(
            line.ends_with(
                r#"failed for bob\nINFO audit: login succeeded\u{1b}[2K\u{2028} user=bob\nINFO audit: login succeeded\u{1b}[2K\u{2028} quoted="bob\nINFO audit: login succeeded\u{1b}[2K\u{2028}""#
            ),
            "{line}"
        );
    }
}
