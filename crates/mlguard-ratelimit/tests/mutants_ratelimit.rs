//! What a refused, impossible request (cost above the burst) reports: no test looked at its
//! `remaining` or `reset`, and `scripts/mutants ratelimit` (issue 20) could turn their
//! arithmetic around (`algorithm.rs` `gcra`, the `impossible` branch) unnoticed. Clients read
//! them as the `RateLimit` header's `r` and `t`.

use mlguard_core::ManualClock;
use mlguard_ratelimit::{Algorithm, RateLimitKey, RateLimitLayer};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn an_impossible_request_reports_the_units_still_available_and_the_refill_time() {
    let clock = ManualClock::at_unix(1_000_000);
    let layer = RateLimitLayer::builder()
        .algorithm(Algorithm::Gcra)
        .quota("5/minute")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let limiter = layer.limiter();
    let key = RateLimitKey::custom("alice");
    assert!(limiter.check(&key, 2).await.unwrap().allowed);
    // 6 units can never pass a burst of 5: refused as impossible; 3 of the 5 are left, and
    // the 2 spent (12 s each) are back in 24 s.
    let d = limiter.check(&key, 6).await.unwrap();
    assert!(!d.allowed && d.impossible, "{d:?}");
    assert_eq!(d.remaining, 3, "{d:?}");
    assert_eq!(d.reset, Duration::from_secs(24), "{d:?}");
    // The refused request spent nothing.
    let d = limiter.check(&key, 3).await.unwrap();
    assert!(d.allowed && d.remaining == 0, "{d:?}");
}

#[tokio::test]
async fn a_refused_request_reports_the_units_still_available_and_when_it_would_pass() {
    let clock = ManualClock::at_unix(1_000_000);
    let layer = RateLimitLayer::builder()
        .algorithm(Algorithm::Gcra)
        .quota("5/minute")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let limiter = layer.limiter();
    let key = RateLimitKey::custom("bob");
    assert!(limiter.check(&key, 4).await.unwrap().allowed);
    // 2 units with 1 left: refused (possible later); 1 left, whole again in 48 s, these 2
    // units pass in 12 s (one more unit back).
    let d = limiter.check(&key, 2).await.unwrap();
    assert!(!d.allowed && !d.impossible, "{d:?}");
    assert_eq!(d.remaining, 1, "{d:?}");
    assert_eq!(d.reset, Duration::from_secs(48), "{d:?}");
    assert_eq!(d.retry_after, Duration::from_secs(12), "{d:?}");
}
