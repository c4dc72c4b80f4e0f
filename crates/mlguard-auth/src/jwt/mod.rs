//! JWT bearer authentication: keys, [`JwtVerifier`], [`JwtIssuer`] and the [`BearerAuthLayer`].
//!
//! **What it protects against:** unsigned tokens (`alg: none` in any casing), algorithm
//! confusion (a key verifies only the one algorithm it was configured for), forged keys
//! (`jku`/`x5u`/`jwk`/`x5c` header parameters are refused, never followed), empty and
//! all-zero ("psychic") signatures, expired, not-yet-valid and future-dated tokens, tokens
//! for another issuer or audience, date claims of the wrong JSON type (a string `exp` is
//! refused, not ignored), oversized tokens (8 KiB, before parsing), credentials smuggled after
//! the token (`Bearer x junk`), and revoked tokens (a `jti` denylist). See [`verify`] for the
//! exact order of the checks.
//!
//! Failures answer 401 with `WWW-Authenticate: Bearer realm="...", error="invalid_token"`
//! (RFC 6750 section 3), or without `error` when the request carried no bearer credentials,
//! and a problem body that says only "Invalid or expired token". The reason is logged at
//! `debug` level; the token never is.
//!
//! On success the inner service finds the `Principal` and the token's verified [`Claims`] in
//! the request's extensions; handlers read custom claims typed with [`Claims::custom`] or the
//! `VerifiedClaims<T>` extractor (feature `axum`).
//!
//! # Example (axum)
//!
//! ```
//! use axum::{Router, routing::get};
//! use mlguard_auth::jwt::{BearerAuth, BearerAuthLayer, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
//! use mlguard_core::Principal;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = [9u8; 32]; // load a real one from configuration
//! let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap())
//!     .issuer("ml-api")
//!     .audience("ml-api");
//! let verifier = JwtVerifier::builder()
//!     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap().with_kid("k1"))
//!     .issuer("ml-api")
//!     .audience("ml-api")
//!     .build()
//!     .unwrap();
//!
//! let app = Router::new()
//!     .route("/whoami", get(|p: Principal| async move { p.subject().to_owned() }))
//!     .layer(BearerAuthLayer::new(BearerAuth::new(verifier).realm("ml-api")));
//!
//! let token = issuer.issue("alice", &["user".to_owned()], None).unwrap();
//! let request = http::Request::get("/whoami")
//!     .header("authorization", format!("Bearer {}", token.access_token()))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.clone().oneshot(request).await.unwrap().status(), 200);
//!
//! let anonymous = http::Request::get("/whoami").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(anonymous).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="ml-api""#);
//! # }
//! ```

mod b64;
pub mod cache;
mod claims;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod header;
mod issue;
mod json;
mod key;
mod mac;
mod mapping;
mod pointer;
pub mod verify;

#[cfg(feature = "jwks")]
pub mod jwks;
#[cfg(feature = "jwks")]
pub use jwks::RemoteJwks;

pub use claims::Claims;
#[cfg(feature = "axum")]
pub use extract::VerifiedClaims;
pub use issue::{DEFAULT_ACCESS_TTL, IssuedToken, JwtIssuer};
pub use key::{JwtAlgorithm, SigningKey, VerifyingKey};
pub use mapping::{DEFAULT_ROLES_CLAIM, RoleMapper};
pub use pointer::{JsonPointer, PointerError};
pub use verify::{
    DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LEN, JwtVerifier, JwtVerifierBuilder, MAX_LEEWAY, TokenError,
    VerifiedToken, parse_header,
};

use crate::credentials::{CredentialError, bearer_from_headers};
use crate::outcome::{AuthFailure, Authenticated, Authenticator, Outcome, Refusal};
use crate::revocation::RevocationStore;
use crate::service::AuthService;
use http::{HeaderMap, Uri};
use mlguard_core::{BearerError, Principal, Problem, WwwAuthenticate};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tower_layer::Layer;
use verify::Accepted;

