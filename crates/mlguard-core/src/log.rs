//! Log-safe text: user-supplied values (a user name, a key name) escaped before they reach a
//! log, so that a value cannot end the current line and forge another event, rewrite the
//! terminal (ANSI escape sequences), or hide text (bidi overrides).
//!
//! Escaped: the backslash (`\\`, so an escape cannot be faked), `\n`, `\r` and `\t` (as those
//! two-character escapes), every other control character (C0, DEL, C1: `\u{1b}`), the Unicode
//! line and paragraph separators (U+2028, U+2029) and the bidi embedding, override and isolate
//! characters (U+202A-U+202E, U+2066-U+2069) as `\u{..}`. Everything else is kept.
//!
//! ```
//! use mlguard_core::log::{LogSafe, escape};
//!
//! let forged = "bob\nINFO audit: login succeeded user=admin";
//! assert_eq!(escape(forged), "bob\\nINFO audit: login succeeded user=admin");
//! assert_eq!(escape("plain-name"), "plain-name");
//! assert_eq!(format!("{}", LogSafe("\u{1b}[2K\u{2028}")), "\\u{1b}[2K\\u{2028}");
//! ```

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must be escaped in a log (see the [module docs](self)). The backslash is not
/// one: [`escape`] escapes it to stay unambiguous, a filter that only removes line breaks and
/// control sequences need not.
///
/// ```
/// use mlguard_core::log::is_unsafe_char;
/// assert!(is_unsafe_char('\n') && is_unsafe_char('\u{85}') && is_unsafe_char('\u{202e}'));
/// assert!(!is_unsafe_char('a') && !is_unsafe_char('é') && !is_unsafe_char('\\'));
/// ```
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `value` with every unsafe character (and the backslash) escaped; borrowed when nothing
/// needed escaping.
pub fn escape(value: &str) -> Cow<'_, str> {
    if value.chars().any(|c| c == '\\' || is_unsafe_char(c)) {
        let mut out = String::with_capacity(value.len() + 8);
        // Writing to a String cannot fail.
        let _ = write_escaped(&mut out, value, true);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(value)
    }
}

/// Writes `value` to `out`, escaping the unsafe characters, and the backslash when
/// `backslash` is set.
///
/// # Errors
/// Those of `out`.
pub fn write_escaped<W: fmt::Write + ?Sized>(out: &mut W, value: &str, backslash: bool) -> fmt::Result {
    let mut rest = value;
    while let Some((at, c)) = rest
        .char_indices()
        .find(|&(_, c)| (backslash && c == '\\') || is_unsafe_char(c))
    {
        out.write_str(&rest[..at])?;
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            other => write!(out, "\\u{{{:x}}}", u32::from(other))?,
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.write_str(rest)
}

/// Displays its string escaped, for a `tracing` field: `user = %LogSafe(name)`.
#[derive(Debug, Clone, Copy)]
pub struct LogSafe<'a>(pub &'a str);

impl fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, true)
    }
}

/// At most `max` characters of `value`, escaped, with `...` when it was cut: a user-supplied
/// name ready for a log event (bounded so a long value cannot flood the log).
///
/// ```
/// use mlguard_core::log::bounded;
/// assert_eq!(bounded("alice", 64), "alice");
/// assert_eq!(bounded("abcdef", 3), "abc...");
/// assert_eq!(bounded("a\nb", 64), "a\\nb");
/// ```
pub fn bounded(value: &str, max: usize) -> String {
    let cut = value
        .char_indices()
        .nth(max)
        .map_or(value, |(at, _)| &value[..at]);
    let mut out = escape(cut).into_owned();
    if cut.len() < value.len() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_break_and_control_is_escaped() {
        let nasty =
            "a\nb\rc\td\u{0}e\u{7}f\u{1b}[31mg\u{7f}h\u{85}i\u{9b}j\u{2028}k\u{2029}l\u{202e}m\u{2066}n\\o";
        let escaped = escape(nasty);
        assert!(!escaped.chars().any(is_unsafe_char), "{escaped}");
        assert_eq!(
            escaped,
            "a\\nb\\rc\\td\\u{0}e\\u{7}f\\u{1b}[31mg\\u{7f}h\\u{85}i\\u{9b}j\\u{2028}k\\u{2029}l\\u{202e}m\\u{2066}n\\\\o"
        );
        assert_eq!(LogSafe(nasty).to_string(), escaped);
    }

    #[test]
    fn safe_text_is_borrowed_and_unchanged() {
        assert!(matches!(escape("alice@example.com é 日本"), Cow::Borrowed(_)));
    }

    #[test]
    fn without_backslash_escaping_only_unsafe_chars_change() {
        let mut out = String::new();
        write_escaped(&mut out, "a\\n\nb", false).unwrap();
        assert_eq!(out, "a\\n\\nb");
    }

    #[test]
    fn bounded_counts_characters_before_escaping() {
        assert_eq!(bounded("ééé", 2), "éé...");
        assert_eq!(bounded("\n\n\n", 2), "\\n\\n...");
        assert_eq!(bounded("", 2), "");
    }
}
