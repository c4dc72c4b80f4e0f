//! `POST /token`: the OAuth2 password grant and refresh-token grant (RFC 6749 sections 4.3 and
//! 6), served by mlguard-auth's [`TokenEndpoint`]: argon2id on the blocking pool, identical
//! `invalid_grant` answers for unknown users and wrong passwords, RFC 6749 error JSON,
//! `Cache-Control: no-store`, single-use refresh tokens with family revocation on reuse.
//! The rate limits (per client IP and per username) wrap this route in [`crate::app`].

use axum::routing::MethodRouter;
use mlguard_auth::token::TokenEndpoint;
use std::sync::Arc;

/// The `POST /token` method router (mlguard-auth's endpoint, with audit events: see
/// [`crate::audit::token_route`]).
pub fn route<S: Clone + Send + Sync + 'static>(endpoint: Arc<TokenEndpoint>) -> MethodRouter<S> {
    crate::audit::token_route(endpoint)
}
