//! Every layer's service passes on its inner service's readiness: not ready stays not ready,
//! and an inner failure (an overloaded backend, a closed pool) comes through instead of a
//! `call` the inner service is not ready for. (Issue 20: cargo-mutants replaced each
//! `poll_ready` by `Poll::Ready(Ok(()))` and nothing noticed.)

use crate::access_log::AccessLogLayer;
use crate::headers::SecurityHeadersLayer;
use crate::limits::{BodyReadTimeoutLayer, PerKeyInFlightLayer, ShedLayer};
use crate::path::CanonicalPathLayer;
use crate::problem::ProblemBodiesLayer;
use crate::request_id::RequestIdLayer;
use crate::request_metrics::RequestMetricsLayer;
use http::{Request, Response};
use http_body_util::Empty;
use mlguard_core::ClientIpResolver;
use std::fmt::Debug;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tower_layer::Layer;
use tower_service::Service;

/// Not ready at the first poll, then failing with "overloaded".
#[derive(Debug, Clone, Default)]
pub(crate) struct Unready(usize);

impl<B> Service<Request<B>> for Unready {
    type Response = Response<Empty<bytes::Bytes>>;
    type Error = &'static str;
    type Future = std::future::Ready<Result<Self::Response, &'static str>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0 += 1;
        if self.0 == 1 {
            Poll::Pending
        } else {
            Poll::Ready(Err("overloaded"))
        }
    }

    fn call(&mut self, _req: Request<B>) -> Self::Future {
        std::future::ready(Err("called while not ready"))
    }
}

/// Asserts that `service` (a layer around [`Unready`]) is pending, then fails as it does.
fn passes_readiness<S>(mut service: S, layer: &str)
where
    S: Service<Request<Empty<bytes::Bytes>>>,
    S::Error: Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        service.poll_ready(&mut cx).is_pending(),
        "{layer}: the inner service is not ready yet"
    );
    match service.poll_ready(&mut cx) {
        Poll::Ready(Err(e)) => assert!(format!("{e:?}").contains("overloaded"), "{layer}: {e:?}"),
        Poll::Ready(Ok(())) => panic!("{layer}: ready while the inner service fails"),
        Poll::Pending => panic!("{layer}: pending while the inner service fails"),
    }
}

#[test]
fn every_layer_passes_on_its_inner_readiness() {
    passes_readiness(AccessLogLayer::new().layer(Unready::default()), "access log");
    passes_readiness(
        SecurityHeadersLayer::new().layer(Unready::default()),
        "security headers",
    );
    passes_readiness(
        CanonicalPathLayer::new().layer(Unready::default()),
        "canonical path",
    );
    passes_readiness(
        ProblemBodiesLayer::new().layer(Unready::default()),
        "problem bodies",
    );
    passes_readiness(RequestIdLayer::new().layer(Unready::default()), "request id");
    passes_readiness(
        RequestMetricsLayer::new().layer(Unready::default()),
        "request metrics",
    );
    passes_readiness(ShedLayer::try_new(1).unwrap().layer(Unready::default()), "shed");
    let per_address = PerKeyInFlightLayer::per_client_address(1, ClientIpResolver::new(), 64).unwrap();
    passes_readiness(per_address.layer(Unready::default()), "per-address in-flight cap");
    passes_readiness(
        BodyReadTimeoutLayer::new(Duration::from_secs(1)).layer(Unready::default()),
        "body read timeout",
    );
}
