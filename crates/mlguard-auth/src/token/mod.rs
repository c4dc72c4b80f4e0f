//! The OAuth2 token endpoint (RFC 6749): password grant (section 4.3) and refresh grant
//! (section 6) with rotation. [`TokenEndpoint`] is framework-free (bytes in, an
//! [`http::Response`] out); with the `axum` feature, `token_route` mounts it in axum.
//!
//! **What it protects against:** user enumeration (an unknown user, a wrong password, an
//! empty password and a disabled account all get the same `invalid_grant` body, and all run
//! one Argon2 verification), a stalled runtime (Argon2 runs on the blocking pool), token
//! caching by browsers and proxies (`Cache-Control: no-store`, `Pragma: no-cache`, RFC 6749
//! section 5.1), scope escalation (a requested scope must be within what the user's roles
//! allow, [`ScopePolicy`]), long-lived bearer tokens (15 minutes by default) and stolen
//! refresh tokens (each works once; a reused one revokes its family and, with a
//! [`RevocationStore`], the access tokens issued in it).
//!
//! Requests: `POST`, `application/x-www-form-urlencoded`, with `username`, `password`,
//! optional `scope` and `grant_type=password` (accepted when absent, as FastAPI's
//! `OAuth2PasswordRequestForm` clients sometimes send), or `grant_type=refresh_token` with
//! `refresh_token` and optional `scope`. Parameters may not repeat (section 3.2).
//!
//! Success (200): `{"access_token", "token_type": "bearer", "expires_in"}`, plus
//! `refresh_token` when refresh tokens are enabled and `scope` when a scope was granted.
//! Errors (400, section 5.2): `{"error", "error_description"}` with `invalid_request`,
//! `invalid_grant`, `unsupported_grant_type` or `invalid_scope`. (401 with `WWW-Authenticate`
//! is reserved for `invalid_client`, which this endpoint, serving public clients, never
//! returns.) When more logins are being checked than the hasher's bound allows
//! ([`PasswordHasher::limits`]), or its work budget is spent ([`PasswordHasher::hash_budget`]),
//! the answer is 503 with `Retry-After` (over the budget: the seconds until it allows the next
//! login) and `temporarily_unavailable`, for known and unknown users alike.
//!
//! # Example (framework-free)
//!
//! ```
//! use std::collections::BTreeSet;
//! use std::sync::Arc;
//! use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
//! use mlguard_auth::password::PasswordHasher;
//! use mlguard_auth::token::TokenEndpoint;
//! use mlguard_auth::users::{MemoryUserStore, UserRecord};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hasher = PasswordHasher::new();
//! let users = Arc::new(MemoryUserStore::new());
//! users.insert(UserRecord {
//!     username: "alice".into(),
//!     password_hash: hasher.hash_blocking("s3cret-pass").unwrap(),
//!     roles: vec!["user".into()],
//!     disabled: false,
//! });
//! let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[3u8; 32]).unwrap());
//! let endpoint = TokenEndpoint::new(users, issuer)
//!     .hasher(hasher)
//!     .scope_policy(|roles: &[String]| -> BTreeSet<String> {
//!         if roles.iter().any(|r| r == "user") { ["model:predict".to_owned()].into() } else { BTreeSet::new() }
//!     });
//!
//! let response = endpoint
//!     .handle(Some("application/x-www-form-urlencoded"), b"username=alice&password=s3cret-pass&scope=model:predict")
//!     .await
//!     .into_response();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["cache-control"], "no-store");
//! # }
//! ```

#[cfg(feature = "axum")]
mod axum;
mod body;
mod form;
mod outcome;
#[cfg(feature = "openapi")]
mod schema;

#[cfg(feature = "axum")]
pub use self::axum::{MAX_FORM_BYTES, token_route};
pub use body::{OAuthErrorBody, TokenSuccessBody};
pub use form::{GrantRequest, parse_form};
pub use outcome::{GrantKind, MAX_OUTCOME_USERNAME, TokenFailure, TokenOutcome};
#[cfg(feature = "openapi")]
pub use schema::TokenRequestForm;

use crate::jwt::{IssuedToken, JwtIssuer};
use crate::password::{PasswordCheck, PasswordHasher};
use crate::refresh::{Recorded, Redemption, RefreshTokenStore};
use crate::revocation::RevocationStore;
use crate::users::UserStore;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Which scopes a user with given roles may be granted. The server maps roles to
/// permissions; this crate only asks.
pub trait ScopePolicy: Send + Sync + 'static {
    /// The scopes `roles` allow.
    fn allowed_scopes(&self, roles: &[String]) -> BTreeSet<String>;
}