/// `Retry-After` of the 503 answered when the [revocation store](BearerAuth::revocation)
/// cannot answer (its backend is down): 5 s, as for the API-key store.
///
/// ```
/// assert_eq!(mlguard_auth::jwt::REVOCATION_RETRY_AFTER.as_secs(), 5);
/// ```
pub const REVOCATION_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Bearer-token authentication settings: the verifier, the realm, an optional denylist.
#[derive(Clone)]
#[must_use]
pub struct BearerAuth {
    verifier: Arc<JwtVerifier>,
    by_issuer: Vec<(String, Arc<JwtVerifier>)>,
    realm: String,
    revocation: Option<Arc<dyn RevocationStore>>,
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("verifier", &self.verifier)
            .field("by_issuer", &self.by_issuer)
            .field("realm", &self.realm)
            .field("revocation", &self.revocation)
            .finish()
    }
}

impl BearerAuth {
    /// Tokens checked by `verifier`, realm `api`, no denylist.
    pub fn new(verifier: JwtVerifier) -> Self {
        Self::from_arc(Arc::new(verifier))
    }

    /// Like [`new`](Self::new) with a shared verifier.
    pub fn from_arc(verifier: Arc<JwtVerifier>) -> Self {
        Self {
            verifier,
            by_issuer: Vec::new(),
            realm: "api".to_owned(),
            revocation: None,
        }
    }

    /// Checks tokens whose `iss` is `issuer` with `verifier` instead of the main one (an
    /// identity provider's tokens next to the service's own). The `iss` read to choose is not
    /// trusted: the chosen verifier checks the signature with its own keys and algorithms and
    /// checks `iss` again, so a token can never pick a verifier whose keys it was not signed
    /// with. Tokens with any other `iss` (or none) go to the main verifier. The denylist
    /// applies to all of them.
    pub fn issuer_verifier(mut self, issuer: impl Into<String>, verifier: JwtVerifier) -> Self {
        self.by_issuer.push((issuer.into(), Arc::new(verifier)));
        self
    }

    /// The realm in the `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = realm.to_owned();
        self
    }

    /// Checks every token's `jti` against `store` (tokens without a `jti` cannot be revoked
    /// and are refused when a store is configured).
    pub fn revocation(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocation = Some(store);
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &JwtVerifier {
        &self.verifier
    }

    /// The bare `Bearer realm="..."` challenge (no credentials were sent).
    pub fn challenge(&self) -> WwwAuthenticate {
        WwwAuthenticate::bearer().realm(&self.realm)
    }

    fn invalid(&self, reason: &dyn fmt::Display) -> Refusal {
        tracing::debug!(%reason, "bearer token rejected");
        invalid_token(&self.realm)
    }

    pub(crate) fn authenticate_outcome(&self, headers: &HeaderMap) -> Outcome {
        let token = match bearer_from_headers(headers, self.verifier.max_token_len()) {
            Ok(token) => token,
            Err(CredentialError::Missing | CredentialError::WrongScheme) => {
                let problem = Problem::unauthorized("Not authenticated", &self.challenge());
                return Outcome::Done(Err(Refusal::new(AuthFailure::MissingCredentials, problem)));
            }
            Err(e) => return Outcome::Done(Err(self.invalid(&format_args!("{e:?}")))),
        };
        let verifier = self.select(token);
        match verifier.accept(token) {
            Ok(accepted) => self.after_verify(accepted),
            #[cfg(feature = "jwks")]
            Err(TokenError::UnknownKey) if verifier.jwks.is_some() => {
                let this = self.clone();
                let verifier = verifier.clone();
                let token = zeroize::Zeroizing::new(token.to_owned());
                Outcome::Pending(Box::pin(async move {
                    if let Some(jwks) = &verifier.jwks {
                        jwks.refresh_if_due().await;
                    }
                    match verifier.accept(&token) {
                        Ok(accepted) => this.after_verify(accepted).finish().await,
                        Err(e) => Err(this.invalid(&e)),
                    }
                }))
            }
            Err(e) => Outcome::Done(Err(self.invalid(&e))),
        }
    }

    /// The verifier for `token`: the one registered for its (unverified) `iss`, else the main one.
    fn select(&self, token: &str) -> &Arc<JwtVerifier> {
        if self.by_issuer.is_empty() {
            return &self.verifier;
        }
        let Some(iss) = verify::peek_issuer(token, self.verifier.max_token_len()) else {
            return &self.verifier;
        };
        self.by_issuer
            .iter()
            .find(|(issuer, _)| *issuer == iss)
            .map_or(&self.verifier, |(_, verifier)| verifier)
    }

    fn after_verify(&self, accepted: Accepted) -> Outcome {
        let Some(store) = &self.revocation else {
            return Outcome::Done(Ok(authenticated(accepted)));
        };
        // The principal's token id is the token's `jti`.
        let Some(jti) = accepted.principal.token_id().map(str::to_owned) else {
            return Outcome::Done(Err(self.invalid(&"no jti while revocation is enabled")));
        };
        let store = store.clone();
        let realm = self.realm.clone();
        Outcome::Pending(Box::pin(async move {
            match store.is_revoked(&jti).await {
                Ok(false) => Ok(authenticated(accepted)),
                Ok(true) => {
                    tracing::debug!(jti, "revoked token used");
                    Err(invalid_token(&realm))
                }
                Err(error) => {
                    // Temporary (the denylist's backend is down, or its copy is past its stale
                    // bound): 503 with `Retry-After`, and fail closed.
                    tracing::error!(%error, "revocation store failed");
                    let problem = Problem::service_unavailable(
                        "Authentication is unavailable",
                        Some(REVOCATION_RETRY_AFTER),
                    );
                    Err(Refusal::new(AuthFailure::Unavailable, problem))
                }
            }
        }))
    }

    /// Verifies the bearer token in `headers` and checks the denylist; the
    /// framework-free form of what the layer does.
    pub async fn authenticate_headers(&self, headers: &HeaderMap) -> Result<Principal, Problem> {
        self.authenticate_outcome(headers)
            .finish()
            .await
            .map(|authenticated| authenticated.principal)
            .map_err(|refusal| refusal.problem)
    }
}

