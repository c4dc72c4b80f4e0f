//! # Ordering: authentication, quota, permission, validation
//!
//! Each mlguard layer reads what the layers outside it wrote: the permission check and a
//! per-principal quota read the [`Principal`](crate::core::Principal) the authentication layer
//! wrote; nothing works in the wrong order. This chapter gives the order, how to write it in
//! axum and with `ServiceBuilder`, what each other order costs, and how to chain layers on one
//! route without `E0283`.
//!
//! ## The order, outermost first
//!
//! 1. **Edge protections and a per-address limit** (mlguard-http's stack; a
//!    `RateLimitLayer` keyed by [`KeyExtractor::client_ip`]): they need no identity and are
//!    cheap, so a flood is refused before it costs anything.
//! 2. **Authentication** (`AuthLayer`: API key or bearer token) writes the `Principal`, or
//!    answers 401.
//! 3. **Permission** (`RequirePermissionLayer`) answers 403 when the principal may not call the
//!    route.
//! 4. **Per-principal quota** (`RateLimitLayer` keyed by [`KeyExtractor::principal`]) charges
//!    the principal, or answers 429.
//! 5. **Validation** (`ValidatedJson<T>`, an extractor of the handler) reads and checks the
//!    body: 413, 415, 422.
//! 6. The handler.
//!
//! ## What the other orders cost
//!
//! | order | who pays | verdict |
//! |---|---|---|
//! | quota (per principal) outside authentication | no principal yet: every request is a 500 `server misconfigured` and a logged fix | a configuration error, reported |
//! | permission outside authentication | same: 500 and a logged fix (it used to be a 401 that no client could cure) | a configuration error, reported |
//! | quota outside permission | a principal spends its own quota on routes it may not call, and gets 429 where 403 is the truth | wasteful; never another principal's quota |
//! | permission outside quota (recommended) | refused requests are free; only allowed calls are charged | |
//! | validation outside quota (a body-reading layer in front of the quota) | invalid bodies are parsed with no limit: a flood of 1 MiB bad JSON costs CPU for free | avoid; keep validation in the handler |
//! | quota outside validation (recommended) | an invalid request (422) spends one unit: probing the validator costs quota | |
//! | per-address limit inside authentication | an anonymous flood reaches the key hash or the JWT verification (and, on `/token`, argon2id) unthrottled | put it outside |
//! | quota keyed by subject ([`KeyExtractor::principal_subject`]) | an API key *named* `admin` and the user `admin` share one bucket: one spends the other's quota | use [`KeyExtractor::principal`] |
//! | quota keyed by a body field (a username on `/token`) alone | anyone can spend alice's login attempts (a lockout) | add a per-address limit beside it |
//!
//! ## axum: the layer added last runs first
//!
//! `Router::route_layer`, `Router::layer` and `MethodRouter::layer` wrap what is already
//! there, so the **last call is the outermost layer**: write the order bottom-up.
//!
//! `ServiceBuilder` reads the other way: the **first `.layer()` is the outermost**. Built into
//! one layer and given to `route_layer` once, it reads top-down, in the order above, and it is
//! also how to avoid `E0283` (below).
//!
//! ```
//! # #[cfg(all(feature = "auth", feature = "rbac", feature = "ratelimit", feature = "axum"))]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, body::Body, routing::post};
//! use mlguard::auth::apikey::{MemoryKeyStore, generate};
//! use mlguard::prelude::*;
//! use std::sync::Arc;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! let keys = Arc::new(MemoryKeyStore::new());
//! let (alice_key, record) = generate("alice", ["user"])?;
//! keys.insert(record);
//! let (guest_key, record) = generate("guest", ["guest"])?;
//! keys.insert(record);
//!
//! let auth = AuthLayer::new().api_key(ApiKeyAuth::new(keys).realm("api"));
//! let authz = Authorizer::new(Policy::builder().role("user", ["model:predict"]).role("guest", ["model:read"]).build()?);
//! let permission = RequirePermissionLayer::try_new(&authz, "model:predict")?;
//! // Clones of a RateLimitLayer share one state: each app below gets a quota of its own.
//! let quota = || {
//!     RateLimitLayer::builder()
//!         .quota("2/minute")
//!         .key(KeyExtractor::principal())
//!         .policy_name("predict")
//!         .build()
//! };
//!
//! // route_layer, bottom-up: auth runs first, then the permission, then the quota.
//! let bottom_up: Router = Router::new().route("/predict", post(|| async { "setosa" }))
//!     .route_layer(quota()?)
//!     .route_layer(permission.clone())
//!     .route_layer(auth.clone());
//!
//! // The same stack with ServiceBuilder, top-down, given to route_layer once.
//! let top_down: Router = Router::new().route("/predict", post(|| async { "setosa" }))
//!     .route_layer(ServiceBuilder::new().layer(auth).layer(permission).layer(quota()?));
//!
//! for app in [bottom_up, top_down] {
//!     let call = |key: Option<&str>| {
//!         let mut req = http::Request::post("/predict");
//!         if let Some(key) = key {
//!             req = req.header("x-api-key", key);
//!         }
//!         app.clone().oneshot(req.body(Body::empty()).unwrap())
//!     };
//!     assert_eq!(call(None).await?.status(), 401);
//!     // The guest is refused before the quota: refusals spend nothing...
//!     for _ in 0..3 {
//!         assert_eq!(call(Some(guest_key.expose_secret())).await?.status(), 403);
//!     }
//!     // ...and alice's quota is hers alone.
//!     assert_eq!(call(Some(alice_key.expose_secret())).await?.status(), 200);
//!     assert_eq!(call(Some(alice_key.expose_secret())).await?.status(), 200);
//!     assert_eq!(call(Some(alice_key.expose_secret())).await?.status(), 429);
//! }
//! # Ok(()) }
//! # #[cfg(not(all(feature = "auth", feature = "rbac", feature = "ratelimit", feature = "axum")))]
//! # fn main() {}
//! ```
//!
//! ## `E0283`: "type annotations needed ... cannot infer type for `NewError`"
//!
//! axum's `MethodRouter::layer` (the `.layer()` on `post(handler)`) may change the error type,
//! so it has a type parameter `NewError`; chaining two of them leaves the one in the middle
//! unknown:
//!
//! ```compile_fail,E0283
//! # #[cfg(all(feature = "ratelimit", feature = "axum"))] {
//! # use mlguard::prelude::*;
//! # let a = RateLimitLayer::builder().quota("5/minute").build().unwrap();
//! # let b = a.clone();
//! let route = axum::routing::post(|| async { "ok" }).layer(a).layer(b);
//! # let _: axum::routing::MethodRouter = route;
//! # }
//! # #[cfg(not(all(feature = "ratelimit", feature = "axum")))]
//! # compile_error!("E0283 stand-in");
//! ```
//!
//! Any of these compiles:
//!
//! - name it on the first call: `.layer::<_, std::convert::Infallible>(a).layer(b)`;
//! - use `Router::route_layer` / `Router::layer`, which keep the error type (above);
//! - put the layers in one `ServiceBuilder` and call `.layer()` once.
//!
//! ```
//! # #[cfg(all(feature = "ratelimit", feature = "axum"))] {
//! use mlguard::prelude::*;
//! use std::convert::Infallible;
//!
//! let by_user = RateLimitLayer::builder().quota("5/minute").key(KeyExtractor::body_field("username")).policy_name("user").build().unwrap();
//! let by_ip = RateLimitLayer::builder().quota("20/minute").policy_name("ip").build().unwrap();
//! let one: axum::routing::MethodRouter = axum::routing::post(|| async { "token" })
//!     .layer::<_, Infallible>(by_user.clone())
//!     .layer(by_ip.clone());
//! let two: axum::routing::MethodRouter = axum::routing::post(|| async { "token" })
//!     .layer(tower::ServiceBuilder::new().layer(by_ip).layer(by_user));
//! # let _ = (one, two);
//! # }
//! ```
//!
//! [`KeyExtractor::client_ip`]: crate::ratelimit::KeyExtractor::client_ip
//! [`KeyExtractor::principal`]: crate::ratelimit::KeyExtractor::principal
//! [`KeyExtractor::principal_subject`]: crate::ratelimit::KeyExtractor::principal_subject
