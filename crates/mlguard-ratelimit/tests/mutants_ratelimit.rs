//! What a refused, impossible request (cost above the burst) reports: no test looked at its
//! `remaining` or `reset`, and `scripts/mutants ratelimit` (issue 20) could turn their
//! arithmetic around (`algorithm.rs` `gcra`, the `impossible` branch) unnoticed. Clients read
//! them as the `RateLimit` header's `r` and `t`.

use mlguard_core::ManualClock;
use mlguard_ratelimit::{Algorithm, OnFull, RateLimitKey, RateLimitLayer};
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

/// A limiter with `quota` on an injected clock at `t0`, holding at most `max_keys` keys.
fn limiter_at(
    algorithm: Algorithm,
    quota: &str,
    max_keys: usize,
    on_full: OnFull,
) -> (ManualClock, RateLimitLayer) {
    let clock = ManualClock::at_unix(1_000_000);
    let layer = RateLimitLayer::builder()
        .algorithm(algorithm)
        .quota(quota)
        .max_keys(max_keys, on_full)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    (clock, layer)
}

#[tokio::test]
async fn a_fixed_window_request_costing_exactly_the_limit_passes_and_one_more_unit_is_impossible() {
    let (_clock, layer) = limiter_at(Algorithm::FixedWindow, "5/minute", 1024, OnFull::Reject);
    let limiter = layer.limiter();
    let d = limiter.check(&RateLimitKey::custom("a"), 5).await.unwrap();
    assert!(d.allowed && !d.impossible && d.remaining == 0, "{d:?}");
    let d = limiter.check(&RateLimitKey::custom("b"), 6).await.unwrap();
    assert!(!d.allowed && d.impossible && d.remaining == 5, "{d:?}");
}

#[tokio::test]
async fn a_sweep_forgets_expired_keys_and_keeps_live_ones_with_their_state() {
    // One shard (256 keys), GCRA 5/minute: a full bucket refills in 60 s, the sweep interval.
    let (clock, layer) = limiter_at(Algorithm::Gcra, "5/minute", 256, OnFull::Reject);
    let limiter = layer.limiter();
    // t0: the first new key sweeps (nothing yet) and sets the next sweep to t0 + 60 s; one
    // unit of "x" is back after 12 s, so "x" expires at t0 + 12 s.
    assert!(
        limiter
            .check(&RateLimitKey::custom("x"), 1)
            .await
            .unwrap()
            .allowed
    );
    // t0 + 30 s: "a" spends its whole burst; it is full again only at t0 + 90 s.
    clock.advance(Duration::from_secs(30));
    assert!(
        limiter
            .check(&RateLimitKey::custom("a"), 5)
            .await
            .unwrap()
            .allowed
    );
    assert_eq!(limiter.tracked_keys(), 2);
    // t0 + 60 s: a new key sweeps again: "x" (expired) goes, "a" (live) stays.
    clock.advance(Duration::from_secs(30));
    assert!(
        limiter
            .check(&RateLimitKey::custom("b"), 1)
            .await
            .unwrap()
            .allowed
    );
    assert_eq!(
        limiter.tracked_keys(),
        2,
        "the sweep kept exactly the live keys a and b"
    );
    // "a" kept its state: 2.5 units are back, so 3 are refused (a forgotten "a" would pass).
    let d = limiter.check(&RateLimitKey::custom("a"), 3).await.unwrap();
    assert!(!d.allowed && !d.impossible, "{d:?}");
    assert!(
        limiter
            .check(&RateLimitKey::custom("a"), 2)
            .await
            .unwrap()
            .allowed
    );
}

#[tokio::test]
async fn replacing_a_key_at_its_exact_expiry_is_not_counted_as_evicting_a_live_key() {
    // One key at most, evict when full; GCRA 5/minute: one unit is back after 12 s.
    let (clock, layer) = limiter_at(Algorithm::Gcra, "5/minute", 1, OnFull::EvictSoonestExpiring);
    let limiter = layer.limiter();
    assert!(
        limiter
            .check(&RateLimitKey::custom("a"), 1)
            .await
            .unwrap()
            .allowed
    );
    // Exactly when "a" expires, "b" takes its place: nothing live was lost.
    clock.advance(Duration::from_secs(12));
    assert!(
        limiter
            .check(&RateLimitKey::custom("b"), 1)
            .await
            .unwrap()
            .allowed
    );
    assert_eq!(limiter.stats().snapshot().evicted_live, 0);
    // Control: "c" arrives while "b" (until t0 + 24 s) is live, so "b" is evicted live.
    clock.advance(Duration::from_secs(8));
    assert!(
        limiter
            .check(&RateLimitKey::custom("c"), 1)
            .await
            .unwrap()
            .allowed
    );
    assert_eq!(limiter.stats().snapshot().evicted_live, 1);
    assert_eq!(limiter.tracked_keys(), 1);
}

#[tokio::test]
async fn a_store_holds_its_whole_capacity_spread_over_its_shards() {
    // 1024 keys: four shards of 256. 600 distinct keys spread over them (about 150 each; a
    // shard over 256 is some ten standard deviations away), so none is refused. Keys that all
    // landed in one shard would be refused from the 257th on.
    let (_clock, layer) = limiter_at(Algorithm::Gcra, "5/minute", 1024, OnFull::Reject);
    let limiter = layer.limiter();
    for i in 0..600 {
        let key = RateLimitKey::custom(&format!("client-{i}"));
        let d = limiter.check(&key, 1).await;
        assert!(matches!(d, Ok(ref d) if d.allowed), "key {i}: {d:?}");
    }
    assert_eq!(limiter.tracked_keys(), 600);
    assert_eq!(limiter.stats().snapshot().store_full, 0);
}

/// Mutant: the sweep's `expires_at > now` into `>=`. A key whose bucket is full again exactly
/// at the sweep is as good as absent, and the sweep forgets it (kept, it would hold a place of
/// `max_keys` until the next sweep).
#[tokio::test]
async fn a_key_that_expires_exactly_at_the_sweep_is_forgotten() {
    // GCRA 5/minute: one unit is back every 12 s; the sweep interval is 60 s.
    let (clock, layer) = limiter_at(Algorithm::Gcra, "5/minute", 256, OnFull::Reject);
    let limiter = layer.limiter();
    let check = |key: &'static str, cost: u32| {
        let limiter = limiter.clone();
        async move {
            limiter
                .check(&RateLimitKey::custom(key), cost)
                .await
                .unwrap()
                .allowed
        }
    };
    // t0: the first key sweeps (nothing yet); the next sweep is at t0 + 60 s.
    assert!(check("a", 5).await); // full again at t0 + 60 s: exactly the sweep
    clock.advance(Duration::from_secs(30));
    assert!(check("live", 5).await); // full again at t0 + 90 s
    assert_eq!(limiter.tracked_keys(), 2);
    clock.advance(Duration::from_secs(30));
    assert!(check("b", 1).await); // a new key at t0 + 60 s sweeps
    assert_eq!(
        limiter.tracked_keys(),
        2,
        "\"live\" and \"b\"; \"a\" expired just now"
    );
}
