//! The whole stack of this crate around an axum `Router`, in the order of the
//! [crate docs](crate) (feature `axum`): for a service that wants every edge protection with
//! one call. A service that needs another order or another layer in between composes the
//! layers itself, as the crate docs show.
//!
//! Outer to inner: credential headers marked sensitive, request id, access log, security
//! headers (HSTS when `hsts`), problem bodies for framework answers, panics as 500 problems,
//! the per-address in-flight cap, load shedding, the request timeout (408), the body limit
//! (413), the body read deadline (408), path canonicalization, then the routes (with axum's own
//! body limit set to the same `body_limit`).
//!
//! ```
//! use axum::{Router, routing::get};
//! use mlguard_http::edge::{EdgeOptions, harden};
//!
//! let mut options = EdgeOptions::default();
//! options.hsts = true;
//! let app: Router = harden(Router::new().route("/", get(|| async { "hi" })), &options)?;
//! # let _ = app;
//! # Ok::<(), mlguard_http::limits::LimitsError>(())
//! ```

use crate::access_log::{AccessLogLayer, sensitive_headers_layer};
use crate::headers::SecurityHeadersLayer;
use crate::limits::{BodyReadTimeoutLayer, LimitsError, PerKeyInFlightLayer, ShedLayer};
use crate::path::CanonicalPathLayer;
use crate::problem::{PanicProblem, ProblemBodiesLayer};
use crate::request_id::RequestIdLayer;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use http::StatusCode;
use mlguard_core::{ClientIpResolver, TrustedProxies};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_layer::Layer;

/// Limits and switches of [`harden`]. The defaults are the mlguard API defaults
/// (`docs/defaults.md`): no HSTS (set it when serving TLS), 64 KiB bodies, 10 s per request,
/// 256 requests in flight, 64 per client address, 5 s for a body to arrive, no trusted proxy,
/// IPv6 addresses counted per /64.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EdgeOptions {
    /// Send HSTS (only when serving TLS).
    pub hsts: bool,
    /// Maximum request body, bytes.
    pub body_limit: usize,
    /// Whole-request time limit.
    pub request_timeout: Duration,
    /// Requests in flight before shedding.
    pub concurrency_limit: usize,
    /// Requests of one client address in flight.
    pub max_in_flight_per_ip: usize,
    /// Time for a request body to arrive.
    pub body_read_timeout: Duration,
    /// Proxies whose forwarding headers name the client (for the per-address cap).
    pub trusted_proxies: TrustedProxies,
    /// IPv6 prefix length one client address stands for in the per-address cap.
    pub v6_prefix: u8,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            hsts: false,
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            concurrency_limit: 256,
            max_in_flight_per_ip: 64,
            body_read_timeout: Duration::from_secs(5),
            trusted_proxies: TrustedProxies::none(),
            v6_prefix: 64,
        }
    }
}

/// Wraps `routes` in the stack of the [module docs](self).
///
/// # Errors
/// A limit of 0.
pub fn harden(routes: Router, options: &EdgeOptions) -> Result<Router, LimitsError> {
    let routes = routes.layer(DefaultBodyLimit::max(options.body_limit));
    let canonical = CanonicalPathLayer::new().layer(routes);
    let resolver = ClientIpResolver::new().with_trusted_proxies(options.trusted_proxies.clone());
    let per_address =
        PerKeyInFlightLayer::per_client_address(options.max_in_flight_per_ip, resolver, options.v6_prefix)?;
    let stack = ServiceBuilder::new()
        .layer(sensitive_headers_layer())
        .layer(RequestIdLayer::new())
        .layer(AccessLogLayer::new())
        .layer(SecurityHeadersLayer::new().hsts(options.hsts))
        .layer(ProblemBodiesLayer::new())
        .layer(CatchPanicLayer::custom(PanicProblem))
        .layer(per_address)
        .layer(ShedLayer::try_new(options.concurrency_limit)?)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(options.body_limit))
        .layer(BodyReadTimeoutLayer::new(options.body_read_timeout));
    Ok(Router::new().fallback_service(canonical).layer(stack))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use http::Request;
    use http_body_util::BodyExt;
    use mlguard_core::client_ip::PeerAddr;
    use std::net::SocketAddr;
    use tower::ServiceExt;

    fn request(method: &str, path: &str, body: &'static str) -> Request<Body> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-length", body.len())
            .body(Body::from(body))
            .unwrap();
        let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        req.extensions_mut().insert(PeerAddr(peer));
        req
    }

    /// The routes answer inside the stack: a route's answer carries a request id and the
    /// security headers (HSTS when asked), a body over `body_limit` is a 413 problem, a path
    /// that is not canonical is refused before routing, and an unknown route is a 404 problem.
    #[tokio::test]
    async fn the_routes_answer_inside_the_whole_stack() {
        let options = EdgeOptions {
            hsts: true,
            body_limit: 16,
            ..EdgeOptions::default()
        };
        let routes = Router::new()
            .route("/", get(|| async { "hi" }))
            .route("/echo", post(|body: String| async move { body }));
        let app = harden(routes, &options).unwrap();

        let res = app.clone().oneshot(request("GET", "/", "")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        assert!(headers.contains_key("x-request-id"), "{headers:?}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.contains_key("strict-transport-security"), "{headers:?}");
        assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "hi");

        let res = app
            .clone()
            .oneshot(request("POST", "/echo", "0123456789abcdef"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let res = app
            .clone()
            .oneshot(request("POST", "/echo", "0123456789abcdefg"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(res.headers()["content-type"], "application/problem+json");

        let res = app.clone().oneshot(request("GET", "/a/../", "")).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let res = app.clone().oneshot(request("GET", "/nowhere", "")).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }

    #[test]
    fn a_limit_of_zero_is_refused() {
        let options = EdgeOptions {
            concurrency_limit: 0,
            ..EdgeOptions::default()
        };
        assert!(harden(Router::new(), &options).is_err());
        let options = EdgeOptions {
            max_in_flight_per_ip: 0,
            ..EdgeOptions::default()
        };
        assert!(harden(Router::new(), &options).is_err());
    }
}
