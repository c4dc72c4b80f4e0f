//! How a token request went, as a typed value for audit events and metrics: the grant asked
//! for, a bounded and log-safe user name, and success or the reason of the failure. The
//! endpoint sets it on every answer ([`TokenResponse::outcome`](super::TokenResponse::outcome),
//! and as a response extension), so nothing downstream re-parses the form or the JSON body.

use std::fmt;

/// Longest user name an outcome keeps, in characters (longer ones are cut, with `...`).
pub const MAX_OUTCOME_USERNAME: usize = 64;

/// The grant a token request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantKind {
    /// `grant_type=password` (or absent).
    Password,
    /// `grant_type=refresh_token`.
    RefreshToken,
    /// Not known: the body was too large, unreadable, not a form, or asked for another grant.
    Unknown,
}

impl GrantKind {
    /// `password`, `refresh_token` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
            Self::Unknown => "unknown",
        }
    }
}

/// Why a token request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenFailure {
    /// Unknown user, wrong password, or a disabled account (`invalid_grant`).
    BadCredentials,
    /// An unknown or expired refresh token, or its user gone or disabled (`invalid_grant`).
    InvalidRefreshToken,
    /// A refresh token that was already used: its family is revoked (`invalid_grant`).
    RefreshTokenReused,
    /// The requested scope is malformed or exceeds what the user may get (`invalid_scope`).
    InvalidScope,
    /// A grant type other than `password` and `refresh_token` (`unsupported_grant_type`).
    UnsupportedGrantType,
    /// Not a valid token request: content type, missing or repeated parameters, an
    /// unreadable body (`invalid_request`).
    Malformed,
    /// The body is larger than the route's limit (413).
    TooLarge,
    /// Our own failure: a store or signing error (500).
    ServerError,
    /// Too many password checks in progress: refused before hashing (503 with `Retry-After`,
    /// `temporarily_unavailable`).
    Busy,
    /// A store's backend (the database) is down: refused without a decision (503 with
    /// `Retry-After`, `temporarily_unavailable`).
    Unavailable,
}

impl TokenFailure {
    /// A stable snake_case name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadCredentials => "bad_credentials",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::ServerError => "server_error",
            Self::Busy => "busy",
            Self::Unavailable => "unavailable",
        }
    }

    /// Whether this is an RFC 6749 `invalid_grant`: credentials or a refresh token refused.
    pub fn is_invalid_grant(self) -> bool {
        matches!(
            self,
            Self::BadCredentials | Self::InvalidRefreshToken | Self::RefreshTokenReused
        )
    }
}

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one token request went. Never holds a password or a token; the user name is cut to
/// [`MAX_OUTCOME_USERNAME`] characters and escaped with [`mlguard_core::log::escape`], so it
/// can go to any log as is.
///
/// ```
/// use mlguard_auth::token::{GrantKind, TokenFailure, TokenOutcome};
///
/// let outcome = TokenOutcome::failure(GrantKind::Password, Some("bob\nINFO forged"), TokenFailure::BadCredentials);
/// assert_eq!(outcome.username(), Some("bob\\nINFO forged"));
/// assert_eq!(outcome.failure_reason(), Some(TokenFailure::BadCredentials));
/// assert!(!outcome.is_success());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOutcome {
    grant: GrantKind,
    username: Option<String>,
    jti: Option<String>,
    failure: Option<TokenFailure>,
}

impl TokenOutcome {
    /// Tokens were issued; `jti` is the new access token's id.
    pub fn success(grant: GrantKind, username: Option<&str>, jti: &str) -> Self {
        Self {
            grant,
            username: username.map(log_safe_name),
            jti: Some(log_safe_name(jti)),
            failure: None,
        }
    }

    /// The request was refused for `reason`.
    pub fn failure(grant: GrantKind, username: Option<&str>, reason: TokenFailure) -> Self {
        Self {
            grant,
            username: username.map(log_safe_name),
            jti: None,
            failure: Some(reason),
        }
    }

    /// The grant asked for.
    pub fn grant(&self) -> GrantKind {
        self.grant
    }

    /// The user name sent with a password grant: at most [`MAX_OUTCOME_USERNAME`] characters
    /// (then `...`), control characters and line separators escaped. `None` for other grants.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The issued access token's id (`jti`), on success.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// Whether tokens were issued.
    pub fn is_success(&self) -> bool {
        self.failure.is_none()
    }

    /// Why the request was refused; `None` on success.
    pub fn failure_reason(&self) -> Option<TokenFailure> {
        self.failure
    }
}

fn log_safe_name(name: &str) -> String {
    mlguard_core::log::bounded(name, MAX_OUTCOME_USERNAME)
}
