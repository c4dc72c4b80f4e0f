//! Audit events: one `tracing` event with target [`TARGET`] (`audit`) for each login (success
//! and failure), token refresh, token revocation, API key creation and revocation, and each
//! denied request (401/403).
//!
//! Every event has an `event` field (`login`, `token_refresh`, `token_revoked`,
//! `refresh_token_reused`, `api_key_created`, `api_key_revoked`, `access_denied`) and an
//! `outcome` where one applies. Events carry who and what (user name, key id, route, peer
//! address, token id `jti`) and never a password, an API key, or a token. The token events are
//! written from the [`TokenOutcome`] that mlguard-auth's token route sets on each answer: the
//! form and the answer are not read again here. User-supplied values (user and key names) are
//! cut to [`MAX_USERNAME`] characters and escaped ([`mlguard_core::log`]), so a name cannot
//! forge a log line in any format.
//!
//! Select them with `RUST_LOG=info` (they are INFO and WARN) and ship them apart from the rest
//! with the target: `RUST_LOG=warn,audit=info`.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use mlguard_auth::AuthError;
use mlguard_auth::refresh::{Recorded, Redemption, RefreshGrant, RefreshTokenStore};
use mlguard_auth::revocation::{BoxFuture, RevocationStore};
use mlguard_auth::token::{GrantKind, MAX_OUTCOME_USERNAME, OAuthErrorCode, TokenOutcome};
use mlguard_core::log::LogSafe;
use std::net::IpAddr;
use std::time::SystemTime;
use zeroize::Zeroizing;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "audit";
/// Longest user name written to an event (longer ones are cut, with `...`).
pub const MAX_USERNAME: usize = MAX_OUTCOME_USERNAME;

fn bounded(name: &str) -> String {
    mlguard_core::log::bounded(name, MAX_USERNAME)
}

/// A peer address for an event: the IP, or `-` when unknown.
struct Peer(Option<IpAddr>);

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The audit event of one token request, from its typed outcome (whose user name
/// mlguard-auth has already bounded and escaped).
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

/// Middleware for the token route: writes the audit event of each request from the
/// [`TokenOutcome`] in the answer's extensions. Mount it with `MethodRouter::layer`.
pub async fn token_events(request: Request, next: Next) -> Response {
    let peer = mlguard_core::client_ip::peer_addr(request.extensions()).map(|a| a.ip());
    let response = next.run(request).await;
    if let Some(outcome) = response.extensions().get::<TokenOutcome>() {
        token_request(outcome, peer);
    }
    response
}

/// A denied request: 401 (`reason` names the credential kind, never its value) or 403.
pub fn access_denied(route: &str, status: StatusCode, reason: &str, peer: Option<IpAddr>) {
    let reason = if status == StatusCode::FORBIDDEN {
        "insufficient_permission"
    } else {
        reason
    };
    tracing::warn!(target: TARGET, event = "access_denied", route, status = status.as_u16(), reason, peer = %Peer(peer), "access denied");
}

/// An API key was created (by `ml-api apikey create`).
pub fn api_key_created(key_id: &str, name: &str, role: &str) {
    tracing::info!(target: TARGET, event = "api_key_created", key_id = %LogSafe(key_id), name = %bounded(name), role = %LogSafe(role), "API key created");
}

/// An API key was revoked (by `ml-api apikey revoke`).
pub fn api_key_revoked(key_id: &str) {
    tracing::info!(target: TARGET, event = "api_key_revoked", key_id = %bounded(key_id), "API key revoked");
}

/// A [`RevocationStore`] that writes an audit event for each revocation (an access token
/// denied before its expiry, e.g. when its refresh-token family was reused).
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
    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        until: SystemTime,
    ) -> futures_util::future::BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
            let result = self.inner.revoke(jti, until).await;
            let outcome = if result.is_ok() { "success" } else { "failure" };
            tracing::warn!(target: TARGET, event = "token_revoked", outcome, jti = %LogSafe(jti), "access token revoked");
            result
        })
    }

    fn is_revoked<'a>(
        &'a self,
        jti: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<bool, AuthError>> {
        self.inner.is_revoked(jti)
    }
}

/// A [`RefreshTokenStore`] that writes an audit event when a used refresh token comes back
/// (its family is then revoked).
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

#[cfg(test)]
mod tests {
    use super::*;
    use mlguard_auth::refresh::MemoryRefreshStore;

    /// A refresh store like the SQL one: its blocking methods must not be reached from async
    /// code (they panic here); the async ones delegate to memory.
    #[derive(Debug, Default)]
    struct AsyncOnly(MemoryRefreshStore);

    impl RefreshTokenStore for AsyncOnly {
        fn issue(
            &self,
            _: &str,
            _: Option<&[String]>,
            _: Option<&str>,
        ) -> Result<(Zeroizing<String>, String), AuthError> {
            panic!("blocking issue() reached")
        }
        fn peek(&self, _: &str) -> Result<Option<RefreshGrant>, AuthError> {
            panic!("blocking peek() reached")
        }
        fn redeem(&self, _: &str) -> Result<Redemption, AuthError> {
            panic!("blocking redeem() reached")
        }
        fn record_access_token(&self, _: &str, _: &str, _: SystemTime) -> Result<Recorded, AuthError> {
            panic!("blocking record_access_token() reached")
        }
        fn issue_async<'a>(
            &'a self,
            username: &'a str,
            scope: Option<&'a [String]>,
            family: Option<&'a str>,
        ) -> BoxFuture<'a, Result<(Zeroizing<String>, String), AuthError>> {
            Box::pin(std::future::ready(self.0.issue(username, scope, family)))
        }
        fn peek_async<'a>(
            &'a self,
            token: &'a str,
        ) -> BoxFuture<'a, Result<Option<RefreshGrant>, AuthError>> {
            Box::pin(std::future::ready(self.0.peek(token)))
        }
        fn redeem_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Redemption, AuthError>> {
            Box::pin(std::future::ready(self.0.redeem(token)))
        }
        fn record_access_token_async<'a>(
            &'a self,
            family: &'a str,
            jti: &'a str,
            expires_at: SystemTime,
        ) -> BoxFuture<'a, Result<Recorded, AuthError>> {
            Box::pin(std::future::ready(
                self.0.record_access_token(family, jti, expires_at),
            ))
        }
    }

    #[tokio::test]
    async fn the_audited_store_forwards_the_async_methods() {
        let store = AuditedRefreshTokens::new(AsyncOnly::default());
        let (token, family) = store.issue_async("alice", None, None).await.unwrap();
        let expires = SystemTime::now() + std::time::Duration::from_secs(60);
        assert_eq!(
            store
                .record_access_token_async(&family, "j1", expires)
                .await
                .unwrap(),
            Recorded::Recorded
        );
        assert!(store.peek_async(&token).await.unwrap().is_some());
        assert!(matches!(
            store.redeem_async(&token).await.unwrap(),
            Redemption::Valid(_)
        ));
        // Reuse still reported (and audited) through the async path.
        assert!(matches!(
            store.redeem_async(&token).await.unwrap(),
            Redemption::Reused { .. }
        ));
    }

    #[test]
    fn names_are_bounded_and_escaped() {
        assert_eq!(bounded("alice"), "alice");
        assert_eq!(bounded("bob\nINFO forged"), "bob\\nINFO forged");
        let long = "a".repeat(500);
        assert_eq!(bounded(&long).len(), MAX_USERNAME + 3);
    }
}
