//! [`VerifiedClaims`]: the verified token's claims, typed, as an axum extractor (feature `axum`).

use super::claims::Claims;
use mlguard_core::{Principal, Problem, WwwAuthenticate};
use serde::de::DeserializeOwned;

/// Extracts the claims of the request's verified bearer token as `T` (any
/// `serde::Deserialize` type: the standard claims, custom ones, or `serde_json::Value`).
///
/// Refusals: no authenticated caller at all (the route is not behind an authentication
/// layer) is a 401 like the `Principal` extractor's; a caller that authenticated without a
/// token (an API key) gets 403 "This route needs a bearer token"; a token whose claims do not
/// deserialize into `T` gets 403 "The token's claims do not fit this route" (the reason is
/// logged at `debug`, never the token).
///
/// ```
/// use axum::{Router, routing::get};
/// use mlguard_auth::jwt::{BearerAuth, BearerAuthLayer, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifiedClaims, VerifyingKey};
/// use serde_json::json;
/// use tower::ServiceExt;
///
/// #[derive(serde::Deserialize)]
/// struct Tenant {
///     tenant: String,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let secret = [3u8; 32];
/// let verifier = JwtVerifier::builder()
///     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap())
///     .audience("ml-api")
///     .build()
///     .unwrap();
/// let app = Router::new()
///     .route("/tenant", get(|VerifiedClaims(t): VerifiedClaims<Tenant>| async move { t.tenant }))
///     .layer(BearerAuthLayer::new(BearerAuth::new(verifier)));
///
/// let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap()).audience("ml-api");
/// let extra = json!({"tenant": "acme"}).as_object().unwrap().clone();
/// let token = issuer.issue_with("alice", &[], None, extra).unwrap();
/// let request = http::Request::get("/tenant")
///     .header("authorization", format!("Bearer {}", token.access_token()))
///     .body(axum::body::Body::empty())
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct VerifiedClaims<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for VerifiedClaims<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let Some(claims) = Claims::from_extensions(&parts.extensions) else {
            if Principal::from_extensions(&parts.extensions).is_some() {
                return Err(Problem::forbidden("This route needs a bearer token"));
            }
            return Err(Problem::unauthorized(
                "Not authenticated",
                &WwwAuthenticate::bearer(),
            ));
        };
        claims.custom().map(VerifiedClaims).map_err(|error| {
            tracing::debug!(%error, "verified claims do not fit the handler's type");
            Problem::forbidden("The token's claims do not fit this route")
        })
    }
}
