//! Audit events: one `tracing` event with target [`TARGET`] (`audit`) for each login (success
//! and failure), token refresh, access-token revocation, reused refresh token, API key creation
//! and revocation, and each denied request (401/403).
//!
//! **What it protects against:** attacks that go unnoticed (credential stuffing, a stolen
//! refresh token replayed, a key leaked and used), and log forging: a user name such as
//! `bob\nINFO audit: login succeeded` cannot write a line of its own, because every
//! user-supplied value is cut to [`MAX_USERNAME`] characters and escaped
//! ([`mlguard_core::log`]) before it reaches an event. No event holds a password, an API key
//! secret or a token; only ids (`key_id`, `jti`).
//!
//! Who writes them:
//!
//! | `event` | written by | level | fields |
//! |---|---|---|---|
//! | `login` | the `/token` route of feature `axum` (`token::token_route`), or [`token_request`] | INFO success, WARN failure | `outcome`, `user`, `jti` (success), `error` (RFC 6749 code, `-` for a 413), `reason` ([`TokenFailure`](crate::token::TokenFailure)), `peer` |
//! | `token_refresh` | the same, for `grant_type=refresh_token` | INFO / WARN | `outcome`, `jti` (success), `error`, `reason`, `peer` |
//! | `token_revoked` | [`AuditedRevocations`] | WARN | `outcome`, `jti` |
//! | `refresh_token_reused` | [`AuditedRefreshTokens`] | WARN | `revoked_access_tokens` |
//! | `api_key_created`, `api_key_revoked` | [`ApiKeyManager`](crate::apikey::ApiKeyManager) | INFO | `key_id`, `name`, `role` (the roles, comma-separated) |
//! | `access_denied` | [`access_denied`], from the service's own middleware (it knows the route) | WARN | `route`, `status`, `reason` ([`AuthFailure`](crate::AuthFailure) for a 401, `insufficient_permission` for a 403), `peer` |
//!
//! Select them with `RUST_LOG=info` and ship them apart from the rest with the target:
//! `RUST_LOG=warn,audit=info`.
//!
//! # Example
//!
//! The token endpoint with audited stores: a reused refresh token and the revocations it causes
//! are written as events.
//!
//! ```
//! use std::sync::Arc;
//! use mlguard_auth::audit::{AuditedRefreshTokens, AuditedRevocations};
//! use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
//! use mlguard_auth::refresh::MemoryRefreshStore;
//! use mlguard_auth::revocation::{MemoryRevocationStore, RevocationStore};
//! use mlguard_auth::token::TokenEndpoint;
//! use mlguard_auth::users::MemoryUserStore;
//!
//! let revocations: Arc<dyn RevocationStore> =
//!     Arc::new(AuditedRevocations::new(MemoryRevocationStore::new()));
//! let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[3u8; 32]).unwrap());
//! let endpoint = TokenEndpoint::new(Arc::new(MemoryUserStore::new()), issuer)
//!     .refresh_tokens(Arc::new(AuditedRefreshTokens::new(MemoryRefreshStore::new())))
//!     .revocation(revocations);
//! # let _ = endpoint;
//! ```

use crate::AuthError;
use crate::refresh::{Recorded, Redemption, RefreshGrant, RefreshTokenStore};
use crate::revocation::{BoxFuture, RevocationStore};
use crate::token::{GrantKind, MAX_OUTCOME_USERNAME, OAuthErrorCode, TokenOutcome};
use http::StatusCode;
use mlguard_core::log::LogSafe;
use std::fmt;
use std::net::IpAddr;
use std::time::SystemTime;
use zeroize::Zeroizing;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "audit";
/// Longest user-supplied name written to an event (longer ones are cut, with `...`).
pub const MAX_USERNAME: usize = MAX_OUTCOME_USERNAME;

fn bounded(name: &str) -> String {
    mlguard_core::log::bounded(name, MAX_USERNAME)
}