/// The principal and, in the request's extensions next to it, the verified [`Claims`].
fn authenticated(accepted: Accepted) -> Authenticated {
    Authenticated {
        principal: accepted.principal,
        claims: Some(accepted.claims),
    }
}

fn invalid_token(realm: &str) -> Refusal {
    let challenge = WwwAuthenticate::bearer()
        .realm(realm)
        .error(BearerError::InvalidToken);
    let problem = Problem::unauthorized("Invalid or expired token", &challenge);
    Refusal::new(AuthFailure::InvalidToken, problem)
}

impl Authenticator for BearerAuth {
    fn authenticate(&self, headers: &HeaderMap, _uri: &Uri) -> Outcome {
        self.authenticate_outcome(headers)
    }

    fn strip(&self, headers: &mut HeaderMap) {
        headers.remove(http::header::AUTHORIZATION);
    }
}

/// Authenticates every request with a bearer JWT; see the [module docs](self).
#[derive(Clone, Debug)]
#[must_use]
pub struct BearerAuthLayer {
    auth: Arc<BearerAuth>,
    format: mlguard_core::RefusalFormat,
}

impl BearerAuthLayer {
    /// A layer that authenticates with `auth`.
    pub fn new(auth: BearerAuth) -> Self {
        Self {
            auth: Arc::new(auth),
            format: mlguard_core::RefusalFormat::default(),
        }
    }

    /// How refusals are written: [`RefusalFormat::Auto`](mlguard_core::RefusalFormat::Auto) (the default) answers gRPC requests
    /// (`content-type: application/grpc`) with `grpc-status` 16 UNAUTHENTICATED (or 7 for a
    /// 403) and everything else with a problem body.
    pub fn refusal_format(mut self, format: mlguard_core::RefusalFormat) -> Self {
        self.format = format;
        self
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService::new(inner, self.auth.clone(), self.format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mutant (issue 20): the `verifier.jwks.is_some()` guard of `authenticate_outcome` into
    /// `true`. Without a remote JWKS there is nothing to refresh: a token naming an unknown key
    /// is refused at once, without a future to allocate and poll or a second verification.
    #[test]
    fn an_unknown_key_without_a_jwks_is_refused_without_a_future() {
        let secret = [1u8; 32];
        let verifier = JwtVerifier::builder()
            .key(
                VerifyingKey::hmac(JwtAlgorithm::HS256, &secret)
                    .unwrap()
                    .with_kid("a"),
            )
            .accept_any_audience()
            .build()
            .unwrap();
        let token = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "other", &secret).unwrap())
            .issue("alice", &[], None)
            .unwrap();
        let mut headers = HeaderMap::new();
        let value = format!("Bearer {}", token.access_token());
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        let outcome = BearerAuth::new(verifier).authenticate_outcome(&headers);
        assert!(matches!(outcome, Outcome::Done(Err(_))));
    }
}
