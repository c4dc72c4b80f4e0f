//! Parsing of the token request form (RFC 6749 sections 4.3.2 and 6).

use super::{OAuthError, OAuthErrorCode};
use std::fmt;
use zeroize::Zeroizing;

/// A parsed token request.
#[non_exhaustive]
pub enum GrantRequest {
    /// `grant_type=password` (or absent).
    Password {
        /// `username`.
        username: String,
        /// `password`.
        password: Zeroizing<String>,
        /// `scope`, raw.
        scope: Option<String>,
    },
    /// `grant_type=refresh_token`.
    RefreshToken {
        /// `refresh_token`.
        refresh_token: Zeroizing<String>,
        /// `scope`, raw.
        scope: Option<String>,
    },
}

impl fmt::Debug for GrantRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password { username, scope, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("scope", scope)
                .finish_non_exhaustive(),
            Self::RefreshToken { scope, .. } => f
                .debug_struct("RefreshToken")
                .field("scope", scope)
                .finish_non_exhaustive(),
        }
    }
}

const fn invalid(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidRequest, description)
}

/// Parses a token request: the content type must be `application/x-www-form-urlencoded`,
/// no parameter may repeat, unknown parameters (`client_id`, ...) are ignored.
///
/// ```
/// use mlguard_auth::token::{parse_form, GrantRequest};
/// let form = Some("application/x-www-form-urlencoded");
/// assert!(matches!(parse_form(form, b"username=a&password=b"), Ok(GrantRequest::Password { .. })));
/// assert!(parse_form(form, b"username=a&password=b&password=c").is_err());
/// assert!(parse_form(Some("application/json"), b"{}").is_err());
/// ```
pub fn parse_form(content_type: Option<&str>, body: &[u8]) -> Result<GrantRequest, OAuthError> {
    let is_form = content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| {
            ct.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(invalid("The body must be application/x-www-form-urlencoded"));
    }
    let pairs: Vec<(String, Zeroizing<String>)> = form_urlencoded(body)?;
    let mut seen: Vec<&str> = Vec::with_capacity(pairs.len());
    for (name, _) in &pairs {
        if seen.contains(&name.as_str()) {
            return Err(invalid("A parameter was repeated"));
        }
        seen.push(name);
    }
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let scope = get("scope").map(|s| s.to_string());
    match get("grant_type").as_deref().map(String::as_str) {
        None | Some("password") => {
            let (Some(username), Some(password)) = (get("username"), get("password")) else {
                return Err(invalid("username and password are required"));
            };
            if username.is_empty() {
                return Err(invalid("username and password are required"));
            }
            Ok(GrantRequest::Password {
                username: username.to_string(),
                password,
                scope,
            })
        }
        Some("refresh_token") => match get("refresh_token") {
            Some(refresh_token) if !refresh_token.is_empty() => {
                Ok(GrantRequest::RefreshToken { refresh_token, scope })
            }
            _ => Err(invalid("refresh_token is required")),
        },
        Some("") => Err(invalid("grant_type is empty")),
        Some(_) => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "Only the password and refresh_token grants are supported",
        )),
    }
}

fn form_urlencoded(body: &[u8]) -> Result<Vec<(String, Zeroizing<String>)>, OAuthError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| invalid("The form body could not be parsed"))?;
    Ok(pairs.into_iter().map(|(k, v)| (k, Zeroizing::new(v))).collect())
}

/// Splits a `scope` value (RFC 6749 section 3.3: space-delimited `scope-token`s of
/// `%x21 / %x23-5B / %x5D-7E`); `None` when a token has other characters.
pub(crate) fn parse_scope(scope: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        if !token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return None;
        }
        if !out.iter().any(|t| t == token) {
            out.push(token.to_owned());
        }
    }
    Some(out)
}
