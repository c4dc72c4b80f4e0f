//! Bounded memory: a flood of distinct client addresses never grows the store past its cap.

mod common;

use common::*;
use http::StatusCode;
use mlguard_ratelimit::{OnFull, RateLimitKey, RateLimitLayer};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

#[tokio::test]
async fn one_million_distinct_addresses_keep_the_store_at_or_under_the_cap() {
    let cap = 10_000;
    let (clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("5/minute")
        .max_keys(cap, OnFull::EvictSoonestExpiring)
        .clock(shared)
        .build()
        .unwrap();
    let limiter = layer.limiter();
    for n in 0..1_000_000u32 {
        let key = RateLimitKey::Ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)));
        assert!(limiter.check_local(&key, 1).unwrap().allowed);
        if n % 100_000 == 0 {
            clock.advance(Duration::from_millis(1));
            assert!(limiter.tracked_keys() <= cap);
        }
    }
    assert!(limiter.tracked_keys() <= cap, "{}", limiter.tracked_keys());
    assert_eq!(limiter.max_keys(), cap);
    // The store was full: live keys were evicted to make room, and counted.
    assert!(limiter.stats().snapshot().evicted_live >= 1_000_000 - cap as u64);
}

#[tokio::test]
async fn a_flood_through_the_service_stays_under_the_cap_and_idle_keys_go_by_themselves() {
    let (clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("5/minute")
        .max_keys(2_000, OnFull::EvictSoonestExpiring)
        .clock(shared)
        .build()
        .unwrap();
    let svc = service(&layer);
    for n in 0..20_000u32 {
        let ip = IpAddr::V6(Ipv6Addr::from(u128::from(n) << 64));
        assert_eq!(status(&svc, from_ip(&ip.to_string())).await, StatusCode::OK);
    }
    assert!(layer.limiter().tracked_keys() <= 2_000);
    // An hour later every bucket is full again; new traffic sweeps the idle keys out.
    clock.advance(Duration::from_secs(3600));
    for n in 0..200u32 {
        assert_eq!(
            status(&svc, from_ip(&format!("192.0.2.{n}"))).await,
            StatusCode::OK
        );
    }
    assert!(
        layer.limiter().tracked_keys() <= 200,
        "{}",
        layer.limiter().tracked_keys()
    );
}

#[tokio::test]
async fn a_full_store_in_reject_mode_answers_503_and_keeps_existing_clients_exact() {
    let (_clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("2/minute")
        .max_keys(100, OnFull::Reject)
        .clock(shared)
        .build()
        .unwrap();
    let svc = service(&layer);
    for n in 0..100u32 {
        assert_eq!(
            status(&svc, from_ip(&format!("10.0.{}.{}", n / 256, n % 256))).await,
            StatusCode::OK
        );
    }
    let resp = send(&svc, from_ip("192.0.2.200")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&resp, "retry-after").as_deref(), Some("1"));
    assert_eq!(layer.limiter().tracked_keys(), 100);
    // A tracked client keeps its exact state.
    assert_eq!(status(&svc, from_ip("10.0.0.0")).await, StatusCode::OK);
    assert_eq!(
        status(&svc, from_ip("10.0.0.0")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(layer.limiter().stats().snapshot().store_full, 1);
}
