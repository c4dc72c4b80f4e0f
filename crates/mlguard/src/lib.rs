//! mlguard: security middleware for model-serving APIs, through one dependency.
//!
//! Each layer lives in its own crate and stays usable alone; this facade re-exports them behind
//! one feature each, so an application names one dependency, one version, and gets crates that
//! were tested together:
//!
//! ```toml
//! [dependencies]
//! mlguard = { version = "0.1", features = ["auth", "rbac", "ratelimit", "validate", "crypto", "http", "axum"] }
//! ```
//!
//! | feature | module | what it brings |
//! |---|---|---|
//! | (always) | [`core`] | `Principal`, `Problem`, client-IP resolution, challenges, clocks |
//! | `auth` | `auth` | API keys, JWT bearer tokens, passwords, the OAuth2 token endpoint |
//! | `jwks` | `auth` | an identity provider's keys over HTTP(S) (implies `auth`) |
//! | `rbac` | `rbac` | roles -> permissions, `RequirePermissionLayer`, the deny-by-default guard |
//! | `ratelimit` | `ratelimit` | quotas, `RateLimitLayer` by address, principal, key or field |
//! | `crypto` | `crypto` | Fernet (Python-compatible), the AEAD envelope |
//! | `validate` | `validate`, [`validator`](https://docs.rs/validator) | `ValidatedJson<T>` with 422 problem bodies |
//! | `model` | `model` | the iris random forest, signed model files |
//! | `modelsec` | `modelsec` | output policy, query budgets, input envelope, extraction detection |
//! | `http` | `http` | edge protections (headers, paths, shedding, request ids, access log), `serve` |
//! | `axum` | | the axum integration of every enabled layer (extractors, `ConnectInfo` peers) |
//! | `redis` | | the Redis backends of every enabled layer that has one |
//! | `openapi` | | OpenAPI (utoipa): the problem schema; with `auth`, the token endpoint's schemas and security schemes |
//! | `full` | | every layer with `axum` (not `redis`, not `jwks`) |
//!
//! **No hidden feature.** With the `axum` feature, every enabled layer's axum support is on,
//! `mlguard-core`'s included: the per-address rate limit reads the peer address from axum's
//! `ConnectInfo<SocketAddr>` through it. A layer that still cannot find what the server must
//! provide (no peer address because the app was served without connect info, no principal
//! because no authentication layer ran in front of it) answers `500` with a problem body and
//! logs an error naming the fix: it never blames the client with a 4xx.
//!
//! **Validation without a second `validator`.** The `validate` feature re-exports the
//! [`validator`](https://docs.rs/validator) crate that `ValidatedJson` is built on, and the prelude brings its `Validate`
//! derive. The derive's generated code names `::validator` unless told otherwise, so point it at
//! the re-export with `#[validate(crate = "mlguard::validator")]`; then the application has no
//! `validator` dependency of its own and the versions cannot drift:
//!
//! ```
//! # #[cfg(feature = "validate")] {
//! use mlguard::prelude::*;
//!
//! #[derive(serde::Deserialize, Validate)]
//! #[validate(crate = "mlguard::validator")]
//! struct Iris {
//!     #[validate(range(min = 0.0, max = 10.0))]
//!     sepal_length: f64,
//! }
//!
//! assert!(Iris { sepal_length: 11.0 }.validate().is_err());
//! # }
//! ```
//!
//! # Guides
//!
//! - [`ordering`]: in which order to put authentication, quotas, permissions and validation on
//!   an axum route or a `ServiceBuilder`, what each order costs, and chaining layers without
//!   `E0283`.
//! - The README's "Adopt one layer at a time" and `examples/quickstart`: an axum app that adds
//!   each layer in turn, tested over HTTP.
//! - Refusals for gRPC clients: every layer answers a request whose `content-type` is
//!   `application/grpc` with `grpc-status` (UNAUTHENTICATED, PERMISSION_DENIED,
//!   RESOURCE_EXHAUSTED, ...) instead of a problem body; see [`core::RefusalFormat`].

