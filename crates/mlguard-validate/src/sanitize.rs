//! Sanitizing free-text fields: normalization, control characters, HTML, length.
//!
//! Validation says no; sanitizing changes the text so that storing it and showing it later is
//! safe. Each step stops one attack:
//!
//! | step | stops |
//! | --- | --- |
//! | [`Normalization::Nfc`] | normalization confusion: `é` as one code point or as `e` + combining accent compare unequal, so a deny list, a uniqueness check or a cache key can be bypassed with the other form |
//! | [`Normalization::Nfkc`] | the same, plus compatibility look-alikes: fullwidth `＜ｓｃｒｉｐｔ＞`, ligatures, superscripts fold to their plain forms *before* the HTML step sees them. (Neither form maps Cyrillic `а` to Latin `a`: cross-script homoglyphs need UTS #39 confusable detection, which this crate does not do.) |
//! | control characters removed | log injection (a `\r\n` in a field forges a new log line or header), terminal escape sequences (`\x1b[...`) in logs viewed in a terminal, NUL truncation in C consumers, and (with [`Sanitizer::remove_bidi`]) "Trojan Source" bidirectional overrides that make text display differently from what it is |
//! | [`Html::Strip`] / [`Html::Escape`] | stored XSS: a `<script>` or `<img onerror=...>` in a field that a web page later shows |
//! | length clamp | unbounded storage and log growth, and a huge value amplified into every page or response that echoes it |
//!
//! The steps run in that order: normalization first (NFKC can turn `＜` into `<`, so HTML
//! handling must come after it), the clamp last (escaping makes text longer), and the clamp
//! never cuts inside a character or an HTML entity.
//!
//! ```
//! use mlguard_validate::{Html, Normalization, Sanitizer};
//!
//! let s = Sanitizer::new()
//!     .normalization(Normalization::Nfkc)
//!     .html(Html::Strip)
//!     .keep_newlines(true)
//!     .max_chars(20)
//!     .build()?;
//! assert_eq!(s.sanitize("hi <script>alert(1)</script>there\r\n\u{1b}[31m"), "hi there\n[31m");
//! assert_eq!(s.sanitize("＜b＞bold＜/b＞"), "bold");
//! # Ok::<(), mlguard_validate::ConfigError>(())
//! ```

use crate::config::ConfigError;
use unicode_normalization::UnicodeNormalization;

/// Which Unicode normalization form to apply first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Normalization {
    /// Leave the text as it is.
    None,
    /// Canonical composition (NFC): the form the W3C recommends for text on the web.
    #[default]
    Nfc,
    /// Compatibility composition (NFKC): also folds fullwidth forms, ligatures and the like.
    /// Changes meaning for some text (`²` becomes `2`); use it for identifiers and search keys.
    Nfkc,
}

/// What to do with HTML in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Html {
    /// Leave it (the text is never put in a page, or the template escapes it).
    Keep,
    /// Remove every tag with `ammonia` (the content of `<script>` and `<style>` goes too);
    /// the remaining text is HTML-escaped, ready to put in a page as is.
    #[default]
    Strip,
    /// Escape every character that matters in HTML text or attributes (`ammonia::clean_text`):
    /// the text shows literally, tags and all.
    Escape,
    /// Keep ammonia's allow-list of harmless formatting tags (`<b>`, `<a href>` with
    /// `rel="noopener noreferrer"`, ...) and remove the rest.
    AllowSafeTags,
}

/// A composed sanitizer for free-text fields; see the [module docs](self) for what each step
/// stops. Build once, use for every request.
///
/// Defaults: NFC, control characters removed (newlines and tabs too), bidirectional
/// overrides removed, HTML stripped, whitespace trimmed, no length clamp.
#[derive(Debug, Clone)]
#[must_use]
pub struct Sanitizer {
    normalization: Normalization,
    html: Html,
    keep_newlines: bool,
    keep_tabs: bool,
    remove_bidi: bool,
    trim: bool,
    max_chars: Option<usize>,
}

impl Default for Sanitizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Sanitizer {
    /// The defaults (see the type docs).
    pub fn new() -> Self {
        Self {
            normalization: Normalization::Nfc,
            html: Html::Strip,
            keep_newlines: false,
            keep_tabs: false,
            remove_bidi: true,
            trim: true,
            max_chars: None,
        }
    }

