//! The layer's overhead beside tower_governor's on the same in-process workload: a trivial
//! tower service, one key (global) and one client address (peer IP), a quota high enough never
//! to reject; plus the bare service as the baseline. Each side runs with its response headers
//! off and on (ours: the IETF `RateLimit-Policy` / `RateLimit` fields; tower_governor's
//! `use_headers()`: `x-ratelimit-limit` / `-remaining`). Every future here is ready at once, so
//! it is polled once with a no-op waker: no runtime in the measurement. Instructions per request:
//! see docs/benchmarks.md (valgrind callgrind on `drive`, which is never inlined for that).

use std::future::Future;
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::ConnectInfo;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use mlguard_ratelimit::{KeyExtractor, RateLimitLayer};
use tower::{Layer, Service};
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::GlobalKeyExtractor;

fn ready<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the workload is synchronous"),
    }
}

fn inner()
-> impl Service<Request<Body>, Response = Response<Body>, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    tower::service_fn(|_req: Request<Body>| std::future::ready(Ok(Response::new(Body::empty()))))
}

fn request() -> Request<Body> {
    let mut req = Request::new(Body::empty());
    let peer: SocketAddr = "192.0.2.1:40000".parse().unwrap_or_else(|_| unreachable!());
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

#[inline(never)]
fn drive<S>(svc: &mut S)
where
    S: Service<Request<Body>>,
    S::Error: std::fmt::Debug,
{
    let _ = ready(std::future::poll_fn(|cx| svc.poll_ready(cx)));
    let response = ready(svc.call(black_box(request())));
    black_box(response.is_ok());
}

const QUOTA: &str = "1000000000/second";

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ratelimit_overhead");

    let mut bare = inner();
    group.bench_function("bare service", |b| b.iter(|| drive(&mut bare)));

    let ours_global = RateLimitLayer::builder()
        .quota(QUOTA)
        .key(KeyExtractor::global())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut svc = ours_global.layer(inner());
    group.bench_function("mlguard global key", |b| b.iter(|| drive(&mut svc)));

    let ours_bare = RateLimitLayer::builder()
        .quota(QUOTA)
        .key(KeyExtractor::global())
        .ietf_headers(false)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut svc = ours_bare.layer(inner());
    group.bench_function("mlguard global key, no headers", |b| b.iter(|| drive(&mut svc)));

    let ours_ip = RateLimitLayer::builder()
        .quota(QUOTA)
        .key(KeyExtractor::client_ip(mlguard_core::ClientIpResolver::new()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut svc = ours_ip.layer(inner());
    group.bench_function("mlguard peer ip", |b| b.iter(|| drive(&mut svc)));

    let ours_ip_bare = RateLimitLayer::builder()
        .quota(QUOTA)
        .key(KeyExtractor::client_ip(mlguard_core::ClientIpResolver::new()))
        .ietf_headers(false)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut svc = ours_ip_bare.layer(inner());
    group.bench_function("mlguard peer ip, no headers", |b| b.iter(|| drive(&mut svc)));

    let global = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000)
        .key_extractor(GlobalKeyExtractor)
        .finish()
        .unwrap_or_else(|| unreachable!());
    let mut svc = tower_governor::GovernorLayer::new(Arc::new(global)).layer(inner());
    group.bench_function("tower_governor global key", |b| b.iter(|| drive(&mut svc)));

    let by_ip = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000)
        .finish()
        .unwrap_or_else(|| unreachable!());
    let mut svc = tower_governor::GovernorLayer::new(Arc::new(by_ip)).layer(inner());
    group.bench_function("tower_governor peer ip", |b| b.iter(|| drive(&mut svc)));

    // With `use_headers()`: `x-ratelimit-limit` and `x-ratelimit-remaining` on every response,
    // the like-for-like comparison for our fields.
    let global_headers = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000)
        .key_extractor(GlobalKeyExtractor)
        .use_headers()
        .finish()
        .unwrap_or_else(|| unreachable!());
    let mut svc = tower_governor::GovernorLayer::new(Arc::new(global_headers)).layer(inner());
    group.bench_function("tower_governor global key, headers", |b| {
        b.iter(|| drive(&mut svc))
    });

    let by_ip_headers = GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(1_000_000)
        .use_headers()
        .finish()
        .unwrap_or_else(|| unreachable!());
    let mut svc = tower_governor::GovernorLayer::new(Arc::new(by_ip_headers)).layer(inner());
    group.bench_function("tower_governor peer ip, headers", |b| b.iter(|| drive(&mut svc)));

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
