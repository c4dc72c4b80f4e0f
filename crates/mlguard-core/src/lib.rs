//! The small core that the mlguard layers talk through.
//!
//! mlguard is a set of security middleware for model-serving HTTP APIs, one crate per concern.
//! The crates never call each other; they meet here:
//!
//! - [`Principal`]: who the caller is. Authentication writes it into the request extensions;
//!   authorization, rate limiting and handlers read it. Swap in your own authentication and
//!   the other layers keep working.
//! - [`Problem`]: the RFC 9457 `application/problem+json` body every layer rejects with, and
//!   [`ResponseBody`] / [`ResponseFuture`], so a layer works with any body type.
//! - [`ClientIpResolver`]: the client address, believing `X-Forwarded-For` / `Forwarded` only
//!   from trusted proxies, so a client cannot pick its own rate-limit bucket.
//! - [`WwwAuthenticate`]: RFC 6750 / RFC 9110 challenges for 401 and 403 responses.
//! - [`Clock`]: injectable time, so expiry and quota tests are exact.
//! - [`log`]: user-supplied values escaped for logs, so a value cannot forge a log line.
//! - [`RefusalFormat`] ([`refusal`]): refusals a gRPC client understands (`grpc-status`), and
//!   [`misconfig`]: a missing peer address or principal answered as the server's mistake.
//! - [`fs`]: atomic, durable, owner-only file writes (stores, model files, data directories).
//! - [`Secret`]: a configuration secret that `Debug` never shows, wiped on drop; and
//!   [`duration::parse_duration`]: human durations (`500ms`, `10s`, `7d`) for settings.
//! - `openapi` (feature): the problem body's schema and the refusals every operation documents.
//!
//! **What it protects against:** spoofed client addresses (forged forwarding headers),
//! inconsistent or leaky error bodies (every rejection has one shape, and no secret), and header
//! injection through challenge parameters.
//!
//! # Example
//!
//! A tiny authentication layer of your own that writes a [`Principal`], and a handler that
//! answers with a [`Problem`] when it is missing:
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use mlguard_core::{AuthMethod, Principal, Problem, WwwAuthenticate};
//!
//! fn authenticate(req: &mut Request<()>) {
//!     if req.headers().get("x-demo-user").is_some() {
//!         let p = Principal::builder("demo")
//!             .role("user")
//!             .method(AuthMethod::Other("demo".into()))
//!             .build();
//!         req.extensions_mut().insert(p);
//!     }
//! }
//!
//! fn handler(req: &Request<()>) -> Response<http_body_util::Full<bytes::Bytes>> {
//!     match Principal::from_extensions(req.extensions()) {
//!         Some(p) => Response::new(format!("hello {}", p.subject()).into()),
//!         None => Problem::unauthorized("Not authenticated", &WwwAuthenticate::new("Demo")).into_response(),
//!     }
//! }
//!
//! let mut req = Request::new(());
//! authenticate(&mut req);
//! assert_eq!(handler(&req).status(), StatusCode::UNAUTHORIZED);
//! ```
//!
//! # Features
//!
//! - `axum`: `IntoResponse` for [`Problem`], `FromRequestParts` for [`Principal`] and
//!   [`ClientIp`], and `ConnectInfo<SocketAddr>` as a peer-address source.
//! - `openapi`: the `openapi` module (utoipa): the `Problem` schema and problem responses.

pub mod body;
pub mod challenge;
pub mod client_ip;
pub mod clock;
pub mod duration;
pub mod fs;
pub mod log;
pub mod misconfig;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod principal;
pub mod problem;
pub mod refusal;
pub mod secret;

pub use body::{ResponseBody, ResponseFuture};
pub use challenge::{BearerError, WwwAuthenticate};
pub use client_ip::{
    ClientIp, ClientIpConfigError, ClientIpLayer, ClientIpResolver, ForwardedHeader, PeerAddr, TrustedProxies,
};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use principal::{
    Anonymous, AuthMethod, Principal, PrincipalBuilder, PrincipalId, PrincipalIdRef, PrincipalLookup,
};
pub use problem::{PROBLEM_JSON, Problem};
pub use refusal::RefusalFormat;
pub use secret::Secret;
