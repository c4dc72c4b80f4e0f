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
//!     .audience("ml-api")
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
//!     .audience("ml-api")
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
use crate::config::AuthConfig;
use crate::jwt::BearerAuth;
use crate::service::AuthService;
use mlguard_core::RefusalFormat;
use std::sync::Arc;
use tower_layer::Layer;

/// Accepts an API key or a bearer token; see the [module docs](self).
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct AuthLayer {
    // Built once by the builder methods and shared: axum clones a route's layer and applies
    // it again for every request on a router with state (`route_layer` then `with_state`), so
    // cloning and applying the layer must not copy the authenticators.
    config: Arc<AuthConfig>,
    format: RefusalFormat,
}

impl AuthLayer {
    /// A layer with no authenticator yet; add at least one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts API keys.
    pub fn api_key(mut self, auth: ApiKeyAuth) -> Self {
        Arc::make_mut(&mut self.config).api_key = Some(auth);
        self
    }

    /// Accepts bearer tokens.
    pub fn bearer(mut self, auth: BearerAuth) -> Self {
        Arc::make_mut(&mut self.config).bearer = Some(auth);
        self
    }

    /// How refusals are written: [`RefusalFormat::Auto`] (the default) answers gRPC requests
    /// (`content-type: application/grpc`) with `grpc-status` 16 UNAUTHENTICATED (or 7 for a
    /// 403) and everything else with a problem body.
    pub fn refusal_format(mut self, format: RefusalFormat) -> Self {
        self.format = format;
        self
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService::new(inner, self.config.clone(), self.format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::MemoryKeyStore;
    use crate::jwt::{JwtAlgorithm, JwtVerifier, VerifyingKey};

    #[test]
    fn clones_share_the_authenticators_and_building_on_a_clone_leaves_the_original() {
        let verifier = JwtVerifier::builder()
            .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &[5u8; 32]).unwrap())
            .accept_any_audience()
            .build()
            .unwrap();
        let keys = AuthLayer::new().api_key(ApiKeyAuth::new(Arc::new(MemoryKeyStore::new())));
        let clone = keys.clone();
        assert!(
            Arc::ptr_eq(&keys.config, &clone.config),
            "a clone copies no authenticator"
        );
        let both = clone.bearer(BearerAuth::new(verifier));
        assert!(both.config.api_key.is_some() && both.config.bearer.is_some());
        assert!(keys.config.api_key.is_some() && keys.config.bearer.is_none());
    }
}
