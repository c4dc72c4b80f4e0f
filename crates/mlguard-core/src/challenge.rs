//! `WWW-Authenticate` challenges (RFC 9110 section 11.6.1, RFC 6750 section 3).
//!
//! A 401 response must carry a challenge. Authentication layers build one from their
//! configuration; authorization layers build the `insufficient_scope` form of RFC 6750 section 3.1.
//! Parameter values are written as quoted strings with `"` and `\` escaped, and characters that
//! may not appear in a header (control characters, non-ASCII) are dropped, so a value taken from
//! configuration can never split or corrupt the header.

use http::HeaderValue;
use std::fmt;

/// The RFC 6750 error codes carried in a Bearer challenge's `error` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BearerError {
    /// The request is missing a parameter or is otherwise malformed (400).
    InvalidRequest,
    /// The token is expired, revoked, malformed or invalid (401).
    InvalidToken,
    /// The token does not grant what the resource needs (403).
    InsufficientScope,
}

impl BearerError {
    /// The code as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }
}

/// One authentication challenge: a scheme and its auth-params.
///
/// ```
/// use mlguard_core::{BearerError, WwwAuthenticate};
///
/// let c = WwwAuthenticate::bearer()
///     .realm("ml-api")
///     .error(BearerError::InsufficientScope)
///     .param("scope", "model:predict");
/// assert_eq!(
///     c.to_string(),
///     r#"Bearer realm="ml-api", error="insufficient_scope", scope="model:predict""#
/// );
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
#[must_use]
pub struct WwwAuthenticate {
    scheme: String,
    params: Vec<(String, String)>,
}

impl WwwAuthenticate {
    /// A challenge for `scheme` (a token: characters outside RFC 9110 `tchar` are dropped).
    pub fn new(scheme: &str) -> Self {
        Self {
            scheme: scheme.chars().filter(|c| is_tchar(*c)).collect(),
            params: Vec::new(),
        }
    }

    /// The `Bearer` scheme of RFC 6750.
    pub fn bearer() -> Self {
        Self::new("Bearer")
    }

    /// The `realm` parameter.
    pub fn realm(self, realm: &str) -> Self {
        self.param("realm", realm)
    }

    /// The RFC 6750 `error` parameter.
    pub fn error(self, error: BearerError) -> Self {
        self.param("error", error.as_str())
    }

    /// The RFC 6750 `error_description` parameter (keep it free of anything the client sent).
    pub fn error_description(self, description: &str) -> Self {
        self.param("error_description", description)
    }

    /// Adds an auth-param; the value is written as a quoted string.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        let name: String = name.chars().filter(|c| is_tchar(*c)).collect();
        if !name.is_empty() {
            self.params.push((name, value.to_owned()));
        }
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The value of a parameter, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The challenge as a header value.
    pub fn to_header_value(&self) -> HeaderValue {
        // `Display` only emits visible ASCII, spaces and escaped quotes, which is always valid.
        HeaderValue::from_str(&self.to_string()).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }
}

impl fmt::Display for WwwAuthenticate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                match c {
                    '"' | '\\' => write!(f, "\\{c}")?,
                    ' ' | '\t' => write!(f, "{c}")?,
                    c if c.is_ascii_graphic() => write!(f, "{c}")?,
                    _ => {}
                }
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_scheme_without_params() {
        assert_eq!(WwwAuthenticate::bearer().to_string(), "Bearer");
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_and_controls_dropped() {
        let c = WwwAuthenticate::bearer().realm("a\"b\\c\r\nSet-Cookie: x\u{7f}é");
        assert_eq!(c.to_string(), r#"Bearer realm="a\"b\\cSet-Cookie: x""#);
        assert!(c.to_header_value().to_str().is_ok());
    }

    #[test]
    fn scheme_and_param_names_are_tokens() {
        let c = WwwAuthenticate::new("Api Key\n").param("he ader", "X");
        assert_eq!(c.to_string(), r#"ApiKey header="X""#);
        assert_eq!(c.get("HEADER"), Some("X"));
    }
}
