//! Audit events: one `tracing` event with target [`TARGET`] (`audit`) for each login (success
//! and failure), token refresh, token revocation, API key creation and revocation, and each
//! denied request (401/403).
//!
//! Every event has an `event` field (`login`, `token_refresh`, `token_revoked`,
//! `refresh_token_reused`, `api_key_created`, `api_key_revoked`, `access_denied`) and an
//! `outcome` where one applies. Events carry who and what (user name, key id, route, peer
//! address, token id `jti`) and never a password, an API key, or a token: the token route reads
//! the form only to learn the grant type and the user name, and drops the secret fields unread.
//!
//! Select them with `RUST_LOG=info` (they are INFO and WARN) and ship them apart from the rest
//! with the target: `RUST_LOG=warn,audit=info`.

use crate::metrics::TokenOutcome;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use mlguard_auth::AuthError;
use mlguard_auth::refresh::{Redemption, RefreshTokenStore};
use mlguard_auth::revocation::RevocationStore;
use mlguard_auth::token::{GrantRequest, MAX_FORM_BYTES, TokenEndpoint, parse_form};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;
use zeroize::Zeroizing;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "audit";
/// Longest user name written to an event (longer ones are cut, with `...`).
pub const MAX_USERNAME: usize = 64;

fn bounded(name: &str) -> String {
    if name.chars().count() <= MAX_USERNAME {
        name.to_owned()
    } else {
        let mut cut: String = name.chars().take(MAX_USERNAME).collect();
        cut.push_str("...");
        cut
    }
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

/// What a token request asked for, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    Password { username: String },
    Refresh,
    Malformed,
}

fn grant_of(content_type: Option<&str>, body: &[u8]) -> Grant {
    match parse_form(content_type, body) {
        Ok(GrantRequest::Password { username, .. }) => Grant::Password {
            username: bounded(&username),
        },
        Ok(GrantRequest::RefreshToken { .. }) => Grant::Refresh,
        Ok(_) | Err(_) => Grant::Malformed,
    }
}

fn outcome_of(status: StatusCode, error: Option<&str>) -> TokenOutcome {
    match (status, error) {
        (StatusCode::OK, _) => TokenOutcome::Issued,
        (_, Some("invalid_grant")) => TokenOutcome::BadCredentials,
        _ => TokenOutcome::Refused,
    }
}

fn log_token_request(grant: &Grant, outcome: TokenOutcome, error: Option<&str>, peer: Option<IpAddr>) {
    let error = error.unwrap_or("-");
    let result = match outcome {
        TokenOutcome::Issued => "success",
        TokenOutcome::BadCredentials | TokenOutcome::Refused => "failure",
    };
    match grant {
        Grant::Password { username } if outcome == TokenOutcome::Issued => {
            tracing::info!(target: TARGET, event = "login", outcome = result, user = %username, peer = %Peer(peer), "login succeeded");
        }
        Grant::Password { username } => {
            tracing::warn!(target: TARGET, event = "login", outcome = result, user = %username, error, peer = %Peer(peer), "login failed");
        }
        Grant::Refresh if outcome == TokenOutcome::Issued => {
            tracing::info!(target: TARGET, event = "token_refresh", outcome = result, peer = %Peer(peer), "token refreshed");
        }
        Grant::Refresh => {
            tracing::warn!(target: TARGET, event = "token_refresh", outcome = result, error, peer = %Peer(peer), "token refresh refused");
        }
        Grant::Malformed => {
            tracing::warn!(target: TARGET, event = "login", outcome = result, error, peer = %Peer(peer), "malformed token request");
        }
    }
}

/// `POST /token` served by `endpoint`, with an audit event per request and the outcome set as
/// a [`TokenOutcome`] response extension (read by [`crate::metrics`]). Same contract as
/// mlguard-auth's `token_route`.
pub fn token_route<S>(endpoint: Arc<TokenEndpoint>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    post(move |request: Request| {
        let endpoint = endpoint.clone();
        async move {
            let peer = mlguard_core::client_ip::peer_addr(request.extensions()).map(|a| a.ip());
            let content_type = request
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = match axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES).await {
                Ok(body) => Zeroizing::new(body.to_vec()),
                Err(_) => Zeroizing::new(Vec::new()),
            };
            let grant = grant_of(content_type.as_deref(), &body);
            let answer = endpoint.handle(content_type.as_deref(), &body).await;
            drop(body);
            let status = answer.status();
            let error = answer
                .json()
                .get("error")
                .and_then(|e| e.as_str())
                .map(str::to_owned);
            let outcome = outcome_of(status, error.as_deref());
            log_token_request(&grant, outcome, error.as_deref(), peer);
            let mut response: Response = answer.into_response_with(Body::from);
            response.extensions_mut().insert(outcome);
            response
        }
    })
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
    tracing::info!(target: TARGET, event = "api_key_created", key_id, name = %bounded(name), role, "API key created");
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
            tracing::warn!(target: TARGET, event = "token_revoked", outcome, jti, "access token revoked");
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

    fn redeem(&self, token: &str) -> Result<Redemption, AuthError> {
        let redemption = self.inner.redeem(token)?;
        if let Redemption::Reused { access_tokens } = &redemption {
            tracing::warn!(
                target: TARGET,
                event = "refresh_token_reused",
                revoked_access_tokens = access_tokens.len(),
                "a used refresh token was presented again; its family is revoked"
            );
        }
        Ok(redemption)
    }

    fn record_access_token(&self, family: &str, jti: &str, expires_at: SystemTime) -> Result<(), AuthError> {
        self.inner.record_access_token(family, jti, expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn grant_keeps_the_user_name_and_nothing_else() {
        let g = grant_of(
            FORM,
            b"grant_type=password&username=alice&password=hunter2-secret",
        );
        assert_eq!(
            g,
            Grant::Password {
                username: "alice".into()
            }
        );
        assert!(!format!("{g:?}").contains("hunter2"));
        assert_eq!(
            grant_of(FORM, b"grant_type=refresh_token&refresh_token=abc"),
            Grant::Refresh
        );
        assert_eq!(grant_of(Some("application/json"), b"{}"), Grant::Malformed);
        let long = format!("username={}&password=x", "a".repeat(500));
        let Grant::Password { username } = grant_of(FORM, long.as_bytes()) else {
            panic!("password grant expected");
        };
        assert_eq!(username.len(), MAX_USERNAME + 3);
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome_of(StatusCode::OK, None), TokenOutcome::Issued);
        assert_eq!(
            outcome_of(StatusCode::BAD_REQUEST, Some("invalid_grant")),
            TokenOutcome::BadCredentials
        );
        assert_eq!(
            outcome_of(StatusCode::BAD_REQUEST, Some("invalid_request")),
            TokenOutcome::Refused
        );
    }
}
