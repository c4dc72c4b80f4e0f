//! Throttling: delay instead of reject, bounded in time and in waiters. Paused tokio time.

mod common;

use common::*;
use http::StatusCode;
use mlguard_ratelimit::{RateLimitLayer, Throttle};
use std::time::Duration;
use tokio::time::Instant;
use tower::ServiceExt;

#[tokio::test(start_paused = true)]
async fn an_over_quota_request_waits_for_its_turn_instead_of_failing() {
    let layer = RateLimitLayer::builder()
        .quota("1/second")
        .throttle(Throttle::new(Duration::from_secs(2), 4))
        .build()
        .unwrap();
    let svc = service(&layer);
    let start = Instant::now();
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let stats = layer.limiter().stats().snapshot();
    assert_eq!((stats.allowed, stats.delayed, stats.rejected), (2, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_wait_beyond_the_bound_is_rejected_at_once() {
    let layer = RateLimitLayer::builder()
        .quota("1/minute")
        .throttle(Throttle::new(Duration::from_secs(2), 4))
        .build()
        .unwrap();
    let svc = service(&layer);
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    let start = Instant::now();
    let denied = send(&svc, from_ip("192.0.2.1")).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(header(&denied, "retry-after").as_deref(), Some("60"));
}

#[tokio::test(start_paused = true)]
async fn waiters_beyond_the_cap_are_rejected_and_the_rest_pass_in_turn() {
    let layer = RateLimitLayer::builder()
        .quota("1/second")
        .throttle(Throttle::new(Duration::from_secs(10), 2))
        .build()
        .unwrap();
    let svc = service(&layer);
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            let status = svc.oneshot(from_ip("192.0.2.1")).await.unwrap().status();
            (status, start.elapsed())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let passed: Vec<_> = results.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    let rejected: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!((passed.len(), rejected.len()), (2, 3), "{results:?}");
    // Rejected at once; the two waiters passed one second apart.
    assert!(rejected.iter().all(|(_, t)| t.is_zero()));
    let mut waits: Vec<_> = passed.iter().map(|(_, t)| *t).collect();
    waits.sort();
    assert_eq!(waits, [Duration::from_secs(1), Duration::from_secs(2)]);
}