pub mod ordering;

/// The core the layers talk through (always present): [`mlguard_core`].
pub use mlguard_core as core;

/// Authentication: [`mlguard_auth`] (feature `auth`).
#[cfg(feature = "auth")]
pub use mlguard_auth as auth;

/// Authorization: [`mlguard_rbac`] (feature `rbac`).
#[cfg(feature = "rbac")]
pub use mlguard_rbac as rbac;

/// Rate limits: [`mlguard_ratelimit`] (feature `ratelimit`).
#[cfg(feature = "ratelimit")]
pub use mlguard_ratelimit as ratelimit;

/// Encryption: [`mlguard_crypto`] (feature `crypto`).
#[cfg(feature = "crypto")]
pub use mlguard_crypto as crypto;

/// Input validation: [`mlguard_validate`] (feature `validate`).
#[cfg(feature = "validate")]
pub use mlguard_validate as validate;

/// The `validator` crate `ValidatedJson` is built on (feature `validate`); derive with
/// `#[validate(crate = "mlguard::validator")]`.
#[cfg(feature = "validate")]
pub use validator;

/// The model: [`mlguard_model`] (feature `model`).
#[cfg(feature = "model")]
pub use mlguard_model as model;

/// Protection of the model: [`mlguard_modelsec`] (feature `modelsec`).
#[cfg(feature = "modelsec")]
pub use mlguard_modelsec as modelsec;

/// Edge protections and the server: [`mlguard_http`] (feature `http`).
#[cfg(feature = "http")]
pub use mlguard_http as http;

/// What an adopter names, for `use mlguard::prelude::*;`.
pub mod prelude {
    pub use mlguard_core::{
        AuthMethod, BearerError, ClientIp, ClientIpLayer, ClientIpResolver, ForwardedHeader, PeerAddr,
        Principal, PrincipalId, Problem, RefusalFormat, TrustedProxies, WwwAuthenticate,
    };

    #[cfg(feature = "auth")]
    pub use mlguard_auth::apikey::{KeyStore, MemoryKeyStore};
    #[cfg(feature = "auth")]
    pub use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
    #[cfg(feature = "auth")]
    pub use mlguard_auth::{ApiKeyAuth, ApiKeyLayer, AuthLayer, BearerAuth, BearerAuthLayer};

    #[cfg(all(feature = "rbac", feature = "axum"))]
    pub use mlguard_rbac::{Authorized, HasRole};
    #[cfg(feature = "rbac")]
    pub use mlguard_rbac::{
        Authorizer, GuardLayer, PermissionMap, Policy, RequirePermissionLayer, RequireRoleLayer, Requirement,
        permission_marker, role_marker,
    };

    #[cfg(feature = "ratelimit")]
    pub use mlguard_ratelimit::{Algorithm, KeyExtractor, MissingKey, Quota, RateLimitCost, RateLimitLayer};

    #[cfg(feature = "crypto")]
    pub use mlguard_crypto::{Fernet, MultiFernet};

    #[cfg(feature = "validate")]
    pub use mlguard_validate::{JsonConfig, ValidatedJson};
    /// The `Validate` trait and derive (use `#[validate(crate = "mlguard::validator")]`).
    #[cfg(feature = "validate")]
    pub use validator::Validate;

    #[cfg(feature = "http")]
    pub use mlguard_http::headers::SecurityHeadersLayer;
    #[cfg(feature = "http")]
    pub use mlguard_http::limits::{BodyReadTimeoutLayer, PerKeyInFlightLayer, ShedLayer};
    #[cfg(feature = "http")]
    pub use mlguard_http::path::CanonicalPathLayer;
    #[cfg(feature = "http")]
    pub use mlguard_http::problem::ProblemBodiesLayer;
    #[cfg(feature = "http")]
    pub use mlguard_http::request_id::RequestIdLayer;

    #[cfg(feature = "modelsec")]
    pub use mlguard_modelsec::{ModelGuard, OutputPolicy, QueryBudget};
}
