//! What an authenticator decides, and the trait the shared [`AuthService`](crate::AuthService)
//! runs. A leaf module: the authenticators ([`apikey`](crate::apikey), [`jwt`](crate::jwt)),
//! the combined configuration and the service all depend on it, never the other way (it
//! names one type of [`jwt`](crate::jwt), the bearer token's [`Claims`], which it carries).
//!
//! A refusal carries its typed reason, [`AuthFailure`], which the service puts into the
//! refusal's response extensions: metrics and audit events read it there, never from the
//! problem body or the request's headers.

use crate::jwt::Claims;
use http::{Extensions, HeaderMap, Uri};
use mlguard_core::{Principal, Problem};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A successful authentication: the principal, and the verified claims of a bearer token for
/// the inner service to see. (The claims are the one type this module names from
/// [`jwt`](crate::jwt): held directly, they are inserted into the request without a map of
/// their own.)
pub(crate) struct Authenticated {
    pub(crate) principal: Principal,
    pub(crate) claims: Option<Claims>,
}

impl From<Principal> for Authenticated {
    fn from(principal: Principal) -> Self {
        Self {
            principal,
            claims: None,
        }
    }
}

impl Authenticated {
    /// Writes the principal (and the claims) into a request's extensions.
    pub(crate) fn insert_into(self, extensions: &mut Extensions) {
        extensions.insert(self.principal);
        if let Some(claims) = self.claims {
            extensions.insert(claims);
        }
    }
}

/// Why an authentication layer ([`AuthLayer`](crate::AuthLayer),
/// [`ApiKeyLayer`](crate::ApiKeyLayer), [`BearerAuthLayer`](crate::BearerAuthLayer)) refused a
/// request. The layer puts it into the refusal's response extensions, so a middleware can count
/// or audit refusals by reason without reading the body or guessing from the headers. It names
/// the kind of credential, never its value.
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, routing::get};
/// use mlguard_auth::{ApiKeyAuth, AuthFailure, AuthLayer};
/// use mlguard_auth::apikey::MemoryKeyStore;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auth = AuthLayer::new().api_key(ApiKeyAuth::new(Arc::new(MemoryKeyStore::new())));
/// let app = Router::new().route("/", get(|| async { "hi" })).layer(auth);
/// let request = http::Request::get("/")
///     .header("x-api-key", "mlg_unknown_key")
///     .body(axum::body::Body::empty())
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.extensions().get::<AuthFailure>(), Some(&AuthFailure::InvalidApiKey));
/// assert_eq!(AuthFailure::InvalidApiKey.as_str(), "invalid_api_key");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No credential at all (no API key header, no `Authorization: Bearer`): 401.
    MissingCredentials,
    /// An API key that is malformed, sent twice, unknown, wrong, revoked or expired: 401.
    InvalidApiKey,
    /// An API key in the query string, refused because URLs end up in logs: 401.
    ApiKeyInQuery,
    /// A bearer token that is malformed, oversized, badly signed, expired, not yet valid, for
    /// another issuer or audience, without a `jti` where one is needed, or revoked: 401.
    InvalidToken,
    /// The key store or the revocation store cannot answer (its backend is down): 503 with
    /// `Retry-After`, failing closed.
    Unavailable,
    /// The layer has no authenticator (a server misconfiguration): 500.
    Misconfigured,
}

impl AuthFailure {
    /// A stable snake_case name for logs and metric labels: `missing_credentials`,
    /// `invalid_api_key`, `api_key_in_query`, `invalid_token`, `unavailable`, `misconfigured`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidApiKey => "invalid_api_key",
            Self::ApiKeyInQuery => "api_key_in_query",
            Self::InvalidToken => "invalid_token",
            Self::Unavailable => "unavailable",
            Self::Misconfigured => "misconfigured",
        }
    }
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: the problem answered, and why.
pub(crate) struct Refusal {
    pub(crate) failure: AuthFailure,
    pub(crate) problem: Problem,
}

impl Refusal {
    pub(crate) fn new(failure: AuthFailure, problem: Problem) -> Self {
        Self { failure, problem }
    }
}

/// A boxed authentication step that needs I/O (a revocation lookup, a JWKS refresh).
pub(crate) type AuthCheck = Pin<Box<dyn Future<Output = Result<Authenticated, Refusal>> + Send>>;

/// What an authenticator decided, synchronously or not.
pub(crate) enum Outcome {
    Done(Result<Authenticated, Refusal>),
    Pending(AuthCheck),
}

impl Outcome {
    /// Runs the check to its end.
    pub(crate) async fn finish(self) -> Result<Authenticated, Refusal> {
        match self {
            Self::Done(result) => result,
            Self::Pending(check) => check.await,
        }
    }
}

/// One way (or a choice of ways) to authenticate a request.
pub(crate) trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// Decides from the request's headers and URI.
    fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Outcome;

    /// Removes the credential headers so the inner service never sees them.
    fn strip(&self, headers: &mut HeaderMap);
}