    /// A preset for a multi-line text field shown on a web page (a comment, a description):
    /// NFC, HTML stripped, newlines and tabs kept, at most `max_chars` characters.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MaxChars`] when `max_chars` is 0.
    pub fn text_field(max_chars: usize) -> Result<Self, ConfigError> {
        Self::new()
            .keep_newlines(true)
            .keep_tabs(true)
            .max_chars(max_chars)
            .build()
    }

    /// A preset for a value written to logs: NFC, every control character removed (no CR/LF,
    /// so no forged log lines), HTML kept (logs are not HTML), at most `max_chars` characters.
    ///
    /// ```
    /// let s = mlguard_validate::Sanitizer::log_field(64)?;
    /// assert_eq!(s.sanitize("alice\r\nINFO admin logged in"), "aliceINFO admin logged in");
    /// # Ok::<(), mlguard_validate::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::MaxChars`] when `max_chars` is 0.
    pub fn log_field(max_chars: usize) -> Result<Self, ConfigError> {
        Self::new().html(Html::Keep).max_chars(max_chars).build()
    }

    /// The normalization form.
    pub fn normalization(mut self, form: Normalization) -> Self {
        self.normalization = form;
        self
    }

    /// What to do with HTML.
    pub fn html(mut self, html: Html) -> Self {
        self.html = html;
        self
    }

    /// Keep `\n` (a `\r\n` pair becomes `\n`; a lone `\r` is removed).
    pub fn keep_newlines(mut self, keep: bool) -> Self {
        self.keep_newlines = keep;
        self
    }

    /// Keep `\t`.
    pub fn keep_tabs(mut self, keep: bool) -> Self {
        self.keep_tabs = keep;
        self
    }

    /// Remove Unicode bidirectional embedding, override and isolate controls
    /// (U+202A..U+202E, U+2066..U+2069) and zero-width formatting characters
    /// (U+200B..U+200F, U+2060, U+FEFF). On by default.
    pub fn remove_bidi(mut self, remove: bool) -> Self {
        self.remove_bidi = remove;
        self
    }

    /// Trim leading and trailing whitespace. On by default.
    pub fn trim(mut self, trim: bool) -> Self {
        self.trim = trim;
        self
    }

