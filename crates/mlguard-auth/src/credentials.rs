//! Parsing of the `Authorization: Bearer <token>` header (RFC 6750 section 2.1).
//!
//! The scheme is matched case-insensitively (RFC 9110 section 11.1); the token must be a single
//! `token68` with nothing after it (`Bearer x junk` is rejected, not truncated), and the header
//! is refused before any parsing when it is longer than the configured bound.

use http::HeaderMap;
use http::header::AUTHORIZATION;

/// Why a bearer credential could not be extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialError {
    /// No `Authorization` header.
    Missing,
    /// A scheme other than `Bearer` (e.g. `Basic`).
    WrongScheme,
    /// More than one `Authorization` header, non-ASCII bytes, an empty token, or junk after it.
    Malformed,
    /// The header is longer than the bound.
    TooLarge,
}

/// Extracts the bearer token from an `Authorization` header value.
///
/// ```
/// use mlguard_auth::credentials::{parse_bearer, CredentialError};
///
/// assert_eq!(parse_bearer(b"bEaReR abc.def.ghi", 8192), Ok("abc.def.ghi"));
/// assert_eq!(parse_bearer(b"Bearer x junk", 8192), Err(CredentialError::Malformed));
/// assert_eq!(parse_bearer(b"Basic dXNlcjpwYXNz", 8192), Err(CredentialError::WrongScheme));
/// ```
pub fn parse_bearer(value: &[u8], max_len: usize) -> Result<&str, CredentialError> {
    if value.len() > max_len.saturating_add(16) {
        return Err(CredentialError::TooLarge);
    }
    let value = std::str::from_utf8(value).map_err(|_| CredentialError::Malformed)?;
    let value = value.trim_end_matches([' ', '\t']);
    let (scheme, rest) = match value.split_once(' ') {
        Some(parts) => parts,
        None if value.eq_ignore_ascii_case("bearer") => return Err(CredentialError::Malformed),
        None => return Err(CredentialError::WrongScheme),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(CredentialError::WrongScheme);
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() || !is_token68(token) {
        return Err(CredentialError::Malformed);
    }
    if token.len() > max_len {
        return Err(CredentialError::TooLarge);
    }
    Ok(token)
}

/// The bearer token of a request's headers; exactly one `Authorization` header is allowed.
pub fn bearer_from_headers(headers: &HeaderMap, max_len: usize) -> Result<&str, CredentialError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let first = values.next().ok_or(CredentialError::Missing)?;
    if values.next().is_some() {
        return Err(CredentialError::Malformed);
    }
    parse_bearer(first.as_bytes(), max_len)
}

/// RFC 9110 `token68`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_scheme_casing_and_extra_spaces() {
        for v in ["Bearer t", "bearer t", "BEARER t", "Bearer   t", "Bearer t  "] {
            assert_eq!(parse_bearer(v.as_bytes(), 100), Ok("t"), "{v}");
        }
    }

    #[test]
    fn rejects_junk_other_schemes_and_empty_tokens() {
        assert_eq!(
            parse_bearer(b"Bearer x junk", 100),
            Err(CredentialError::Malformed)
        );
        assert_eq!(parse_bearer(b"Bearer", 100), Err(CredentialError::Malformed));
        assert_eq!(parse_bearer(b"Bearer ", 100), Err(CredentialError::Malformed));
        assert_eq!(parse_bearer(b"Bearer a,b", 100), Err(CredentialError::Malformed));
        assert_eq!(parse_bearer(b"Bearer =", 100), Err(CredentialError::Malformed));
        assert_eq!(parse_bearer(b"Basic abc", 100), Err(CredentialError::WrongScheme));
        assert_eq!(
            parse_bearer(b"Bearerx abc", 100),
            Err(CredentialError::WrongScheme)
        );
        assert_eq!(parse_bearer(b"Token", 100), Err(CredentialError::WrongScheme));
        assert_eq!(
            parse_bearer("Bearer \u{e9}".as_bytes(), 100),
            Err(CredentialError::Malformed)
        );
    }

    #[test]
    fn rejects_oversized_before_parsing() {
        let long = format!("Bearer {}", "a".repeat(101));
        assert_eq!(parse_bearer(long.as_bytes(), 100), Err(CredentialError::TooLarge));
        let huge = format!("Bearer {}", "a".repeat(1000));
        assert_eq!(parse_bearer(huge.as_bytes(), 100), Err(CredentialError::TooLarge));
    }

    #[test]
    fn two_authorization_headers_are_malformed() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_from_headers(&h, 100), Err(CredentialError::Missing));
        h.append(AUTHORIZATION, "Bearer a".parse().unwrap());
        assert_eq!(bearer_from_headers(&h, 100), Ok("a"));
        h.append(AUTHORIZATION, "Bearer b".parse().unwrap());
        assert_eq!(bearer_from_headers(&h, 100), Err(CredentialError::Malformed));
    }
}
