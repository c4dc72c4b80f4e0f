//! Request ids: each request gets an `x-request-id` (a UUID v4, or a well-formed one the client
//! sent), echoed on the response and written into the access log.
//!
//! A client-sent id is kept only when it is 1 to 64 characters of `[A-Za-z0-9._-]`
//! ([`is_acceptable`]); anything else (line breaks, escapes, megabytes) is dropped and replaced,
//! so an id can neither forge log lines nor grow them without bound. [`RequestIdLayer`] is
//! tower-http's `SetRequestIdLayer` and `PropagateRequestIdLayer` behind that check.

use http::HeaderName;
use http::Request;
use std::task::{Context, Poll};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestId, PropagateRequestIdLayer, RequestId, SetRequestId, SetRequestIdLayer,
};
use tower_layer::Layer;
use tower_service::Service;

/// The header name.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes UUID v4 request ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuid;

impl MakeRequestId for MakeUuid {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<RequestId> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).ok()?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let id = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        http::HeaderValue::try_from(id).ok().map(RequestId::new)
    }
}

/// Whether a client-sent id is kept: 1 to 64 characters of `[A-Za-z0-9._-]` (no log injection,
/// no unbounded log fields).
pub fn is_acceptable(value: &http::HeaderValue) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Drops a malformed client-sent `x-request-id` so [`set_layer`] makes a fresh one.
pub fn drop_malformed<B>(mut req: http::Request<B>) -> http::Request<B> {
    if req
        .headers()
        .get(&X_REQUEST_ID)
        .is_some_and(|v| !is_acceptable(v))
    {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    req
}

/// Sets `x-request-id` on requests that have none.
pub fn set_layer() -> SetRequestIdLayer<MakeUuid> {
    SetRequestIdLayer::new(X_REQUEST_ID, MakeUuid)
}

/// Copies the request's `x-request-id` to the response.
pub fn propagate_layer() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(X_REQUEST_ID)
}

/// Drops a malformed inbound id, sets one where missing, copies it to the response; see the
/// [module docs](self).
///
/// ```
/// use mlguard_http::request_id::RequestIdLayer;
/// use tower::ServiceBuilder;
/// let stack = ServiceBuilder::new().layer(RequestIdLayer::new());
/// # let _ = stack;
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct RequestIdLayer;

impl RequestIdLayer {
    /// The layer, with UUID v4 ids in `x-request-id`.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = DropMalformed<SetRequestId<PropagateRequestId<S>, MakeUuid>>;

    fn layer(&self, inner: S) -> Self::Service {
        DropMalformed {
            inner: set_layer().layer(propagate_layer().layer(inner)),
        }
    }
}

/// The outer service of [`RequestIdLayer`]: removes a malformed inbound `x-request-id`.
#[derive(Debug, Clone)]
pub struct DropMalformed<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for DropMalformed<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.inner.call(drop_malformed(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v4_and_client_ids_are_checked() {
        let id = MakeUuid.make_request_id(&http::Request::new(())).unwrap();
        let s = id.header_value().to_str().unwrap().to_owned();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(is_acceptable(id.header_value()));
        assert!(!is_acceptable(&http::HeaderValue::from_static("a b")));
        assert!(!is_acceptable(
            &http::HeaderValue::from_str(&"a".repeat(65)).unwrap()
        ));
        let req = http::Request::builder()
            .header("x-request-id", "x\ty")
            .body(())
            .unwrap();
        assert!(drop_malformed(req).headers().get("x-request-id").is_none());
    }

    #[tokio::test]
    async fn the_layer_keeps_good_ids_replaces_bad_ones_and_echoes_them() {
        use tower::{ServiceBuilder, ServiceExt};
        let svc = ServiceBuilder::new().layer(RequestIdLayer::new()).service_fn(
            |req: http::Request<()>| async move {
                let seen = req.headers().get(&X_REQUEST_ID).cloned();
                let mut r = http::Response::new(());
                r.extensions_mut().insert(seen);
                Ok::<_, std::convert::Infallible>(r)
            },
        );
        let good = http::Request::builder()
            .header("x-request-id", "abc-1")
            .body(())
            .unwrap();
        let r = svc.clone().oneshot(good).await.unwrap();
        assert_eq!(r.headers()["x-request-id"], "abc-1");
        let bad = http::Request::builder()
            .header("x-request-id", "a b")
            .body(())
            .unwrap();
        let r = svc.oneshot(bad).await.unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a fresh UUID, not the client's value: {id}");
        let seen = r
            .extensions()
            .get::<Option<http::HeaderValue>>()
            .unwrap()
            .clone()
            .unwrap();
        assert_eq!(seen, id, "the service saw the id the response carries");
    }
}