    /// Clamp the result to `max_chars` characters (Unicode scalar values).
    pub fn max_chars(mut self, max_chars: usize) -> Self {
        self.max_chars = Some(max_chars);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MaxChars`] when `max_chars` is 0.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.max_chars == Some(0) {
            return Err(ConfigError::MaxChars);
        }
        Ok(self)
    }

    /// Applies every configured step, in order: normalize, remove control characters,
    /// handle HTML, trim, clamp.
    pub fn sanitize(&self, input: &str) -> String {
        let text: String = match self.normalization {
            Normalization::None => input.to_owned(),
            Normalization::Nfc => input.nfc().collect(),
            Normalization::Nfkc => input.nfkc().collect(),
        };
        let text = remove_control_chars(&text, self.keep_newlines, self.keep_tabs, self.remove_bidi);
        let text = match self.html {
            Html::Keep => text,
            Html::Strip => strip_html(&text),
            Html::Escape => escape_html(&text),
            Html::AllowSafeTags => ammonia::clean(&text),
        };
        let text = if self.trim { text.trim().to_owned() } else { text };
        match self.max_chars {
            Some(max) if self.html == Html::Keep => clamp_chars(&text, max).to_owned(),
            Some(max) => clamp_html_text(&text, max).to_owned(),
            None => text,
        }
    }
}

/// Removes every tag with `ammonia` (and the content of `<script>`/`<style>`); the result is
/// HTML-escaped text.
///
/// ```
/// assert_eq!(mlguard_validate::sanitize::strip_html("<b>5</b> < 6 <script>x()</script>"), "5 &lt; 6 ");
/// ```
pub fn strip_html(input: &str) -> String {
    ammonia::Builder::empty().clean(input).to_string()
}

/// Escapes every character that is special in HTML text or attribute values.
///
/// ```
/// assert_eq!(mlguard_validate::sanitize::escape_html("<i>"), "&lt;i&gt;");
/// ```
pub fn escape_html(input: &str) -> String {
    ammonia::clean_text(input)
}

/// Removes control characters (Unicode `Cc`), optionally keeping `\n` and `\t`; a `\r\n`
/// pair becomes `\n` when newlines are kept. With `remove_bidi`, also removes bidirectional
/// controls and zero-width formatting characters.
///
/// ```
/// use mlguard_validate::sanitize::remove_control_chars;
/// assert_eq!(remove_control_chars("a\r\nb\tc\0\u{202E}d", true, false, true), "a\nbcd");
/// assert_eq!(remove_control_chars("a\r\nb", false, false, true), "ab");
/// ```
pub fn remove_control_chars(input: &str, keep_newlines: bool, keep_tabs: bool, remove_bidi: bool) -> String {
    input
        .chars()
        .filter(|&c| match c {
            '\n' => keep_newlines,
            '\t' => keep_tabs,
            c if c.is_control() => false,
            c => !(remove_bidi && is_bidi_or_invisible(c)),
        })
        .collect()
}

fn is_bidi_or_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The longest prefix of `input` with at most `max_chars` characters; never cuts a character.
///
/// ```
/// assert_eq!(mlguard_validate::sanitize::clamp_chars("héllo", 2), "hé");
/// assert_eq!(mlguard_validate::sanitize::clamp_chars("hi", 10), "hi");
/// ```
pub fn clamp_chars(input: &str, max_chars: usize) -> &str {
    match input.char_indices().nth(max_chars) {
        Some((i, _)) => &input[..i],
        None => input,
    }
}

/// [`clamp_chars`] that also never leaves half an HTML entity (`&am`) at the end.
fn clamp_html_text(input: &str, max_chars: usize) -> &str {
    let cut = clamp_chars(input, max_chars);
    if cut.len() == input.len() {
        return cut;
    }
    match cut.rfind('&') {
        Some(amp) if !cut[amp..].contains(';') => &cut[..amp],
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_removed_or_neutralized_by_every_html_mode() {
        let input = r#"<script>alert(1)</script><img src=x onerror="alert(2)">hi"#;
        // Strip and Escape leave no markup at all.
        for html in [Html::Strip, Html::Escape] {
            let out = Sanitizer::new().html(html).sanitize(input);
            assert!(!out.contains('<') && !out.contains('>'), "{html:?}: {out}");
            assert!(out.ends_with("hi"), "{html:?}: {out}");
        }
        assert_eq!(Sanitizer::new().sanitize(input), "hi");
        // The allow-list keeps the image but not the script or the handler.
        let safe = Sanitizer::new().html(Html::AllowSafeTags).sanitize(input);
        assert_eq!(safe, r#"<img src="x">hi"#);
        assert_eq!(Sanitizer::new().html(Html::Keep).sanitize(input), input);
    }

    #[test]
    fn nfc_composes_and_nfkc_folds_fullwidth_before_html() {
        let decomposed = "e\u{0301}";
        assert_eq!(Sanitizer::new().sanitize(decomposed), "\u{00E9}");
        let fullwidth = "\u{FF1C}script\u{FF1E}alert(1)\u{FF1C}/script\u{FF1E}";
        let nfc = Sanitizer::new().html(Html::Escape).sanitize(fullwidth);
        assert!(!nfc.contains('<'));
        let nfkc = Sanitizer::new()
            .normalization(Normalization::Nfkc)
            .sanitize(fullwidth);
        assert_eq!(
            nfkc, "",
            "NFKC turned it into a real <script> which Strip removed"
        );
    }

    #[test]
    fn newlines_and_crlf() {
        let keep = Sanitizer::new().keep_newlines(true);
        assert_eq!(keep.sanitize("a\r\nb\rc\nd"), "a\nbc\nd");
        assert_eq!(Sanitizer::new().sanitize("a\r\nb"), "ab");
        assert_eq!(Sanitizer::new().keep_tabs(true).sanitize("a\tb"), "a\tb");
        assert_eq!(Sanitizer::new().sanitize("a\tb"), "ab");
    }

    #[test]
    fn clamp_respects_chars_and_entities() {
        let s = Sanitizer::new().max_chars(3).build().unwrap();
        assert_eq!(s.sanitize("日本語です"), "日本語");
        // "a &lt; b" cut at 5 would be "a &lt": the half entity is dropped.
        let s = Sanitizer::new().max_chars(5).build().unwrap();
        assert_eq!(s.sanitize("a < b"), "a ");
        assert!(Sanitizer::new().max_chars(0).build().is_err());
    }

    #[test]
    fn bidi_and_zero_width_removed_by_default() {
        assert_eq!(Sanitizer::new().sanitize("ab\u{202E}cd\u{200B}e"), "abcde");
        assert_eq!(
            Sanitizer::new().remove_bidi(false).sanitize("a\u{200B}b"),
            "a\u{200B}b"
        );
    }
}