impl<F> ScopePolicy for F
where
    F: Fn(&[String]) -> BTreeSet<String> + Send + Sync + 'static,
{
    fn allowed_scopes(&self, roles: &[String]) -> BTreeSet<String> {
        self(roles)
    }
}

/// The RFC 6749 section 5.2 error codes this endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// Missing or repeated parameter, wrong content type, unreadable body.
    InvalidRequest,
    /// Bad credentials or refresh token.
    InvalidGrant,
    /// A grant type other than `password` and `refresh_token`.
    UnsupportedGrantType,
    /// The requested scope is malformed or exceeds what the user may get.
    InvalidScope,
    /// Our own failure (a store or signing error); answered with 500.
    ServerError,
    /// Too many logins are being checked, or a store's backend (the database) is down (RFC
    /// 6749 section 4.1.2.1's code); answered with 503 and `Retry-After`.
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    /// Every code, in declaration order: what a document of the endpoint (an OpenAPI schema)
    /// lists, without this crate depending on a documentation generator.
    ///
    /// ```
    /// use mlguard_auth::token::OAuthErrorCode;
    /// assert!(OAuthErrorCode::ALL.iter().any(|c| c.as_str() == "invalid_grant"));
    /// ```
    pub const ALL: [Self; 6] = [
        Self::InvalidRequest,
        Self::InvalidGrant,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::ServerError,
        Self::TemporarilyUnavailable,
    ];

    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl TokenFailure {
    /// The RFC 6749 error code answered for this failure; `None` for [`TokenFailure::TooLarge`]
    /// (answered with a 413 problem body).
    pub fn error_code(self) -> Option<OAuthErrorCode> {
        match self {
            Self::BadCredentials | Self::InvalidRefreshToken | Self::RefreshTokenReused => {
                Some(OAuthErrorCode::InvalidGrant)
            }
            Self::InvalidScope => Some(OAuthErrorCode::InvalidScope),
            Self::UnsupportedGrantType => Some(OAuthErrorCode::UnsupportedGrantType),
            Self::Malformed => Some(OAuthErrorCode::InvalidRequest),
            Self::ServerError => Some(OAuthErrorCode::ServerError),
            Self::Busy | Self::Unavailable => Some(OAuthErrorCode::TemporarilyUnavailable),
            Self::TooLarge => None,
        }
    }
}

/// An RFC 6749 error: a code and a fixed description (never anything the client sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The code.
    pub code: OAuthErrorCode,
    /// The `error_description`.
    pub description: &'static str,
    /// Why, for audit and metrics (finer than the code: a reused refresh token and an unknown
    /// one are both `invalid_grant`).
    failure: TokenFailure,
    /// `Retry-After` of a 503, in seconds, when the cause knows it (the hasher's work budget).
    retry_after: Option<u32>,
}

impl OAuthError {
    pub(crate) const fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        let failure = match code {
            OAuthErrorCode::InvalidRequest => TokenFailure::Malformed,
            OAuthErrorCode::InvalidGrant => TokenFailure::BadCredentials,
            OAuthErrorCode::UnsupportedGrantType => TokenFailure::UnsupportedGrantType,
            OAuthErrorCode::InvalidScope => TokenFailure::InvalidScope,
            OAuthErrorCode::ServerError => TokenFailure::ServerError,
            OAuthErrorCode::TemporarilyUnavailable => TokenFailure::Busy,
        };
        Self {
            code,
            description,
            failure,
            retry_after: None,
        }
    }

    /// The same error, answered with `Retry-After: secs` when it is a 503.
    pub(crate) const fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The same error, reported as `failure` in the [`TokenOutcome`].
    pub(crate) const fn reported_as(mut self, failure: TokenFailure) -> Self {
        self.failure = failure;
        self
    }

    /// Why the request was refused, for audit and metrics.
    pub fn failure(&self) -> TokenFailure {
        self.failure
    }

    const BAD_CREDENTIALS: Self = Self::new(OAuthErrorCode::InvalidGrant, "Incorrect username or password");
    const BAD_REFRESH: Self = Self::new(OAuthErrorCode::InvalidGrant, "Invalid refresh token")
        .reported_as(TokenFailure::InvalidRefreshToken);
    /// A reused refresh token: the same answer as [`Self::BAD_REFRESH`] (the client learns
    /// nothing more), reported as [`TokenFailure::RefreshTokenReused`].
    const REFRESH_REUSED: Self = Self::BAD_REFRESH.reported_as(TokenFailure::RefreshTokenReused);
    const BAD_SCOPE: Self = Self::new(
        OAuthErrorCode::InvalidScope,
        "The requested scope is invalid or exceeds what this user may be granted",
    );
    const SERVER: Self = Self::new(OAuthErrorCode::ServerError, "The token could not be issued");
    const BUSY: Self = Self::new(
        OAuthErrorCode::TemporarilyUnavailable,
        "Too many logins are being checked; retry shortly",
    );
    const UNAVAILABLE: Self = Self::new(
        OAuthErrorCode::TemporarilyUnavailable,
        "Logins are temporarily unavailable; retry shortly",
    )
    .reported_as(TokenFailure::Unavailable);
}

