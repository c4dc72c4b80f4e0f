//! Edge protections for any tower-based HTTP service (axum, hyper, tonic), one module per
//! protection, each a tower [`Layer`](tower_layer::Layer) in the shape of the other mlguard
//! crates (cheap `Clone`, `#[must_use]` builders, unboxed futures, RFC 9457 problem bodies from
//! [`mlguard_core`]), plus a hardened hyper-util/rustls [`server`] that a service may use or
//! replace with its own: every layer works without it.
//!
//! # The stack, outer to inner
//!
//! ```
//! use mlguard_core::ClientIpResolver;
//! use mlguard_http::access_log::{AccessLogLayer, sensitive_headers_layer};
//! use mlguard_http::headers::SecurityHeadersLayer;
//! use mlguard_http::limits::{BodyReadTimeoutLayer, PerKeyInFlightLayer, ShedLayer};
//! use mlguard_http::path::CanonicalPathLayer;
//! use mlguard_http::problem::{PanicProblem, ProblemBodiesLayer};
//! use mlguard_http::request_id::RequestIdLayer;
//! use std::time::Duration;
//! use tower::ServiceBuilder;
//! use tower_http::catch_panic::CatchPanicLayer;
//!
//! let serving_tls = true;
//! let stack = ServiceBuilder::new()
//!     .layer(sensitive_headers_layer())
//!     .layer(RequestIdLayer::new())
//!     .layer(AccessLogLayer::new())
//!     .layer(SecurityHeadersLayer::new().hsts(serving_tls))
//!     .layer(ProblemBodiesLayer::new())
//!     .layer(CatchPanicLayer::custom(PanicProblem))
//!     .layer(PerKeyInFlightLayer::per_client_address(32, ClientIpResolver::new(), 64)?)
//!     .layer(ShedLayer::try_new(256)?)
//!     // tower-http's TimeoutLayer (408) and RequestBodyLimitLayer (413) go here.
//!     .layer(BodyReadTimeoutLayer::new(Duration::from_secs(5)))
//!     .layer(CanonicalPathLayer::new());
//! // `stack.service(router)`; with axum: `Router::new().fallback_service(stack.service(routes))`,
//! // or all of it in one call: `edge::harden` (feature `axum`).
//! # let _ = stack;
//! # Ok::<(), mlguard_http::limits::LimitsError>(())
//! ```
//!
//! # What each protects against
//!
//! ## [`headers`]: security response headers
//! Clickjacking (`X-Frame-Options: DENY`, `frame-ancestors 'none'`), MIME sniffing (`nosniff`),
//! script injection through a response rendered as a page (`Content-Security-Policy:
//! default-src 'none'`), leaking URLs in `Referer`, cross-origin reads (`CORP: same-origin`),
//! downgrade to plain HTTP (`HSTS`, sent only when serving TLS), and shared caches keeping a
//! response to a credentialed request (`Cache-Control: no-store` when `Authorization`,
//! `X-API-Key` or `Cookie` was sent). A handler's own value of a header wins.
//!
//! ## [`path`]: path canonicalization before routing
//! A route's authentication or permission skipped by spelling its path differently:
//! `//predict` and `/%70redict` are rewritten to `/predict` before the router sees them;
//! dot segments, encoded `/` and `\`, control characters and malformed escapes are refused with
//! 400. Proptests pin idempotence and that no input panics.
//!
//! ```
//! use mlguard_http::path::canonical_path;
//! assert_eq!(canonical_path("//%70redict").unwrap(), "/predict");
//! assert!(canonical_path("/admin/..%2fpredict").is_err());
//! ```
//!
//! ## [`limits`]: load shedding and in-flight caps
//! Floods and slow clients holding every slot: [`limits::ShedLayer`] answers 503 with
//! `Retry-After` at once above a global in-flight cap (never an unbounded queue);
//! [`limits::PerKeyInFlightLayer`] caps requests in flight per principal or per client address
//! (so one client cannot take every slot); [`limits::BodyReadTimeoutLayer`] bounds the time a
//! body may take to arrive (408), so a body sent a byte a second frees its slot. Whole-request
//! time and body size: tower-http's `TimeoutLayer` and `RequestBodyLimitLayer`.
//!
//! ## [`request_id`] and [`access_log`]: traceable requests, logs without credentials
//! Untraceable requests and log injection: every request and response carries an
//! `x-request-id` (a client's own id is kept only when short and plain). Credentials in logs:
//! the access log writes method, path (never the query string), status, latency, request id and
//! client address, never a header; the credential headers are also marked sensitive with
//! tower-http, so other layers that print headers show `Sensitive`.
//!
//! ## [`request_metrics`]: requests by route, method and status
//! Attacks and failures nobody sees: a count and a latency histogram per route template (not
//! per raw path, so a scanner cannot exhaust the metrics store), method and status, so a burst
//! of 401, 403 or 429 shows on a dashboard. With the `axum` feature the route is axum's matched
//! path; otherwise a closure gives it. With the `prometheus` feature, `prometheus` installs the
//! process-wide recorder they record to, and its `Registry` keeps a server's own families (its
//! requests, its counters, figures read at scrape time) and renders them with the layers' for
//! the server's `/metrics`.
//!
//! ## `log_format` (feature `subscriber`): logs that cannot be forged
//! Log forging: a value with a line break, control character, ANSI escape or bidi control
//! cannot start a fake line or rewrite the terminal, in `tracing-subscriber`'s text or JSON
//! format.
//!
//! ## `log_writer` (feature `subscriber`): logs off the request path
//! A slow or stuck log sink (a terminal, a full pipe, a stalled collector) slowing or stopping
//! requests, and a `write` system call per access-log line on the request thread: lines go
//! through a bounded queue to one writer thread (tracing-appender's `non_blocking`, lossy);
//! when the queue is full, lines are dropped and counted, never waited for. `subscriber::init`
//! installs both, with `RUST_LOG` as the filter, in one call.
//!
//! ## [`problem`]: one shape for every refusal
//! Framework-made 404, 405, 408, 413, 415 (and 400/422, 5xx) with plain-text bodies that differ
//! from every other error and may echo the client's input: replaced with problem bodies with a
//! fixed detail per status; headers (`Allow`, `Retry-After`, `WWW-Authenticate`) kept. Panics
//! become 500 problems through tower-http's `CatchPanicLayer` with [`problem::PanicProblem`].
//!
//! ## [`server`], [`idle`] and [`tls`]: connections
//! Connection floods (a global cap; the rest wait in the kernel's queue), one address holding
//! every connection (a per-address cap, IPv6 per /64, trusted proxies exempt), slow-loris
//! (header-read and TLS-handshake timeouts), connections that carry no request (an idle rule
//! driven by requests in flight, not bytes, so HTTP/2 PING chatter does not keep one open),
//! excess HTTP/2 work (stream and header-list caps, keep-alive PINGs), protocol sniffing
//! (ALPN decides), old TLS (1.2 and 1.3 only), and abrupt stops (graceful shutdown with a
//! grace period).
//!
//! ```no_run
//! use mlguard_http::server::{Server, ServerOptions};
//! use mlguard_http::tls;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let pair = tls::self_signed(&["localhost".into()])?;
//! let config = tls::server_config_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes())?;
//! let service = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
//!         bytes::Bytes::from_static(b"hello"),
//!     )))
//! });
//! let options = ServerOptions::builder().max_connections(1024).build()?;
//! let server = Server::bind("127.0.0.1:8443".parse()?, service, Some(config), options).await?;
//! let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! server.run(async { let _ = stopped.await; }).await;
//! # Ok(()) }
//! ```
//!
//! [`serve`] starts a bound [`server::Server`] in a background task and hands back a
//! [`serve::Serving`] (its address, its URL, `shutdown`), and picks the rustls configuration a
//! [`tls::TlsSource`] names: what a service's `main` and its end-to-end tests otherwise write
//! again.
//!
//! # Metrics
//!
//! Through the [`metrics`] facade (install any recorder; without one they cost next to
//! nothing). Every refusal a layer makes itself is counted where it is made:
//!
//! | name | labels | when |
//! |---|---|---|
//! | `mlguard_http_shed_total` | | [`limits::ShedLayer`] answered 503 |
//! | `mlguard_http_in_flight_refused_total` | `cap` (the layer's [`name`](limits::PerKeyInFlightLayer::name)) | [`limits::PerKeyInFlightLayer`] answered 503 |
//! | `mlguard_http_body_read_timeouts_total` | | [`limits::BodyReadTimeoutLayer`] answered 408 |
//! | `mlguard_http_path_refused_total` | | [`path::CanonicalPathLayer`] answered 400 |
//! | `mlguard_http_connections_refused_total` | | [`server`] closed a connection over its address's cap |
//! | `mlguard_http_log_lines_dropped_total` | | log lines a `log_writer` (feature `subscriber`) dropped because its queue was full (the sink is stuck or too slow) |
//! | `mlguard_http_requests_total` | `route` (template or `unmatched`), `method`, `status` | every request through [`request_metrics::RequestMetricsLayer`] (prefix configurable) |
//! | `mlguard_http_request_duration_seconds` | `route`, `method`, `status` | histogram of their durations, seconds (same layer, same prefix) |
//!
//! # Logs
//!
//! | target | level | when |
//! |---|---|---|
//! | `mlguard_http::access` | INFO | one event per request ([`access_log`]) |
//! | `mlguard_http::limits` | WARN | a request shed or refused by an in-flight cap |
//! | `mlguard_http::panic` | ERROR | a handler panicked ([`problem::PanicProblem`]) |
//! | `mlguard_http::server` | DEBUG/WARN | connections refused by the per-address cap, failed handshakes, accept errors |

pub mod access_log;
#[cfg(feature = "axum")]
pub mod edge;
pub mod headers;
pub mod idle;
pub mod limits;
#[cfg(feature = "subscriber")]
pub mod log_format;
#[cfg(feature = "subscriber")]
pub mod log_writer;
pub mod metric_names;
pub mod path;
pub mod problem;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(test)]
mod readiness_tests;
pub mod request_id;
pub mod request_metrics;
pub mod serve;
pub mod server;
#[cfg(feature = "subscriber")]
pub mod subscriber;
pub mod tls;
