//! `POST /token`: the OAuth2 password grant and refresh-token grant (RFC 6749 sections 4.3 and
//! 6), served by mlguard-auth's [`TokenEndpoint`]: argon2id on the blocking pool, identical
//! `invalid_grant` answers for unknown users and wrong passwords, RFC 6749 error JSON,
//! `Cache-Control: no-store`, single-use refresh tokens with family revocation on reuse.
//! The rate limits (per client IP and per username) wrap this route in [`crate::app`].

use axum::routing::MethodRouter;
use mlguard_auth::token::{TokenEndpoint, token_route};
use std::sync::Arc;

/// The `POST /token` method router: mlguard-auth's [`token_route`] (413 over its body limit,
/// a typed outcome on each answer), with an audit event per request written from that outcome
/// by [`crate::audit::token_events`]; [`crate::metrics`] counts from the same outcome.
pub fn route<S: Clone + Send + Sync + 'static>(endpoint: Arc<TokenEndpoint>) -> MethodRouter<S> {
    token_route(endpoint).layer(axum::middleware::from_fn(crate::audit::token_events))
}