/// The answer to a store failure: a backend that is down ([`AuthError::Backend`](crate::AuthError::Backend),
/// a database or Redis) is temporary, 503 `temporarily_unavailable` with `Retry-After`; anything
/// else is our own failure, 500. The cause goes to the log, never to the client.
fn store_failed(what: &'static str) -> impl FnOnce(crate::AuthError) -> OAuthError {
    move |error| match error {
        crate::AuthError::Backend(_) => {
            tracing::warn!(%error, store = what, "store unavailable: answering 503");
            OAuthError::UNAVAILABLE
        }
        _ => {
            tracing::error!(%error, store = what, "store failed");
            OAuthError::SERVER
        }
    }
}

/// `Retry-After` of a 503 `temporarily_unavailable` answer when logins are over the hasher's
/// concurrency bound, in seconds. (Over its work budget the answer says when the budget allows
/// the next login: [`AuthError::OverBudget`](crate::AuthError::OverBudget).)
pub const BUSY_RETRY_AFTER_SECS: u32 = 1;

/// `Retry-After` of a 503 `temporarily_unavailable` answer when a store's backend (the
/// database) is down, in seconds: long enough not to hammer a recovering database.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 5;

/// A successful grant.
pub struct TokenGrant {
    /// The access token.
    pub access: IssuedToken,
    /// The new refresh token, when refresh tokens are enabled.
    pub refresh_token: Option<Zeroizing<String>>,
    /// The granted scope, when one was requested.
    pub scope: Option<Vec<String>>,
}

impl fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGrant")
            .field("access", &self.access)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

/// The endpoint's answer, ready to become an HTTP response, with its [`TokenOutcome`].
#[derive(Clone, PartialEq)]
pub struct TokenResponse {
    status: StatusCode,
    body: Value,
    outcome: TokenOutcome,
    /// `Retry-After` of a 503 when the cause set it; else the failure's constant.
    retry_after: Option<u32>,
}

impl fmt::Debug for TokenResponse {
    // The body may hold tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("status", &self.status)
            .field("error", &self.body.get("error"))
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    fn success(grant: &TokenGrant, kind: GrantKind, username: Option<&str>) -> Self {
        let body = serde_json::to_value(TokenSuccessBody {
            access_token: grant.access.access_token(),
            token_type: "bearer",
            expires_in: grant.access.expires_in(),
            refresh_token: grant.refresh_token.as_ref().map(|t| t.as_str()),
            scope: grant.scope.as_ref().map(|s| s.join(" ")),
        })
        // A struct of strings and numbers always serializes.
        .unwrap_or_default();
        Self {
            status: StatusCode::OK,
            body,
            outcome: TokenOutcome::success(kind, username, grant.access.jti()),
            retry_after: None,
        }
    }

    fn error(error: &OAuthError, kind: GrantKind, username: Option<&str>) -> Self {
        let status = match error.code {
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            body: serde_json::to_value(OAuthErrorBody {
                error: error.code,
                error_description: error.description,
            })
            .unwrap_or_default(),
            outcome: TokenOutcome::failure(kind, username, error.failure),
            retry_after: error.retry_after,
        }
    }

    /// The status: 200, 400, 500, or 503 (with `Retry-After`) when logins are over their bound
    /// or a store's backend (the database) is down.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body.
    pub fn json(&self) -> &Value {
        &self.body
    }

