//! Log formats that cannot be forged (with the `subscriber` feature): field formatting and a
//! writer for `tracing-subscriber`'s `fmt` layer.
//!
//! **What it protects against:** log forging. A user-supplied value (a user name, a path, a
//! header another layer chose to log) that holds a line break, a control character, an ANSI
//! escape, U+2028/U+2029 or a bidi control can start a fake line in a text log or rewrite the
//! terminal. [`EscapedFields`] writes every message and field value of the text format through
//! [`mlguard_core::log::write_escaped`] (`\n`, `\u{1b}`, ...); for the JSON format, whose
//! encoder escapes only C0 controls, [`JsonSafeStderr`] also escapes DEL, C1 controls,
//! U+2028/U+2029 and bidi controls as `\u` escapes (valid JSON, same value). Escape values at
//! the source too ([`mlguard_core::log`]); this is the safety net for every other call site.
//!
//! [`CachedSystemTime`] writes the same timestamps as tracing-subscriber's default timer,
//! formatting the date and time of day once per second per thread instead of once per line.
//!
//! ```
//! use mlguard_http::log_format::{CachedSystemTime, EscapedFields, JsonSafeStderr};
//! // Text:
//! let text = tracing_subscriber::fmt()
//!     .fmt_fields(EscapedFields)
//!     .with_timer(CachedSystemTime)
//!     .with_writer(std::io::stderr)
//!     .finish();
//! // JSON:
//! let json = tracing_subscriber::fmt().json().with_writer(JsonSafeStderr).finish();
//! # let _ = (text, json);
//! ```

use mlguard_core::log::{is_unsafe_char, write_escaped};
use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::time::UNIX_EPOCH;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};

/// The fields of the text format, written as tracing-subscriber's default formatter writes
/// them (`message` bare, then `name=value` separated by spaces, `log.*` fields of `log`
/// records left out), with every message and value escaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

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

/// RFC 3339 UTC timestamps with microseconds (`2026-12-02T01:03:21.123456Z`), exactly as
/// tracing-subscriber's default [`SystemTime`] timer writes them, with the part up to the second
/// formatted once per second per thread (the rest is six digits). Give it to the `fmt`
/// builder's `with_timer`; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct CachedSystemTime;

thread_local! {
    /// The last second this thread formatted: Unix seconds and `YYYY-MM-DDTHH:MM:SS`.
    static LAST_SECOND: Cell<Option<(u64, [u8; 19])>> = const { Cell::new(None) };
}

impl FormatTime for CachedSystemTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let Ok(now) = std::time::SystemTime::now().duration_since(UNIX_EPOCH) else {
            return SystemTime.format_time(w); // before 1970: the general formatter
        };
        let secs = now.as_secs();
        let cached = LAST_SECOND.with(|last| match last.get() {
            Some((second, prefix)) if second == secs => Some(prefix),
            _ => {
                let prefix = mlguard_core::clock::utc_date_time(secs)?;
                last.set(Some((secs, prefix)));
                Some(prefix)
            }
        });
        // After year 9999 (no fixed-width form): the general formatter.
        let Some(prefix) = cached else {
            return SystemTime.format_time(w);
        };
        let mut out = [0u8; 27];
        out[..19].copy_from_slice(&prefix);
        out[19] = b'.';
        let mut micros = now.subsec_micros();
        for digit in out[20..26].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        out[26] = b'Z';
        w.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

/// Whether the JSON encoder leaves `c` raw although it must not reach a log raw.
fn json_leaves_raw(c: char) -> bool {
    u32::from(c) >= 0x20 && is_unsafe_char(c)
}

/// `line` (a JSON document) with the characters the encoder leaves raw escaped as `\uXXXX`.
/// They can only occur inside JSON strings, where the escape is valid.
pub fn escape_json_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if json_leaves_raw(c) {
            // All of them are in the Basic Multilingual Plane: one `\u` escape each.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Stderr for the JSON format, escaping what the encoder leaves raw ([`escape_json_line`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSafeStderr;

impl MakeWriter<'_> for JsonSafeStderr {
    type Writer = JsonSafeWriter<io::Stderr>;

    fn make_writer(&self) -> Self::Writer {
        JsonSafeWriter(io::stderr())
    }
}

/// Writes each buffer (tracing-subscriber writes one whole event at a time, a
/// [`LogWriter`](crate::log_writer::LogWriter) one or several whole events) with
/// [`escape_json_line`] applied to the inner writer. Each buffer is written whole
/// (`write_all`), so a caller never hands over the rest of a line on its own.
#[derive(Debug)]
pub struct JsonSafeWriter<W>(pub W);

