//! API keys, JWT bearer authentication and the OAuth2 password grant, as tower layers.
//!
//! Each layer authenticates the request, writes a [`mlguard_core::Principal`] into its
//! extensions (subject, roles, token scope, `AuthMethod::ApiKey { key_id }` or
//! `AuthMethod::Bearer { token_id }`, expiry) and removes the credential header before the
//! inner service runs; authorization and rate limiting read the principal from there.
//!
//! | piece | module | layer |
//! |---|---|---|
//! | API keys (`X-API-Key: mlg_<id>_<secret>`); create, list, revoke ([`apikey::ApiKeyManager`]) | [`apikey`] | [`ApiKeyLayer`] |
//! | JWT bearer tokens (static keys or remote JWKS; roles from any claim, [`jwt::JwtVerifierBuilder::roles_claim`]) | [`jwt`] | [`BearerAuthLayer`] |
//! | either of the two (`/predict`) | [`layer`] | [`AuthLayer`] |
//! | an external identity provider's tokens next to your own (feature `jwks`) | `idp` | |
//! | `/token`: OAuth2 password and refresh grants | [`token`] | (a handler) |
//! | Argon2id passwords, users; the first user of a fresh installation | [`password`], [`users`], [`first_user`] | |
//! | `jti` denylist, refresh-token families | [`revocation`], [`refresh`] | |
//! | all of that durable, shared by instances (feature `sql`) | `sql` | |
//! | all of the above for a service that issues its own tokens, in one builder | [`stack`] | [`AuthLayer`] |
//! | refusals counted by route and reason, and audited (the `metrics` facade) | [`refusals`] | [`refusals::RefusalMetricsLayer`] |
//! | audit events (`tracing` target `audit`): logins, refreshes, revocations, keys, denials | [`audit`] | |
//!
//! **What it protects against:** the tutorial's mistakes and the classic attacks on them:
//! API keys compared with `!=` (here: constant-time, hashed at rest, revocable without a
//! restart, refused in URLs); JWTs without expiry or accepted whatever they say (here: `exp`
//! required, `alg: none`, RS/HS confusion, embedded or remote keys named by the token, empty
//! and zero signatures, oversized tokens and wrongly typed date claims all refused, each by
//! its own test); plaintext passwords (here: Argon2id with OWASP parameters, verified off the
//! async runtime, with the same work for unknown users); and long-lived stolen tokens (15
//! minute access tokens, one-time refresh tokens whose reuse revokes the family, a `jti`
//! denylist). Rejections are 401 problem bodies with RFC 6750 challenges that never contain
//! the credential; the token endpoint answers in RFC 6749's JSON with `Cache-Control: no-store`.
//! Tokens from an identity provider work as they come: roles are read from any claim (a JSON
//! Pointer such as `/realm_access/roles`, or a [`jwt::RoleMapper`]), only permission-shaped
//! `scope` entries (`model:predict`) narrow permissions (`openid profile email` does not), an
//! audience is required unless explicitly waived, and handlers read the verified claims,
//! typed, with [`jwt::Claims::custom`] or the `VerifiedClaims<T>` extractor.
//!
//! Security defaults and their reasons: leeway 30 s, tokens 8 KiB max, access tokens 15 min,
//! refresh tokens 7 days, Argon2id m=19456 KiB t=2 p=1, JWKS refresh at most every 5 min.
//!
//! # Example
//!
//! A service that issues tokens with the password grant and accepts either a token or an
//! API key on `/predict`:
//!
//! ```
//! use std::collections::BTreeSet;
//! use std::sync::Arc;
//! use axum::{Router, routing::post};
//! use mlguard_auth::apikey::{generate, MemoryKeyStore};
//! use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
//! use mlguard_auth::password::PasswordHasher;
//! use mlguard_auth::revocation::MemoryRevocationStore;
//! use mlguard_auth::refresh::MemoryRefreshStore;
//! use mlguard_auth::token::TokenEndpoint;
//! use mlguard_auth::users::{MemoryUserStore, UserRecord};
//! use mlguard_auth::{ApiKeyAuth, AuthLayer, BearerAuth};
//! use mlguard_core::Principal;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = [7u8; 32]; // from configuration, at least 32 bytes for HS256
//! let denylist = Arc::new(MemoryRevocationStore::new());
//!
//! // Issuing: users with Argon2id hashes, a signer, the scopes each role may ask for.
//! let hasher = PasswordHasher::new();
//! let users = Arc::new(MemoryUserStore::new());
//! users.insert(UserRecord {
//!     username: "alice".into(),
//!     password_hash: hasher.hash_blocking("correct horse battery").unwrap(),
//!     roles: vec!["user".into()],
//!     disabled: false,
//! });
//! let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap())
//!     .issuer("ml-api")
//!     .audience("ml-api");
//! let tokens = TokenEndpoint::new(users, issuer)
//!     .hasher(hasher)
//!     .scope_policy(|_roles: &[String]| BTreeSet::from(["model:predict".to_owned()]))
//!     .refresh_tokens(Arc::new(MemoryRefreshStore::new()))
//!     .revocation(denylist.clone());
//!
//! // Verifying: a token or an API key.
//! let verifier = JwtVerifier::builder()
//!     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap().with_kid("k1"))
//!     .issuer("ml-api")
//!     .audience("ml-api")
//!     .build()
//!     .unwrap();
//! let keys = Arc::new(MemoryKeyStore::new());
//! let (_api_key, record) = generate("batch-job", ["user"]).unwrap();
//! keys.insert(record);
//! let app = Router::new()
//!     .route("/predict", post(|p: Principal| async move { format!("hello {}", p.subject()) }))
//!     .layer(
//!         AuthLayer::new()
//!             .api_key(ApiKeyAuth::new(keys).realm("ml-api"))
//!             .bearer(BearerAuth::new(verifier).realm("ml-api").revocation(denylist)),
//!     );
//!
//! // Log in (what `POST /token` does), then call `/predict` with the token.
//! let login = tokens
//!     .handle(Some("application/x-www-form-urlencoded"), b"username=alice&password=correct+horse+battery")
//!     .await;
//! assert_eq!(login.status(), 200);
//! let access = login.json()["access_token"].as_str().unwrap().to_owned();
//! let request = http::Request::post("/predict")
//!     .header("authorization", format!("Bearer {access}"))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.oneshot(request).await.unwrap().status(), 200);
//! # }
//! ```
//!
//! # Features
//!
//! - `axum`: `token::token_route`, the `/token` route for axum; `jwt::VerifiedClaims<T>`, the
//!   verified claims as an extractor.
//! - `openapi`: OpenAPI schemas (utoipa) of the token endpoint's form and bodies,
//!   `token::TokenRequestForm` and `ToSchema` for `token::TokenSuccessBody`,
//!   `token::OAuthErrorBody` and `token::OAuthErrorCode`; and `openapi::SecuritySchemes`, the
//!   OAuth2 password, bearer and API key schemes under fixed names.
//! - `jwks`: `jwt::RemoteJwks`, keys from an identity provider's JWKS URL (reqwest).
//! - `redis`: `revocation::RedisRevocationStore`, a denylist shared between replicas.
//! - `sql`: `sql::SqlStore`, users, API keys, refresh tokens and the denylist in SQLite or
//!   PostgreSQL (sqlx), served from memory and kept current across instances.

mod config;
mod error;
mod json_file;
pub mod layer;
mod outcome;
mod service;

pub mod apikey;
pub mod audit;
pub mod credentials;
pub mod first_user;
#[cfg(feature = "jwks")]
pub mod idp;
pub mod jwt;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod password;
pub mod refresh;
pub mod refusals;
pub mod revocation;
#[cfg(feature = "sql")]
pub mod sql;
pub mod stack;
pub mod token;
pub mod users;

pub use apikey::{ApiKeyAuth, ApiKeyLayer};
pub use error::AuthError;
pub use jwt::{BearerAuth, BearerAuthLayer};
pub use layer::AuthLayer;
pub use outcome::AuthFailure;
pub use service::{AuthFuture, AuthService};
