//! Access logs that cannot leak credentials.
//!
//! One `tracing` event per request (target [`ACCESS_LOG_TARGET`], `mlguard_http::access`, level INFO) with method, path
//! (never the query string, where a careless client may put a key), status, latency, request
//! id and client address. No header is logged at all; in addition the credential headers
//! (`Authorization`, `X-API-Key`, `Cookie`, `Set-Cookie`) are marked sensitive with tower-http,
//! so any other layer that prints headers with `Debug` shows `Sensitive` instead of the value.

use http::header::{AUTHORIZATION, COOKIE, HeaderName, SET_COOKIE};
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;
use tower_layer::Layer;
use tower_service::Service;

/// The `tracing` target of the access log events (filter on it to route them).
pub const ACCESS_LOG_TARGET: &str = "mlguard_http::access";

/// The headers whose values are marked sensitive.
pub fn sensitive_headers() -> [HeaderName; 4] {
    [
        AUTHORIZATION,
        HeaderName::from_static("x-api-key"),
        COOKIE,
        SET_COOKIE,
    ]
}

/// tower-http's [`SetSensitiveHeadersLayer`] for [`sensitive_headers`]: any layer that prints
/// headers with `Debug` shows `Sensitive` for the credentials.
pub fn sensitive_headers_layer() -> SetSensitiveHeadersLayer {
    SetSensitiveHeadersLayer::new(sensitive_headers())
}

/// Logs one event per request; see the [module docs](self).
///
/// Put it inside [`sensitive_headers_layer`] and the request-id layers (so the id it logs is the
/// one the response carries):
///
/// ```
/// use mlguard_http::access_log::{AccessLogLayer, sensitive_headers_layer};
/// use tower::ServiceBuilder;
/// let stack = ServiceBuilder::new()
///     .layer(sensitive_headers_layer())
///     .layer(AccessLogLayer::new());
/// # let _ = stack;
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct AccessLogLayer;

impl AccessLogLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

/// The service of [`AccessLogLayer`].
#[derive(Debug, Clone)]
pub struct AccessLog<S> {
    inner: S,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for AccessLog<S>
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
        let info = Info {
            method: req.method().clone(),
            path: req.uri().path().chars().take(256).collect(),
            request_id: req
                .headers()
                .get(super::request_id::X_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            client: mlguard_core::client_ip::peer_addr(req.extensions()).map(|a| a.ip()),
        };
        ResponseFuture {
            inner: self.inner.call(req),
            info: Some(info),
            start: Instant::now(),
        }
    }
}

struct Info {
    method: Method,
    path: String,
    request_id: Option<String>,
    client: Option<std::net::IpAddr>,
}

pin_project! {
    /// Future of [`AccessLog`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        info: Option<Info>,
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
        if let Some(info) = this.info.take() {
            let latency_ms = this.start.elapsed().as_secs_f64() * 1000.0;
            let status = result.as_ref().map_or(500, |r| r.status().as_u16());
            tracing::info!(
                target: "mlguard_http::access",
                method = %info.method,
                path = ?info.path,
                status,
                latency_ms = format_args!("{latency_ms:.2}"),
                request_id = info.request_id.as_deref().unwrap_or("-"),
                client = ?info.client,
                "request"
            );
        }
        Poll::Ready(result)
    }
}
