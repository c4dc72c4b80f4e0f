//! Role-based access control for tower and axum services: a validated roles -> permissions
//! [`Policy`] with inheritance, scope narrowing for down-scoped tokens, layers and extractors
//! that answer with RFC 9457 problem bodies, a deny-by-default route guard, and a dry-run mode.
//!
//! # What it protects against
//!
//! - **Broken function-level authorization** (OWASP API5): an endpoint that forgets its check.
//!   [`GuardLayer`] puts a [`PermissionMap`] in front of the whole router and refuses (403,
//!   logged as a warning) any route the map does not name, so a new route is closed until
//!   someone writes down what it requires. Policies, maps and requirements are validated when
//!   built: a typo in a permission or a role is a startup error, not a route nobody (or
//!   everybody) can reach.
//! - **Privilege escalation through over-scoped tokens**: a token's `scope` only narrows. A
//!   token an admin minted for a CI job with `scope = "model:predict"` can predict and nothing
//!   else, even though the admin could do more ([`Policy::is_allowed`] states the exact rule;
//!   role checks require the scope to cover the whole role).
//! - **Privilege escalation through the policy itself**: inheritance cycles and unknown roles
//!   are rejected at build time, and wildcards are whole segments only (`model:*`, never
//!   `model:pred*`), so what a grant covers is obvious from reading it.
//! - **Silent misconfiguration**: a check with no authentication layer in front of it (the
//!   layer added in the wrong order) answers 500 `server misconfigured` and logs an error naming
//!   the fix, instead of a 401 no client could cure. An authentication layer that lets requests
//!   without credentials through marks them [`Anonymous`](mlguard_core::Anonymous).
//! - **Unclear refusals**: an anonymous request is 401 with the challenge your authentication
//!   layer uses; a principal without the permission is 403 with an `application/problem+json` body,
//!   and for bearer tokens `WWW-Authenticate: Bearer error="insufficient_scope",
//!   scope="<needed>"` (RFC 6750 section 3.1).
//!
//! Refusals to gRPC requests (`content-type: application/grpc`) are `grpc-status`
//! UNAUTHENTICATED (16) / PERMISSION_DENIED (7) with the detail as `grpc-message`, not problem
//! bodies ([`Authorizer::refusal_format`], [`mlguard_core::refusal`]).
//!
//! Every decision emits a `tracing` event (target `mlguard_rbac`) with the subject, the
//! permission or role, the outcome and the reason; never a credential (a
//! [`Principal`](mlguard_core::Principal) holds none) nor a token or key id. Allowed requests
//! log at `DEBUG`, refusals at `INFO`, unmapped routes and dry-run refusals at `WARN`.
//! [`Authorizer::dry_run`] makes every check and logs it, but lets refused requests through:
//! roll out a new policy, watch for `outcome="deny" dry_run=true`, then enforce.
//!
//! This crate does not authenticate. An authentication layer (mlguard-auth's, or your own)
//! writes a [`Principal`](mlguard_core::Principal) into the request extensions; the layers
//! here read it, so they go *inside* the authentication layer.
//!
//! # Example
//!
//! A complete axum application: a stand-in authentication layer, the policy from TOML, a
//! deny-by-default guard on the router and a permission layer on one route.
//! (With the `axum` feature, the `Authorized<P>` extractor does the same
//! per handler.)
//!
//! ```
//! use axum::{Router, body::Body, routing::{get, post}};
//! use http::{Method, Request, StatusCode};
//! use mlguard_core::{AuthMethod, Principal, WwwAuthenticate};
//! use mlguard_rbac::{Authorizer, GuardLayer, PermissionMap, Policy, RequirePermissionLayer};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::from_toml_str(r#"
//!     [roles.user]
//!     permissions = ["model:predict"]
//!     [roles.admin]
//!     inherits = ["user"]
//!     permissions = ["keys:*", "crypto:decrypt"]
//! "#)?;
//! let authz = Authorizer::new(policy).challenge(WwwAuthenticate::bearer().realm("ml-api"));
//!
//! // Deny by default: every route must appear here, public ones included.
//! let routes = PermissionMap::builder()
//!     .public(Method::GET, "/health")
//!     .permission(Method::POST, "/predict", "model:predict")
//!     .role(Method::POST, "/keys", "admin")
//!     .build()?;
//!
//! let app = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .route(
//!         "/predict",
//!         // A per-route layer works alone too; here it repeats the map's rule.
//!         post(|| async { "setosa" }).layer(RequirePermissionLayer::try_new(&authz, "model:predict")?),
//!     )
//!     .route("/keys", post(|| async { "created" }))
//!     .route("/forgotten", get(|| async { "oops" })) // not in the map: 403
//!     .layer(GuardLayer::try_new(&authz, routes)?)
//!     // Stand-in for the authentication layer (outermost): a bearer token whose scope
//!     // is the `x-scope` header, for the demonstration.
//!     .layer(axum::middleware::from_fn(|mut req: Request<Body>, next: axum::middleware::Next| async move {
//!         if let Some(role) = req.headers().get("x-role").and_then(|v| v.to_str().ok()) {
//!             let mut p = Principal::builder("alice")
//!                 .role(role)
//!                 .method(AuthMethod::Bearer { token_id: None });
//!             if let Some(scope) = req.headers().get("x-scope").and_then(|v| v.to_str().ok()) {
//!                 p = p.scopes(scope.split(' ').map(str::to_owned));
//!             }
//!             let principal = p.build();
//!             req.extensions_mut().insert(principal);
//!         } else {
//!             // Optional authentication lets the request through, marked anonymous.
//!             req.extensions_mut().insert(mlguard_core::Anonymous);
//!         }
//!         next.run(req).await
//!     }));
//!
//! let call = |method: &str, path: &str, role: Option<&str>, scope: Option<&str>| {
//!     let mut req = Request::builder().method(method).uri(path);
//!     if let Some(role) = role { req = req.header("x-role", role); }
//!     if let Some(scope) = scope { req = req.header("x-scope", scope); }
//!     app.clone().oneshot(req.body(Body::empty()).unwrap())
//! };
//!
//! assert_eq!(call("GET", "/health", None, None).await?.status(), StatusCode::OK);
//! let anonymous = call("POST", "/predict", None, None).await?;
//! assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(anonymous.headers()["www-authenticate"], r#"Bearer realm="ml-api""#);
//! assert_eq!(call("POST", "/predict", Some("user"), None).await?.status(), StatusCode::OK);
//! assert_eq!(call("POST", "/predict", Some("admin"), None).await?.status(), StatusCode::OK);
//! let user_keys = call("POST", "/keys", Some("user"), None).await?;
//! assert_eq!(user_keys.status(), StatusCode::FORBIDDEN);
//! assert_eq!(user_keys.headers()["content-type"], "application/problem+json");
//! // An admin's token scoped to predicting cannot create keys.
//! let scoped = call("POST", "/keys", Some("admin"), Some("model:predict")).await?;
//! assert_eq!(scoped.status(), StatusCode::FORBIDDEN);
//! assert_eq!(
//!     call("POST", "/predict", Some("admin"), Some("keys:*")).await?.headers()["www-authenticate"],
//!     r#"Bearer realm="ml-api", error="insufficient_scope", scope="model:predict""#
//! );
//! assert_eq!(call("GET", "/forgotten", Some("admin"), None).await?.status(), StatusCode::FORBIDDEN);
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `axum`: the `Authorized<P>` and `HasRole<R>`
//!   extractors (reading the [`Authorizer`] from state), and route lookup by axum's
//!   `MatchedPath` in [`GuardLayer`] (needed for routes with parameters, like `/models/{id}`).

pub mod authorizer;
pub mod decision;
pub mod error;
#[cfg(feature = "axum")]
pub mod extract;
pub mod guard;
pub mod layer;
pub mod marker;
pub mod permission;
pub mod policy;

pub use authorizer::{Authorizer, Requirement};
pub use decision::{Decision, DenyReason};
pub use error::RbacError;
#[cfg(feature = "axum")]
pub use extract::{Authorized, HasRole};
pub use guard::{Guard, GuardLayer, PermissionMap, PermissionMapBuilder};
pub use layer::{Authorize, RequirePermissionLayer, RequireRoleLayer};
pub use marker::{RequiredPermission, RequiredRole};
pub use permission::{Permission, PermissionError};
pub use policy::{Policy, PolicyBuilder, PolicyConfig, RoleConfig};
