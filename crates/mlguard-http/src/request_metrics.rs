//! Request counts and latencies by route, method and status, for every adopter.
//!
//! [`RequestMetricsLayer`] counts each request (`{prefix}requests_total`) and records its
//! duration in seconds (`{prefix}request_duration_seconds`, a histogram), both labelled `route`,
//! `method` and `status`. The default prefix is `mlguard_http_`; a service that already
//! publishes these under other names keeps them with [`RequestMetricsLayer::prefix`].
//!
//! The `route` label is never the raw path (one series per path a scanner tries would exhaust
//! the metrics store): it is what [`RequestMetricsLayer::route_label`] returns, with the `axum`
//! feature by default axum's matched path template (`/users/{id}`), and [`UNMATCHED`] when
//! there is none (a 404 from the router's fallback). The `method` label is one of the standard
//! methods or `OTHER`. A service error (not a response) is counted with status `500`.
//!
//! Metrics go through the [`metrics`] facade to the global recorder, or to the recorder given to
//! [`RequestMetricsLayer::recorder`] (for a server that keeps its own registry).
//!
//! With axum, mount it with `Router::layer`, so it runs after routing and sees the matched path:
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{Router, routing::get};
//! use mlguard_http::request_metrics::RequestMetricsLayer;
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "hi" }))
//!     .layer(RequestMetricsLayer::new());
//! # }
//! ```

use http::{Method, Request, Response};
use metrics::{Recorder, SharedString, counter, histogram, with_local_recorder};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

/// The default metric name prefix.
pub const DEFAULT_PREFIX: &str = "mlguard_http_";
/// The `route` label of a request without a route label (no matched route).
pub const UNMATCHED: &str = "unmatched";
/// Latency histogram buckets (seconds) that suit an API answering in milliseconds; give them
/// to the recorder (for example `PrometheusBuilder::set_buckets_for_metric`).
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type RouteFn = dyn Fn(&http::Uri, &http::Extensions) -> Option<String> + Send + Sync;

/// Counts and times requests; see the [module docs](self).
#[derive(Clone)]
#[must_use]
pub struct RequestMetricsLayer {
    inner: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    /// Static (the default names) or shared: cloned for each request without copying.
    requests: SharedString,
    duration: SharedString,
    route: Arc<RouteFn>,
    recorder: Option<Arc<dyn Recorder + Send + Sync>>,
}

impl fmt::Debug for RequestMetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestMetricsLayer")
            .field("requests", &&*self.inner.requests)
            .field("duration", &&*self.inner.duration)
            .field("own_recorder", &self.inner.recorder.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for RequestMetricsLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestMetricsLayer {
    /// Names with [`DEFAULT_PREFIX`], the global recorder, and the route label of
    /// `axum_matched_path` with the `axum` feature ([`UNMATCHED`] for every request without
    /// it: set [`route_label`](Self::route_label)).
    pub fn new() -> Self {
        #[cfg(feature = "axum")]
        let route: Arc<RouteFn> = Arc::new(axum_matched_path);
        #[cfg(not(feature = "axum"))]
        let route: Arc<RouteFn> = Arc::new(|_: &http::Uri, _: &http::Extensions| None);
        Self {
            inner: Arc::new(Settings {
                requests: SharedString::const_str(crate::metric_names::REQUESTS),
                duration: SharedString::const_str(crate::metric_names::REQUEST_DURATION),
                route,
                recorder: None,
            }),
        }
    }

    fn settings(&mut self) -> &mut Settings {
        // Configured before it is cloned; a clone being configured gets its own copy.
        Arc::make_mut(&mut self.inner)
    }

    /// The metric names become `{prefix}requests_total` and `{prefix}request_duration_seconds`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        let s = self.settings();
        s.requests = SharedString::from(Arc::<str>::from(format!("{prefix}requests_total")));
        s.duration = SharedString::from(Arc::<str>::from(format!("{prefix}request_duration_seconds")));
        self
    }

    /// The `route` label of a request, from its URI and extensions; `None` gives [`UNMATCHED`].
    /// Return a bounded set of values (route templates), never the raw path.
    pub fn route_label<F>(mut self, route: F) -> Self
    where
        F: Fn(&http::Uri, &http::Extensions) -> Option<String> + Send + Sync + 'static,
    {
        self.settings().route = Arc::new(route);
        self
    }

    /// Records to `recorder` instead of the global one.
    pub fn recorder(mut self, recorder: Arc<dyn Recorder + Send + Sync>) -> Self {
        self.settings().recorder = Some(recorder);
        self
    }

    /// The name of the request counter.
    #[must_use]
    pub fn requests_name(&self) -> &str {
        &self.inner.requests
    }

    /// The name of the duration histogram.
    #[must_use]
    pub fn duration_name(&self) -> &str {
        &self.inner.duration
    }
}

