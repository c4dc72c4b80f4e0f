//! [`ClientIpLayer`]: writes the resolved [`ClientIp`](super::ClientIp) into request extensions.

use super::ClientIpResolver;
use http::Request;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Resolves each request's client address once and stores it as a [`ClientIp`](super::ClientIp) extension, for
/// rate limiting, logs and handlers. Requests whose peer address is unknown pass unchanged.
///
/// ```
/// use mlguard_core::{ClientIp, ClientIpLayer, ClientIpResolver, PeerAddr, TrustedProxies};
/// use tower::{Service, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let resolver = ClientIpResolver::new().with_trusted_proxies("10.0.0.0/8".parse().unwrap());
/// let mut svc = ServiceBuilder::new()
///     .layer(ClientIpLayer::new(resolver))
///     .service_fn(|req: http::Request<()>| async move {
///         Ok::<_, std::convert::Infallible>(req.extensions().get::<ClientIp>().copied())
///     });
///
/// let mut req = http::Request::builder()
///     .header("x-forwarded-for", "203.0.113.5")
///     .body(())
///     .unwrap();
/// req.extensions_mut().insert(PeerAddr("10.0.0.2:40000".parse().unwrap()));
/// let ip = svc.ready().await.unwrap().call(req).await.unwrap();
/// assert_eq!(ip, Some(ClientIp("203.0.113.5".parse().unwrap())));
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientIpLayer {
    resolver: ClientIpResolver,
}

impl ClientIpLayer {
    /// A layer that resolves with `resolver`.
    pub fn new(resolver: ClientIpResolver) -> Self {
        Self { resolver }
    }
}

impl<S> Layer<S> for ClientIpLayer {
    type Service = ClientIpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientIpService {
            inner,
            resolver: self.resolver.clone(),
        }
    }
}

/// The service made by [`ClientIpLayer`].
#[derive(Debug, Clone)]
pub struct ClientIpService<S> {
    inner: S,
    resolver: ClientIpResolver,
}

impl<S, B> Service<Request<B>> for ClientIpService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // An existing `ClientIp` (from an outer layer) is kept: `resolve_request` returns it.
        if let Some(ip) = self.resolver.resolve_request(&req) {
            req.extensions_mut().insert(ip);
        }
        self.inner.call(req)
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for super::ClientIp {
    type Rejection = crate::Problem;

    /// The [`ClientIp`](super::ClientIp) written by [`ClientIpLayer`]; a 500 problem when the layer is missing
    /// (a server misconfiguration, not a client mistake).
    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<super::ClientIp>().copied().ok_or_else(|| {
            crate::Problem::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "client address unavailable",
            )
        })
    }
}
