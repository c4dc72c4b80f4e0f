//! [`AuthLayer`]: API key **or** bearer token, for routes that accept both.
//!
//! When the API key header is present the key is checked (and only the key: a bad key is not
//! rescued by a good token); otherwise the `Authorization` header is checked as a bearer
//! token. With neither, the 401 carries both challenges (`Bearer realm=...` and
//! `ApiKey realm=..., header=...`), neither with an `error` parameter. On success both
//! credential headers are removed before the inner service runs.
//!
//! # Example (axum)
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::post};
//! use mlguard_auth::{ApiKeyAuth, AuthLayer, BearerAuth};
//! use mlguard_auth::apikey::{generate, MemoryKeyStore};
//! use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
//! use mlguard_core::Principal;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = [5u8; 32];
//! let verifier = JwtVerifier::builder()
//!     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap().with_kid("k1"))
//!     .build()
//!     .unwrap();
//! let keys = Arc::new(MemoryKeyStore::new());
//! let (api_key, record) = generate("batch-job", ["user"]).unwrap();
//! keys.insert(record);
//!
//! let auth = AuthLayer::new()
//!     .api_key(ApiKeyAuth::new(keys).realm("ml-api"))
//!     .bearer(BearerAuth::new(verifier).realm("ml-api"));
//! let app = Router::new()
//!     .route("/predict", post(|p: Principal| async move { p.method().kind().to_owned() }))
//!     .layer(auth);
//!
//! let with_key = http::Request::post("/predict")
//!     .header("x-api-key", api_key.expose_secret())
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.clone().oneshot(with_key).await.unwrap().status(), 200);
//!
//! let token = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap())
//!     .issue("alice", &["user".to_owned()], None)
//!     .unwrap();
//! let with_token = http::Request::post("/predict")
//!     .header("authorization", format!("Bearer {}", token.access_token()))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.clone().oneshot(with_token).await.unwrap().status(), 200);
//!
//! let anonymous = http::Request::post("/predict").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(anonymous).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers().get_all("www-authenticate").iter().count(), 2);
//! # }
//! ```

use crate::apikey::ApiKeyAuth;
use crate::jwt::BearerAuth;
use crate::service::{AuthService, Outcome};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Uri};
use mlguard_core::Problem;
use std::sync::Arc;
use tower_layer::Layer;

/// Which authenticators run, shared by all clones of a layer's services.
#[derive(Debug)]
pub(crate) struct AuthConfig {
    api_key: Option<ApiKeyAuth>,
    bearer: Option<BearerAuth>,
}

impl AuthConfig {
    pub(crate) fn new(api_key: Option<ApiKeyAuth>, bearer: Option<BearerAuth>) -> Self {
        Self { api_key, bearer }
    }

    pub(crate) fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Outcome {
        match (&self.api_key, &self.bearer) {
            (Some(keys), Some(bearer)) => {
                if keys.is_present(headers) {
                    Outcome::Done(keys.authenticate(headers, uri))
                } else if headers.contains_key(AUTHORIZATION) {
                    bearer.authenticate(headers)
                } else {
                    match keys.authenticate(headers, uri) {
                        // A key in the query string, or an allowed query key.
                        Ok(p) => Outcome::Done(Ok(p)),
                        Err(p) if p.detail() != keys.missing().detail() => Outcome::Done(Err(p)),
                        Err(_) => {
                            let challenge = keys.challenge().to_header_value();
                            let problem = Problem::unauthorized("Not authenticated", &bearer.challenge())
                                .with_header(WWW_AUTHENTICATE, challenge);
                            Outcome::Done(Err(problem))
                        }
                    }
                }
            }
            (Some(keys), None) => Outcome::Done(keys.authenticate(headers, uri)),
            (None, Some(bearer)) => bearer.authenticate(headers),
            (None, None) => Outcome::Done(Err(Problem::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "no authentication configured",
            ))),
        }
    }

    /// Removes the credential headers so the inner service never sees them.
    pub(crate) fn strip(&self, headers: &mut HeaderMap) {
        if let Some(keys) = &self.api_key {
            headers.remove(keys.header_name());
        }
        if self.bearer.is_some() {
            headers.remove(AUTHORIZATION);
        }
    }
}

/// Accepts an API key or a bearer token; see the [module docs](self).
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct AuthLayer {
    api_key: Option<ApiKeyAuth>,
    bearer: Option<BearerAuth>,
    config: Option<Arc<AuthConfig>>,
}

impl AuthLayer {
    /// A layer with no authenticator yet; add at least one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts API keys.
    pub fn api_key(mut self, auth: ApiKeyAuth) -> Self {
        self.api_key = Some(auth);
        self.config = None;
        self
    }

    /// Accepts bearer tokens.
    pub fn bearer(mut self, auth: BearerAuth) -> Self {
        self.bearer = Some(auth);
        self.config = None;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let config = self
            .config
            .clone()
            .unwrap_or_else(|| Arc::new(AuthConfig::new(self.api_key.clone(), self.bearer.clone())));
        AuthService::new(inner, config)
    }
}
