//! Access logs that cannot leak credentials.
//!
//! One `tracing` event per request (target [`ACCESS_LOG_TARGET`], `mlguard_http::access`, level INFO) with method, path
//! (never the query string, where a careless client may put a key), status, latency, request
//! id and client address. No header is logged at all; in addition the credential headers
//! (`Authorization`, `X-API-Key`, `Cookie`, `Set-Cookie`) are marked sensitive with tower-http,
//! so any other layer that prints headers with `Debug` shows `Sensitive` instead of the value.

use http::header::{AUTHORIZATION, COOKIE, HeaderName, SET_COOKIE};
use http::{HeaderValue, Method, Request, Response, Uri};
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
        // Clones of shared buffers, not copies: a URI and a header value parsed by hyper point
        // into its read buffer, and the generated id is shared with the request-id layers.
        let info = Info {
            method: req.method().clone(),
            uri: req.uri().clone(),
            request_id: req.headers().get(super::request_id::X_REQUEST_ID).cloned(),
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
    /// Only its path is logged, never the query.
    uri: Uri,
    request_id: Option<HeaderValue>,
    client: Option<std::net::IpAddr>,
}

/// The longest path the log records, in characters.
const MAX_PATH_CHARS: usize = 256;

/// `path` cut to its first [`MAX_PATH_CHARS`] characters.
fn logged_path(path: &str) -> &str {
    path.char_indices()
        .nth(MAX_PATH_CHARS)
        .map_or(path, |(end, _)| &path[..end])
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
                path = ?logged_path(info.uri.path()),
                status,
                latency_ms = format_args!("{latency_ms:.2}"),
                request_id = info.request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-"),
                client = ?info.client,
                "request"
            );
        }
        Poll::Ready(result)
    }
}

#[cfg(all(test, feature = "subscriber"))]
mod tests {
    use super::*;
    use crate::log_format::EscapedFields;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tower::{ServiceBuilder, ServiceExt};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The log line of one request through the access log.
    async fn line_of(req: Request<()>) -> String {
        line_of_slow(req, std::time::Duration::ZERO).await
    }

    /// The log line of one request through the access log, answered after `delay`.
    async fn line_of_slow(req: Request<()>, delay: std::time::Duration) -> String {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .fmt_fields(EscapedFields)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let svc = ServiceBuilder::new().layer(AccessLogLayer::new()).service_fn(
            move |_req: Request<()>| async move {
                tokio::time::sleep(delay).await;
                Ok::<_, std::convert::Infallible>(Response::new(()))
            },
        );
        svc.oneshot(req).await.unwrap();
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test]
    async fn logs_path_status_and_id_never_query_or_headers() {
        let req = Request::post("/predict?api_key=query-secret")
            .header("authorization", "Bearer header-secret")
            .header("x-api-key", "key-secret")
            .header("x-request-id", "abc-1")
            .body(())
            .unwrap();
        let line = line_of(req).await;
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(
            line.contains(
                "mlguard_http::access: request method=POST path=\"/predict\" status=200 latency_ms="
            ),
            "{line}"
        );
        assert!(line.contains(r#" request_id="abc-1" client=None"#), "{line}");
        assert!(!line.contains("secret"), "{line}");
        assert!(!line.contains('?'), "{line}");
    }

    #[tokio::test]
    async fn long_paths_are_cut_and_odd_ones_escaped() {
        let long = format!("/{}", "a".repeat(400));
        let line = line_of(Request::get(long.as_str()).body(()).unwrap()).await;
        assert!(
            line.contains(&format!("path=\"/{}\" ", "a".repeat(255))),
            "{line}"
        );
        assert!(!line.contains(&"a".repeat(256)), "{line}");
        assert!(line.contains(r#"request_id="-""#), "{line}");
        // No request id header, a path with a quote and a percent escape: quoted and escaped.
        let line = line_of(Request::get("/a%0Ab\"c").body(()).unwrap()).await;
        assert!(line.contains(r#"path="/a%0Ab\"c""#), "{line}");
    }

    /// `latency_ms` is the time the inner service took, in milliseconds: no less than its
    /// 30 ms delay and no more than the time the whole call took, measured around it.
    #[tokio::test]
    async fn latency_is_in_milliseconds() {
        let delay = std::time::Duration::from_millis(30);
        let start = Instant::now();
        let line = line_of_slow(Request::get("/").body(()).unwrap(), delay).await;
        let outer_ms = start.elapsed().as_secs_f64() * 1000.0;
        let latency: f64 = line
            .split(" latency_ms=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no latency in {line}"));
        assert!(
            (30.0..=outer_ms).contains(&latency),
            "{latency} not in 30..={outer_ms}: {line}"
        );
    }
}