impl<W: Write> Write for JsonSafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) if text.chars().any(json_leaves_raw) => {
                self.0.write_all(escape_json_line(text).as_bytes())?;
            }
            _ => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer a subscriber writes to.
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

    /// What `f` logs through a text subscriber with [`EscapedFields`].
    fn text_of(f: impl FnOnce()) -> String {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .fmt_fields(EscapedFields)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    /// One timestamp from `timer`.
    fn format(timer: &dyn FormatTime) -> String {
        let mut s = String::new();
        timer.format_time(&mut Writer::new(&mut s)).unwrap();
        s
    }

    /// The time since 1970 on the clock the timers read.
    fn since_epoch() -> std::time::Duration {
        std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
    }

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

    /// The cached timer writes what tracing-subscriber's own timer writes, to the second (the
    /// two read the clock apart, so a pair that straddles a second is read again).
    #[test]
    fn cached_timestamps_match_the_default_timer() {
        for _ in 0..100 {
            let ours = format(&CachedSystemTime);
            let theirs = format(&SystemTime);
            let again = format(&CachedSystemTime);
            assert_eq!(ours.len(), 27, "{ours}");
            assert_eq!(ours.len(), theirs.len(), "{ours} {theirs}");
            assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
            if ours[..19] == again[..19] {
                assert_eq!(ours[..19], theirs[..19]);
                return;
            }
        }
        panic!("the clock never held still for a second");
    }

    #[test]
    fn text_fields_are_escaped() {
        let name = "bob\nINFO audit: login succeeded\u{1b}[2K\u{2028}";
        let text = text_of(|| {
            tracing::warn!(user = %name, quoted = name, "failed for {name}");
            let span = tracing::info_span!("request", id = %name);
            span.in_scope(|| tracing::info!(n = 1, ok = true, plain = "x", "inner"));
        });
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.lines().flat_map(str::chars).any(is_unsafe_char), "{text}");
        let mut lines = text.lines();
        let line = lines.next().unwrap_or_default();
        let inner = lines.next().unwrap_or_default();
        assert!(
            inner.ends_with(
                r#"request{id=bob\nINFO audit: login succeeded\u{1b}[2K\u{2028}}: mlguard_http::log_format::tests: inner n=1 ok=true plain="x""#
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

    /// The `log.*` fields of records from the `log` crate are left out, as tracing-subscriber's
    /// default formatter leaves them out.
    #[test]
    fn log_fields_are_left_out() {
        let text = text_of(|| {
            tracing::info!(log.target = "forged", log.line = 7u32, user = "a", "message");
        });
        assert!(text.trim_end().ends_with(r#": message user="a""#), "{text}");
        assert!(!text.contains("log.") && !text.contains("forged"), "{text}");
    }

    /// Within one second the date and time of day come from the thread's cache, not from a new
    /// formatting: a marker put in the cache for the current second is what is written.
    #[test]
    fn the_prefix_is_formatted_once_per_second() {
        const MARKER: &[u8; 19] = b"cached-prefix-19ch!";
        for _ in 0..100 {
            let secs = since_epoch().as_secs();
            LAST_SECOND.with(|last| last.set(Some((secs, *MARKER))));
            let stamp = format(&CachedSystemTime);
            if since_epoch().as_secs() == secs {
                assert_eq!(stamp.as_bytes()[..19], MARKER[..], "{stamp}");
                return;
            }
        }
        panic!("the clock never held still for a second");
    }

    /// A cached prefix of an earlier second is replaced, never written again.
    #[test]
    fn a_prefix_of_an_earlier_second_is_replaced() {
        let secs = since_epoch().as_secs();
        LAST_SECOND.with(|last| last.set(Some((secs - 1, *b"cached-prefix-19ch!"))));
        let stamp = format(&CachedSystemTime);
        assert!(!stamp.starts_with("cached"), "{stamp}");
        let after = since_epoch().as_secs();
        assert!(
            (secs..=after).any(|s| mlguard_core::clock::utc_date_time(s)
                .is_some_and(|prefix| prefix[..] == stamp.as_bytes()[..19])),
            "{stamp}"
        );
        let cached = LAST_SECOND.with(Cell::get).map(|(second, _)| second);
        assert!(cached.is_some_and(|second| second >= secs), "{cached:?}");
    }

    /// The six digits after the second are the clock's microseconds, read between two
    /// readings of the same clock.
    #[test]
    fn the_microseconds_are_the_clocks() {
        let mut checked = 0;
        for _ in 0..200 {
            let before = since_epoch();
            let stamp = format(&CachedSystemTime);
            let after = since_epoch();
            let digits = &stamp[20..26];
            assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{stamp}");
            if before.as_secs() == after.as_secs() {
                let micros: u32 = digits.parse().unwrap();
                assert!(
                    (before.subsec_micros()..=after.subsec_micros()).contains(&micros),
                    "{before:?} {stamp} {after:?}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 100, "{checked}");
    }

    /// `flush` reaches the inner writer (a `BufWriter` holds the line until then).
    #[test]
    fn flush_reaches_the_inner_writer() {
        let mut out = JsonSafeWriter(io::BufWriter::new(Vec::new()));
        out.write_all(b"{\"a\":1}\n").unwrap();
        assert!(out.0.get_ref().is_empty());
        out.flush().unwrap();
        assert_eq!(out.0.get_ref().as_slice(), b"{\"a\":1}\n");
    }
}