/// A peer address for an event: the IP, or `-` when unknown.
struct Peer(Option<IpAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The audit event of one token request (`login` or `token_refresh`), from its typed outcome
/// (whose user name is already bounded and escaped). The `/token` route of feature `axum`
/// calls it for every answer; call it yourself when you serve
/// [`TokenEndpoint::handle`](crate::token::TokenEndpoint::handle) another way.
///
/// ```
/// use mlguard_auth::token::{GrantKind, TokenFailure, TokenOutcome};
/// let outcome = TokenOutcome::failure(GrantKind::Password, Some("bob"), TokenFailure::BadCredentials);
/// mlguard_auth::audit::token_request(&outcome, Some([127, 0, 0, 1].into()));
/// ```
pub fn token_request(outcome: &TokenOutcome, peer: Option<IpAddr>) {
    let peer = Peer(peer);
    let user = outcome.username().unwrap_or("-");
    let Some(reason) = outcome.failure_reason() else {
        let jti = outcome.jti().unwrap_or("-");
        match outcome.grant() {
            GrantKind::RefreshToken => {
                tracing::info!(target: TARGET, event = "token_refresh", outcome = "success", jti, peer = %peer, "token refreshed");
            }
            _ => {
                tracing::info!(target: TARGET, event = "login", outcome = "success", user = %user, jti, peer = %peer, "login succeeded");
            }
        }
        return;
    };
    // The RFC 6749 code answered (`-` for a 413), and the finer reason.
    let error = reason.error_code().map_or("-", OAuthErrorCode::as_str);
    let reason = reason.as_str();
    match outcome.grant() {
        GrantKind::Password => {
            tracing::warn!(target: TARGET, event = "login", outcome = "failure", user = %user, error, reason, peer = %peer, "login failed");
        }
        GrantKind::RefreshToken => {
            tracing::warn!(target: TARGET, event = "token_refresh", outcome = "failure", error, reason, peer = %peer, "token refresh refused");
        }
        _ => {
            tracing::warn!(target: TARGET, event = "login", outcome = "failure", error, reason, peer = %peer, "malformed token request");
        }
    }
}

/// A denied request on `route` (a route template, escaped here all the same): a 401, whose
/// `reason` names the credential kind (never its value), or a 403 (`reason` is then
/// `insufficient_permission`, whatever was passed).
///
/// ```
/// use http::StatusCode;
/// mlguard_auth::audit::access_denied("/predict", StatusCode::UNAUTHORIZED, "invalid_api_key", None);
/// ```
pub fn access_denied(route: &str, status: StatusCode, reason: &str, peer: Option<IpAddr>) {
    let reason = if status == StatusCode::FORBIDDEN {
        "insufficient_permission"
    } else {
        reason
    };
    tracing::warn!(target: TARGET, event = "access_denied", route = %LogSafe(route), status = status.as_u16(), reason = %LogSafe(reason), peer = %Peer(peer), "access denied");
}

/// An API key was created, for `name` with `roles`.
pub(crate) fn api_key_created(key_id: &str, name: &str, roles: &[String]) {
    let role = bounded(&roles.join(","));
    tracing::info!(target: TARGET, event = "api_key_created", key_id = %LogSafe(key_id), name = %bounded(name), role = %role, "API key created");
}

/// An API key was revoked.
pub(crate) fn api_key_revoked(key_id: &str) {
    tracing::info!(target: TARGET, event = "api_key_revoked", key_id = %bounded(key_id), "API key revoked");
}

/// A [`RevocationStore`] that writes a `token_revoked` event for each revocation (an access
/// token denied before its expiry, e.g. when its refresh-token family was reused).
///
/// ```
/// use mlguard_auth::audit::AuditedRevocations;
/// use mlguard_auth::revocation::MemoryRevocationStore;
/// let store = AuditedRevocations::new(MemoryRevocationStore::new());
/// # let _ = store;
/// ```
#[derive(Debug)]
pub struct AuditedRevocations<R> {
    inner: R,
}

impl<R> AuditedRevocations<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner }
    }
}

impl<R: RevocationStore> RevocationStore for AuditedRevocations<R> {
    fn revoke<'a>(&'a self, jti: &'a str, until: SystemTime) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
            let result = self.inner.revoke(jti, until).await;
            let outcome = if result.is_ok() { "success" } else { "failure" };
            tracing::warn!(target: TARGET, event = "token_revoked", outcome, jti = %LogSafe(jti), "access token revoked");
            result
        })
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        self.inner.is_revoked(jti)
    }
}

/// A [`RefreshTokenStore`] that writes a `refresh_token_reused` event when a used refresh token
/// comes back (its family is then revoked). Every method, blocking and async, is forwarded to
/// the wrapped store (the SQL store answers the async ones on its own I/O runtime).
///
/// ```
/// use mlguard_auth::audit::AuditedRefreshTokens;
/// use mlguard_auth::refresh::MemoryRefreshStore;
/// let store = AuditedRefreshTokens::new(MemoryRefreshStore::new());
/// # let _ = store;
/// ```
#[derive(Debug)]
pub struct AuditedRefreshTokens<R> {
    inner: R,
}

impl<R> AuditedRefreshTokens<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self { inner }
    }
}

impl<R: RefreshTokenStore> RefreshTokenStore for AuditedRefreshTokens<R> {
    fn issue(
        &self,
        username: &str,
        scope: Option<&[String]>,
        family: Option<&str>,
    ) -> Result<(Zeroizing<String>, String), AuthError> {
        self.inner.issue(username, scope, family)
    }

    fn peek(&self, token: &str) -> Result<Option<RefreshGrant>, AuthError> {
        self.inner.peek(token)
    }

    fn redeem(&self, token: &str) -> Result<Redemption, AuthError> {
        Ok(audit_redemption(self.inner.redeem(token)?))
    }

    fn record_access_token(
        &self,
        family: &str,
        jti: &str,
        expires_at: SystemTime,
    ) -> Result<Recorded, AuthError> {
        self.inner.record_access_token(family, jti, expires_at)
    }

    // The async methods are forwarded, not left to the trait's defaults (which would call the
    // blocking ones): the SQL store answers them on its own I/O runtime.
    fn issue_async<'a>(
        &'a self,
        username: &'a str,
        scope: Option<&'a [String]>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(Zeroizing<String>, String), AuthError>> {
        self.inner.issue_async(username, scope, family)
    }

    fn peek_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<RefreshGrant>, AuthError>> {
        self.inner.peek_async(token)
    }

    fn redeem_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Redemption, AuthError>> {
        Box::pin(async move { Ok(audit_redemption(self.inner.redeem_async(token).await?)) })
    }

    fn record_access_token_async<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<Recorded, AuthError>> {
        self.inner.record_access_token_async(family, jti, expires_at)
    }
}

/// Writes the `refresh_token_reused` event for a reuse; passes the redemption on.
fn audit_redemption(redemption: Redemption) -> Redemption {
    if let Redemption::Reused { access_tokens } = &redemption {
        tracing::warn!(
            target: TARGET,
            event = "refresh_token_reused",
            revoked_access_tokens = access_tokens.len(),
            "a used refresh token was presented again; its family is revoked"
        );
    }
    redemption
}
