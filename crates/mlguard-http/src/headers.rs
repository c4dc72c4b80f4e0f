//! Security response headers on every response.
//!
//! Always: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
//! `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`,
//! `Referrer-Policy: no-referrer`, `Cross-Origin-Resource-Policy: same-origin`.
//! With TLS: `Strict-Transport-Security: max-age=31536000` (never over plain HTTP, where a
//! proxy owns that decision). On responses to requests that carried credentials
//! (`Authorization`, `X-API-Key`, `Cookie`): `Cache-Control: no-store`.
//!
//! A header the handler already set is kept (a docs page may need a wider CSP). The set is
//! configurable: [`SecurityHeadersLayer::header`] replaces or adds one, [`SecurityHeadersLayer::without`]
//! removes one. For a single static header with no other rule, tower-http's
//! `SetResponseHeaderLayer::if_not_present` does the same job.

use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower_layer::Layer;
use tower_service::Service;

/// The CSP for API responses: nothing may load, nothing may frame.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// HSTS value: one year.
pub const HSTS: &str = "max-age=31536000";

/// Adds the security headers; see the [module docs](self).
///
/// ```
/// use http::{HeaderValue, header};
/// use mlguard_http::headers::SecurityHeadersLayer;
/// let serving_tls = true;
/// let layer = SecurityHeadersLayer::new()
///     .hsts(serving_tls)
///     .header(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SecurityHeadersLayer {
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
}

impl Default for SecurityHeadersLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl SecurityHeadersLayer {
    /// The headers without HSTS.
    pub fn new() -> Self {
        let headers = vec![
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(API_CSP)),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        Self {
            headers: Arc::new(headers),
        }
    }

    /// Sets `name` to `value` on every response (replacing a default of the same name), unless
    /// the handler set it.
    pub fn header(self, name: HeaderName, value: HeaderValue) -> Self {
        let mut headers: Vec<_> = self.headers.iter().filter(|(n, _)| *n != name).cloned().collect();
        headers.push((name, value));
        Self {
            headers: Arc::new(headers),
        }
    }

    /// Stops sending `name`.
    pub fn without(self, name: &HeaderName) -> Self {
        let headers: Vec<_> = self.headers.iter().filter(|(n, _)| n != name).cloned().collect();
        Self {
            headers: Arc::new(headers),
        }
    }

    /// Adds `Strict-Transport-Security` when `on` (serve it only over TLS).
    pub fn hsts(self, on: bool) -> Self {
        if !on {
            return self;
        }
        self.header(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS))
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            headers: self.headers.clone(),
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
}

/// Whether a request carries credentials, so its response must not be cached.
fn has_credentials(headers: &http::HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key("x-api-key")
        || headers.contains_key(header::COOKIE)
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for SecurityHeaders<S>
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
        let no_store = has_credentials(req.headers());
        ResponseFuture {
            inner: self.inner.call(req),
            headers: self.headers.clone(),
            no_store,
        }
    }
}

pin_project! {
    /// Future of [`SecurityHeaders`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        headers: Arc<Vec<(HeaderName, HeaderValue)>>,
        no_store: bool,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        let h = response.headers_mut();
        // Room for all of them at once: one growth of the map instead of several. The names
        // and values are static or shared (`from_static`, `Bytes`): cloning them copies nothing.
        h.reserve(this.headers.len() + usize::from(*this.no_store));
        for (name, value) in this.headers.iter() {
            h.entry(name).or_insert_with(|| value.clone());
        }
        if *this.no_store {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{ServiceBuilder, ServiceExt};

    async fn run(layer: SecurityHeadersLayer, req: Request<()>) -> Response<()> {
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_req: Request<()>| async {
                let mut r = Response::new(());
                r.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'self'"),
                );
                Ok::<_, std::convert::Infallible>(r)
            })
            .oneshot(req)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn headers_added_hsts_only_when_asked_and_handler_values_kept() {
        let r = run(SecurityHeadersLayer::new(), Request::new(())).await;
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert_eq!(r.headers()["content-security-policy"], "default-src 'self'");
        assert!(!r.headers().contains_key("strict-transport-security"));
        assert!(!r.headers().contains_key("cache-control"));

        let req = Request::builder().header("x-api-key", "k").body(()).unwrap();
        let r = run(SecurityHeadersLayer::new().hsts(true), req).await;
        assert_eq!(r.headers()["strict-transport-security"], HSTS);
        assert_eq!(r.headers()["cache-control"], "no-store");
    }

    /// Mutant (issue 20): `len + no_store` into `len - no_store` in the capacity reserved,
    /// which underflows for an empty set.
    #[tokio::test]
    async fn an_empty_set_still_marks_a_credentialed_response_no_store() {
        let layer = [
            header::X_CONTENT_TYPE_OPTIONS,
            header::X_FRAME_OPTIONS,
            header::CONTENT_SECURITY_POLICY,
            header::REFERRER_POLICY,
            HeaderName::from_static("cross-origin-resource-policy"),
        ]
        .iter()
        .fold(SecurityHeadersLayer::new(), |layer, name| layer.without(name));
        let req = Request::builder().header("cookie", "session=1").body(()).unwrap();
        let r = run(layer, req).await;
        assert_eq!(r.headers()["cache-control"], "no-store");
        // The handler's own CSP, and `no-store`: nothing else.
        assert_eq!(r.headers().len(), 2, "{:?}", r.headers());
    }

    #[tokio::test]
    async fn headers_can_be_replaced_and_removed() {
        let layer = SecurityHeadersLayer::new()
            .header(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"))
            .without(&header::REFERRER_POLICY);
        let r = run(layer, Request::new(())).await;
        assert_eq!(r.headers()["x-frame-options"], "SAMEORIGIN");
        assert_eq!(r.headers().get_all("x-frame-options").iter().count(), 1);
        assert!(!r.headers().contains_key("referrer-policy"));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
}
