//! The `/token` route for axum (feature `axum`).

use super::{GrantKind, TokenEndpoint, TokenFailure, TokenOutcome};
use axum::body::Body;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use http::Request;
use http::header::CONTENT_TYPE;
use std::sync::Arc;

/// Largest token request body read: 16 KiB (a form with a username, password and scope).
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// A `POST` route serving `endpoint`; mount it with `Router::route("/token", token_route(..))`.
///
/// Bodies over [`MAX_FORM_BYTES`] (or over a server-wide limit, whatever wrapped its error)
/// are refused with 413 and a problem body. Every response carries a [`TokenOutcome`] in its
/// extensions (success, or why it failed; the grant; a bounded, log-safe user name): read it
/// in a middleware for metrics instead of parsing the form or the answer. The route writes the
/// `login` / `token_refresh` [audit event](crate::audit) of each request itself, from that
/// outcome and the peer address (axum's `ConnectInfo`, when the server provides it).
///
/// ```
/// use std::sync::Arc;
/// use axum::Router;
/// use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
/// use mlguard_auth::password::PasswordHasher;
/// use mlguard_auth::token::{token_route, TokenEndpoint};
/// use mlguard_auth::users::{MemoryUserStore, UserRecord};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let hasher = PasswordHasher::new();
/// let users = Arc::new(MemoryUserStore::new());
/// users.insert(UserRecord {
///     username: "alice".into(),
///     password_hash: hasher.hash_blocking("s3cret-pass").unwrap(),
///     roles: vec!["user".into()],
///     disabled: false,
/// });
/// let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[3u8; 32]).unwrap());
/// let endpoint = Arc::new(TokenEndpoint::new(users, issuer).hasher(hasher));
/// let app: Router = Router::new().route("/token", token_route(endpoint));
///
/// let request = http::Request::post("/token")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(axum::body::Body::from("grant_type=password&username=alice&password=wrong"))
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 400);
/// assert_eq!(response.headers()["cache-control"], "no-store");
/// let outcome = response.extensions().get::<mlguard_auth::token::TokenOutcome>().unwrap();
/// assert_eq!(outcome.username(), Some("alice"));
/// assert_eq!(outcome.failure_reason(), Some(mlguard_auth::token::TokenFailure::BadCredentials));
/// # }
/// ```
pub fn token_route<S>(endpoint: Arc<TokenEndpoint>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    post(move |request: Request<Body>| {
        let endpoint = endpoint.clone();
        async move {
            let peer = mlguard_core::client_ip::peer_addr(request.extensions()).map(|a| a.ip());
            let response = answer(&endpoint, request).await;
            if let Some(outcome) = response.extensions().get::<TokenOutcome>() {
                crate::audit::token_request(outcome, peer);
            }
            response
        }
    })
}

/// The endpoint's answer to one request, with its [`TokenOutcome`] in the extensions.
async fn answer(endpoint: &TokenEndpoint, request: Request<Body>) -> Response {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = match axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES).await {
        Ok(body) => {
            // The body holds the password: wiped once handled.
            let body = zeroize::Zeroizing::new(Vec::from(body));
            endpoint.handle(content_type.as_deref(), &body).await
        }
        // Over this route's limit or a server-wide one: 413, whatever wrapped the error.
        Err(e) if mlguard_core::body::is_length_limit_error(&e) => {
            let mut response = mlguard_core::Problem::payload_too_large(format!(
                "The token request body is larger than {MAX_FORM_BYTES} bytes."
            ))
            .into_response_with(Body::from);
            response.extensions_mut().insert(TokenOutcome::failure(
                GrantKind::Unknown,
                None,
                TokenFailure::TooLarge,
            ));
            return response;
        }
        Err(_) => TokenEndpoint::unreadable_body(),
    };
    response.into_response_with(Body::from) as Response
}