/// The route label from axum's [`MatchedPath`](axum::extract::MatchedPath) (the route
/// template), `None` when no route matched.
#[cfg(feature = "axum")]
pub fn axum_matched_path(_: &http::Uri, extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RequestMetricsLayer`].
#[derive(Debug, Clone)]
pub struct RequestMetrics<S> {
    inner: S,
    layer: RequestMetricsLayer,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequestMetrics<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let route = (self.layer.inner.route)(req.uri(), req.extensions())
            .map_or(SharedString::const_str(UNMATCHED), SharedString::from);
        let seen = Seen {
            route,
            method: method_label(req.method()),
            settings: self.layer.inner.clone(),
        };
        ResponseFuture {
            inner: self.inner.call(req),
            seen: Some(seen),
            start: Instant::now(),
        }
    }
}

struct Seen {
    route: SharedString,
    method: &'static str,
    settings: Arc<Settings>,
}

impl Seen {
    fn record(self, status: u16, seconds: f64) {
        let s = &self.settings;
        let status = status_label(status);
        let emit = || {
            counter!(s.requests.clone(), "route" => self.route.clone(), "method" => self.method, "status" => status.clone())
                .increment(1);
            histogram!(s.duration.clone(), "route" => self.route.clone(), "method" => self.method, "status" => status.clone())
                .record(seconds);
        };
        match &s.recorder {
            Some(recorder) => with_local_recorder(recorder.as_ref(), emit),
            None => emit(),
        }
    }
}

/// The `status` label: a static string for the statuses an API answers most (no allocation),
/// the number written out for the others.
fn status_label(status: u16) -> SharedString {
    let known = match status {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return SharedString::from(status.to_string()),
    };
    SharedString::const_str(known)
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

pin_project! {
    /// Future of [`RequestMetrics`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        seen: Option<Seen>,
        start: Instant,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(seen) = this.seen.take() {
            let status = result.as_ref().map_or(500, |r| r.status().as_u16());
            seen.record(status, this.start.elapsed().as_secs_f64());
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statuses an API answers most get a static label: its text is the number, and the
    /// two clones made for each request (counter and histogram) share it instead of copying
    /// it. Any other status is written out, and its clones are copies (the control that shows
    /// the pointer test tells the two apart).
    #[test]
    fn known_statuses_get_static_labels_others_are_written_out() {
        let known = [
            200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 502,
            503, 504,
        ];
        for status in known {
            let label = status_label(status);
            assert_eq!(&*label, status.to_string(), "{status}");
            let clone = label.clone();
            assert!(
                std::ptr::eq(label.as_ptr(), clone.as_ptr()),
                "the label of {status} is copied on clone: not static"
            );
        }
        for status in [100, 202, 418, 451, 599] {
            let label = status_label(status);
            assert_eq!(&*label, status.to_string());
            let clone = label.clone();
            assert!(!std::ptr::eq(label.as_ptr(), clone.as_ptr()), "{status}");
        }
    }

    #[test]
    fn debug_names_the_metrics_and_the_recorder() {
        let layer = RequestMetricsLayer::new();
        assert_eq!(
            format!("{layer:?}"),
            r#"RequestMetricsLayer { requests: "mlguard_http_requests_total", duration: "mlguard_http_request_duration_seconds", own_recorder: false, .. }"#
        );
        let recorder: Arc<dyn Recorder + Send + Sync> = Arc::new(metrics::NoopRecorder);
        let layer = RequestMetricsLayer::new().prefix("svc_").recorder(recorder);
        assert_eq!(
            format!("{layer:?}"),
            r#"RequestMetricsLayer { requests: "svc_requests_total", duration: "svc_request_duration_seconds", own_recorder: true, .. }"#
        );
    }
}
