//! The global key's own bucket (one atomic word for GCRA, one small lock for a fixed window,
//! outside the keyed store), through the public API on an injected clock: exact limit, burst,
//! refill, threads, and a property test that it decides every request exactly as the keyed
//! store decides for a single ordinary key.

mod common;

use common::{clock, echo, header};
use http::{Request, StatusCode};
use mlguard_core::ManualClock;
use mlguard_ratelimit::{Algorithm, KeyExtractor, RateLimitKey, RateLimitLayer};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tower::{Layer, ServiceExt};

fn limiter(quota: &str, algorithm: Algorithm, clock: Arc<ManualClock>) -> RateLimitLayer {
    RateLimitLayer::builder()
        .quota(quota)
        .algorithm(algorithm)
        .key(KeyExtractor::global())
        .clock(clock)
        .build()
        .unwrap()
}

fn check(layer: &RateLimitLayer, cost: u32) -> mlguard_ratelimit::Decision {
    layer.limiter().check_local(&RateLimitKey::Global, cost).unwrap()
}

#[tokio::test]
async fn the_layer_lets_exactly_the_quota_through_then_refills() {
    let (manual, shared) = clock();
    let layer = limiter("3/minute", Algorithm::Gcra, shared);
    let svc = layer.layer(echo());
    for remaining in ["2", "1", "0"] {
        let resp = svc
            .clone()
            .oneshot(Request::new(axum::body::Body::empty()))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let field = header(&resp, "ratelimit").unwrap();
        assert!(
            field.starts_with(&format!("\"default\";r={remaining};t=")),
            "{field}"
        );
    }
    let resp = svc
        .clone()
        .oneshot(Request::new(axum::body::Body::empty()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&resp, "retry-after").as_deref(), Some("20"));
    // One unit is back after exactly one emission interval (20 s), not before.
    manual.advance(Duration::from_millis(19_999));
    let resp = svc
        .clone()
        .oneshot(Request::new(axum::body::Body::empty()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    manual.advance(Duration::from_millis(1));
    let resp = svc
        .clone()
        .oneshot(Request::new(axum::body::Body::empty()))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let stats = layer.limiter().stats().snapshot();
    assert_eq!((stats.allowed, stats.rejected), (4, 2));
    assert_eq!(layer.limiter().tracked_keys(), 1);
}

#[test]
fn gcra_burst_and_refill_are_exact() {
    let (manual, shared) = clock();
    let layer = limiter("60/minute; burst=5", Algorithm::Gcra, shared);
    assert_eq!(layer.limiter().tracked_keys(), 0);
    assert!(check(&layer, 5).allowed);
    let d = check(&layer, 1);
    assert!(!d.allowed && !d.impossible);
    assert_eq!(d.retry_after, Duration::from_secs(1));
    assert!(check(&layer, 6).impossible);
    manual.advance(Duration::from_millis(999));
    assert!(!check(&layer, 1).allowed);
    manual.advance(Duration::from_millis(1));
    let d = check(&layer, 1);
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
    // Idle for the whole refill (5 s): the whole burst is back, and not one more.
    manual.advance(Duration::from_secs(5));
    assert!(check(&layer, 5).allowed);
    assert!(!check(&layer, 1).allowed);
}

#[test]
fn fixed_window_limit_and_reset_are_exact() {
    let (manual, shared) = clock();
    let layer = limiter("3/minute", Algorithm::FixedWindow, shared);
    for _ in 0..3 {
        assert!(check(&layer, 1).allowed);
    }
    let d = check(&layer, 1);
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Duration::from_secs(60));
    manual.advance(Duration::from_millis(59_999));
    assert!(!check(&layer, 1).allowed);
    manual.advance(Duration::from_millis(1));
    assert!(check(&layer, 3).allowed);
    assert!(!check(&layer, 1).allowed);
}

#[test]
fn threads_racing_for_the_bucket_get_exactly_the_quota() {
    for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow] {
        let (_manual, shared) = clock();
        let layer = limiter("5000/hour", algorithm, shared);
        let passed: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let layer = &layer;
                    s.spawn(move || (0..2_000).filter(|_| check(layer, 1).allowed).count())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(passed, 5000, "{algorithm:?}");
        assert_eq!(
            layer.limiter().stats().snapshot().allowed,
            0,
            "direct checks count nothing"
        );
    }
}

proptest! {
    /// The global bucket and the keyed store (here holding the one key `custom:g`) give the same
    /// decision for every request of a random sequence of (time step, cost), for both
    /// algorithms and random quotas.
    #[test]
    fn the_global_bucket_decides_like_the_keyed_store(
        gcra in any::<bool>(),
        count in 1u32..30,
        period_s in 1u64..300,
        burst_extra in 0u32..10,
        steps in prop::collection::vec((0u64..30_000, 0u32..40), 1..150),
    ) {
        let algorithm = if gcra { Algorithm::Gcra } else { Algorithm::FixedWindow };
        let burst = if gcra { count + burst_extra } else { count };
        let quota = format!("{count}/{period_s} seconds; burst={burst}");
        let (manual, shared) = clock();
        let layer = RateLimitLayer::builder()
            .quota(quota.as_str())
            .algorithm(algorithm)
            .clock(shared)
            .build()
            .unwrap();
        let keyed = RateLimitKey::custom("g");
        for (step_ms, cost) in steps {
            manual.advance(Duration::from_millis(step_ms));
            let fast = layer.limiter().check_local(&RateLimitKey::Global, cost).unwrap();
            let general = layer.limiter().check_local(&keyed, cost).unwrap();
            prop_assert_eq!(fast, general, "{} at step {} ms, cost {}", quota, step_ms, cost);
        }
    }
}