    /// How the request went, for audit events and metrics.
    pub fn outcome(&self) -> &TokenOutcome {
        &self.outcome
    }

    /// An HTTP response with `Content-Type: application/json`, `Cache-Control: no-store` and
    /// `Pragma: no-cache` (RFC 6749 sections 5.1 and 5.2), and the [`TokenOutcome`] in its
    /// extensions.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        self.into_response_with(Full::new)
    }

    /// Like [`into_response`](Self::into_response) with a body built by `make_body`.
    pub fn into_response_with<B>(self, make_body: impl FnOnce(Bytes) -> B) -> Response<B> {
        let bytes = Bytes::from(serde_json::to_vec(&self.body).unwrap_or_default());
        let mut response = Response::new(make_body(bytes));
        *response.status_mut() = self.status;
        let retry_after = self.retry_after.unwrap_or(match self.outcome.failure_reason() {
            Some(TokenFailure::Unavailable) => UNAVAILABLE_RETRY_AFTER_SECS,
            _ => BUSY_RETRY_AFTER_SECS,
        });
        response.extensions_mut().insert(self.outcome);
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

/// The token endpoint. Build once, share behind an `Arc`.
pub struct TokenEndpoint {
    users: Arc<dyn UserStore>,
    issuer: JwtIssuer,
    hasher: PasswordHasher,
    scopes: Option<Arc<dyn ScopePolicy>>,
    refresh: Option<Arc<dyn RefreshTokenStore>>,
    revocation: Option<Arc<dyn RevocationStore>>,
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("users", &self.users)
            .field("issuer", &self.issuer)
            .field("hasher", &self.hasher)
            .field("refresh", &self.refresh)
            .field("revocation", &self.revocation)
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// Users from `users`, tokens from `issuer`, OWASP Argon2id, no scopes grantable, no
    /// refresh tokens.
    #[must_use]
    pub fn new(users: Arc<dyn UserStore>, issuer: JwtIssuer) -> Self {
        Self {
            users,
            issuer,
            hasher: PasswordHasher::new(),
            scopes: None,
            refresh: None,
            revocation: None,
        }
    }

    /// The password hasher (its parameters decide when stored hashes are upgraded).
    #[must_use]
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Which scopes each user may request. Without a policy any requested scope is refused
    /// (`invalid_scope`); requests without `scope` get unnarrowed tokens.
    #[must_use]
    pub fn scope_policy(mut self, policy: impl ScopePolicy) -> Self {
        self.scopes = Some(Arc::new(policy));
        self
    }

    /// Enables refresh tokens (`grant_type=refresh_token`) kept in `store`.
    #[must_use]
    pub fn refresh_tokens(mut self, store: Arc<dyn RefreshTokenStore>) -> Self {
        self.refresh = Some(store);
        self
    }

    /// On refresh-token reuse, denies the family's access tokens in `store` (use the same
    /// store as the [`BearerAuth`](crate::jwt::BearerAuth) layer).
    #[must_use]
    pub fn revocation(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocation = Some(store);
        self
    }

    /// Handles a token request body; `content_type` is the request's `Content-Type`. The
    /// answer carries a [`TokenOutcome`] ([`TokenResponse::outcome`]).
    pub async fn handle(&self, content_type: Option<&str>, body: &[u8]) -> TokenResponse {
        let (kind, username, result) = match parse_form(content_type, body) {
            Ok(GrantRequest::Password {
                username,
                password,
                scope,
            }) => {
                let result = self.password_grant(&username, password, scope.as_deref()).await;
                (GrantKind::Password, Some(username), result)
            }
            Ok(GrantRequest::RefreshToken { refresh_token, scope }) => {
                let result = self.refresh_grant(&refresh_token, scope.as_deref()).await;
                (GrantKind::RefreshToken, None, result)
            }
            Err(e) => (GrantKind::Unknown, None, Err(e)),
        };
        match result {
            Ok(grant) => TokenResponse::success(&grant, kind, username.as_deref()),
            Err(e) => TokenResponse::error(&e, kind, username.as_deref()),
        }
    }

    /// The answer to a request whose body could not be read (the connection failed or timed
    /// out): `invalid_request`.
    #[cfg(feature = "axum")]
    fn unreadable_body() -> TokenResponse {
        TokenResponse::error(
            &OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "The request body could not be read",
            ),
            GrantKind::Unknown,
            None,
        )
    }

    /// The password grant: checks the credentials (always one Argon2 run), the scope, and
    /// issues tokens; upgrades an outdated hash after a successful check.
    pub async fn password_grant(
        &self,
        username: &str,
        password: Zeroizing<String>,
        scope: Option<&str>,
    ) -> Result<TokenGrant, OAuthError> {
        let user = self.users.get(username).map_err(store_failed("users"))?;
        let phc = user.as_ref().map(|u| u.password_hash.clone());
        // Bounded (PasswordHasher::limits): over the bound, 503 for known and unknown users alike.
        let check = self
            .hasher
            .verify(password.clone(), phc)
            .await
            .map_err(|error| match error {
                crate::AuthError::Busy => {
                    tracing::warn!("login refused: too many password verifications in progress");
                    OAuthError::BUSY
                }
                // Over the hasher's work budget: the same answer, `Retry-After` from the budget.
                crate::AuthError::OverBudget { retry_after } => {
                    tracing::debug!(
                        ?retry_after,
                        "login refused: password hashing over its work budget"
                    );
                    OAuthError::BUSY.retry_after(crate::password::retry_after_secs(retry_after))
                }
                _ => OAuthError::SERVER,
            })?;
        let user = match (user, check) {
            (Some(user), PasswordCheck::Valid { needs_rehash }) if !user.disabled => {
                if needs_rehash {
                    self.upgrade_hash(username, password).await;
                }
                user
            }
            _ => {
                tracing::info!("login failed");
                return Err(OAuthError::BAD_CREDENTIALS);
            }
        };
        let scope = self.granted_scope(&user.roles, scope, None)?;
        self.grant(&user.username, &user.roles, scope, None).await
    }

    /// The refresh grant with rotation: the presented token is used up and a new one issued in
    /// the same family; a reused token revokes the family.
    ///
    /// The whole request is validated before the token is spent: a request refused for its
    /// `scope` leaves the token usable, so the client's corrected retry is not a reuse.
    pub async fn refresh_grant(
        &self,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenGrant, OAuthError> {
        let Some(store) = &self.refresh else {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "Refresh tokens are not enabled",
            ));
        };
        // Validate first, spend after: a malformed scope, then (for a redeemable token) the
        // scope against the grant and the user's current roles. Nothing is used up here.
        if scope.is_some_and(|s| form::parse_scope(s).is_none()) {
            return Err(OAuthError::BAD_SCOPE);
        }
        if let Some(peeked) = store
            .peek_async(refresh_token)
            .await
            .map_err(store_failed("refresh tokens"))?
            && let Some(user) = self
                .users
                .get(&peeked.username)
                .map_err(store_failed("users"))?
                .filter(|u| !u.disabled)
        {
            self.granted_scope(&user.roles, scope, peeked.scope.as_deref())?;
        }
        let grant = match store
            .redeem_async(refresh_token)
            .await
            .map_err(store_failed("refresh tokens"))?
        {
            Redemption::Valid(grant) => grant,
            Redemption::Invalid => return Err(OAuthError::BAD_REFRESH),
            Redemption::Reused { access_tokens } => {
                if let Some(denylist) = &self.revocation {
                    for (jti, until) in &access_tokens {
                        if let Err(error) = denylist.revoke(jti, *until).await {
                            tracing::error!(%error, "could not revoke an access token of a reused family");
                        }
                    }
                }
                return Err(OAuthError::REFRESH_REUSED);
            }
        };
        // Roles are re-read: a disabled or demoted user gets nothing or less.
        let user = match self.users.get(&grant.username).map_err(store_failed("users"))? {
            Some(user) if !user.disabled => user,
            _ => return Err(OAuthError::BAD_REFRESH),
        };
        let scope = self.granted_scope(&user.roles, scope, grant.scope.as_deref())?;
        let scope = scope.or(grant.scope);
        self.grant(&user.username, &user.roles, scope, Some(&grant.family))
            .await
    }

    fn granted_scope(
        &self,
        roles: &[String],
        requested: Option<&str>,
        previous: Option<&[String]>,
    ) -> Result<Option<Vec<String>>, OAuthError> {
        let Some(requested) = requested else {
            return Ok(None);
        };
        let requested = form::parse_scope(requested).ok_or(OAuthError::BAD_SCOPE)?;
        if requested.is_empty() {
            return Ok(None);
        }
        let allowed = self
            .scopes
            .as_ref()
            .map(|p| p.allowed_scopes(roles))
            .unwrap_or_default();
        let within_previous = previous.is_none_or(|prev| requested.iter().all(|s| prev.contains(s)));
        if !within_previous || !requested.iter().all(|s| allowed.contains(s)) {
            return Err(OAuthError::BAD_SCOPE);
        }
        Ok(Some(requested))
    }

    async fn grant(
        &self,
        username: &str,
        roles: &[String],
        scope: Option<Vec<String>>,
        family: Option<&str>,
    ) -> Result<TokenGrant, OAuthError> {
        let access = self
            .issuer
            .issue(username, roles, scope.as_deref())
            .map_err(|error| {
                tracing::error!(%error, "token signing failed");
                OAuthError::SERVER
            })?;
        let refresh_token = match (&self.refresh, family) {
            (None, _) => None,
            // A login: a new family, which nothing can have revoked yet.
            (Some(store), None) => {
                let (token, family) = store
                    .issue_async(username, scope.as_deref(), None)
                    .await
                    .map_err(store_failed("refresh tokens"))?;
                match store
                    .record_access_token_async(&family, access.jti(), access.expires_at())
                    .await
                    .map_err(store_failed("refresh tokens"))?
                {
                    Recorded::Recorded => Some(token),
                    Recorded::FamilyRevoked => return Err(OAuthError::SERVER),
                }
            }
            // A rotation: the access token is recorded before anything is handed out, atomically
            // with the family's revocation. A reuse that came first refuses the recording (the
            // token is withheld, and denied for good measure); one that comes later finds it
            // in the family and denies it.
            (Some(store), Some(family)) => {
                match store
                    .record_access_token_async(family, access.jti(), access.expires_at())
                    .await
                    .map_err(store_failed("refresh tokens"))?
                {
                    Recorded::Recorded => {}
                    Recorded::FamilyRevoked => {
                        if let Some(denylist) = &self.revocation
                            && let Err(error) = denylist.revoke(access.jti(), access.expires_at()).await
                        {
                            tracing::error!(%error, "could not revoke a withheld access token");
                        }
                        tracing::info!(user = %mlguard_core::log::LogSafe(username), "refresh family revoked during its rotation");
                        return Err(OAuthError::BAD_REFRESH);
                    }
                }
                let (token, _) = store
                    .issue_async(username, scope.as_deref(), Some(family))
                    .await
                    .map_err(store_failed("refresh tokens"))?;
                Some(token)
            }
        };
        tracing::info!(user = %mlguard_core::log::LogSafe(username), jti = access.jti(), "token issued");
        Ok(TokenGrant {
            access,
            refresh_token,
            scope,
        })
    }

    async fn upgrade_hash(&self, username: &str, password: Zeroizing<String>) {
        // Within the hasher's bound; when it is busy the upgrade waits for a later login.
        let phc = match self.hasher.hash_async(password).await {
            Ok(phc) => phc,
            Err(error) => {
                tracing::warn!(%error, "password hash upgrade skipped");
                return;
            }
        };
        let users = self.users.clone();
        let username = username.to_owned();
        let result = tokio::task::spawn_blocking(move || users.set_password_hash(&username, &phc)).await;
        match result {
            Ok(Ok(())) => tracing::info!("password hash upgraded to current parameters"),
            Ok(Err(error)) => tracing::warn!(%error, "password hash upgrade failed"),
            Err(_) => tracing::warn!("password hash upgrade task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OAuthErrorCode;

    /// `ALL` lists every variant once: the exhaustive match stops compiling when a variant is
    /// added, and the positions catch a variant left out of `ALL` or listed twice.
    #[test]
    fn all_lists_every_code_once() {
        fn position(c: OAuthErrorCode) -> usize {
            match c {
                OAuthErrorCode::InvalidRequest => 0,
                OAuthErrorCode::InvalidGrant => 1,
                OAuthErrorCode::UnsupportedGrantType => 2,
                OAuthErrorCode::InvalidScope => 3,
                OAuthErrorCode::ServerError => 4,
                OAuthErrorCode::TemporarilyUnavailable => 5,
            }
        }
        for (i, c) in OAuthErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(position(c), i, "{}", c.as_str());
        }
    }
}
