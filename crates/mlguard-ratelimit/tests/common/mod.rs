//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use mlguard_core::{ManualClock, PeerAddr, ResponseBody};
use mlguard_ratelimit::{RateLimit, RateLimitLayer};
use std::convert::Infallible;
use std::sync::Arc;
use tower::{Layer, ServiceExt};

/// The inner service: echoes the request body.
pub type Echo =
    tower::util::ServiceFn<fn(Request<Body>) -> std::future::Ready<Result<Response<Body>, Infallible>>>;

fn echo_fn(req: Request<Body>) -> std::future::Ready<Result<Response<Body>, Infallible>> {
    std::future::ready(Ok(Response::new(req.into_body())))
}

pub fn echo() -> Echo {
    tower::service_fn(echo_fn as fn(_) -> _)
}

pub fn service(layer: &RateLimitLayer) -> RateLimit<Echo> {
    layer.layer(echo())
}

pub fn clock() -> (ManualClock, Arc<ManualClock>) {
    let c = ManualClock::at_unix(1_700_000_000);
    (c.clone(), Arc::new(c))
}

pub fn from_ip(ip: &str) -> Request<Body> {
    let mut req = Request::new(Body::empty());
    req.extensions_mut()
        .insert(PeerAddr(std::net::SocketAddr::new(ip.parse().unwrap(), 40_000)));
    req
}

pub async fn send(svc: &RateLimit<Echo>, req: Request<Body>) -> Response<ResponseBody<Body>> {
    svc.clone().oneshot(req).await.unwrap()
}

pub async fn status(svc: &RateLimit<Echo>, req: Request<Body>) -> StatusCode {
    send(svc, req).await.status()
}

pub async fn body(resp: Response<ResponseBody<Body>>) -> Bytes {
    resp.into_body().collect().await.unwrap().to_bytes()
}

pub fn header(resp: &Response<ResponseBody<Body>>, name: &str) -> Option<String> {
    resp.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}
