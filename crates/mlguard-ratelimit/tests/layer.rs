//! The layer in memory: sharing, headers, algorithms through HTTP, cost, config errors.

mod common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode};
use mlguard_ratelimit::{
    Algorithm, KeyExtractor, Quota, QuotaError, RateLimitCost, RateLimitError, RateLimitLayer,
};
use std::time::Duration;
use tower::ServiceExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_burst_of_100_through_clones_lets_exactly_the_quota_through() {
    let layer = RateLimitLayer::builder().quota("10/minute").build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        // A fresh service from the layer per task, as axum makes one per connection.
        let svc = service(&layer.clone());
        tasks.push(tokio::spawn(async move {
            svc.oneshot(from_ip("192.0.2.7")).await.unwrap().status()
        }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, limited), (10, 90));
    let stats = layer.limiter().stats().snapshot();
    assert_eq!((stats.allowed, stats.rejected), (10, 90));
}

#[tokio::test]
async fn rejection_is_a_429_problem_with_retry_after_rounded_up_and_ietf_fields() {
    let (clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("10/minute")
        .policy_name("predict")
        .clock(shared)
        .build()
        .unwrap();
    let svc = service(&layer);
    let first = send(&svc, from_ip("192.0.2.1")).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        header(&first, "ratelimit-policy").as_deref(),
        Some(r#""predict";q=10;w=60"#)
    );
    assert_eq!(
        header(&first, "ratelimit").as_deref(),
        Some(r#""predict";r=9;t=6"#)
    );
    assert_eq!(header(&first, "x-ratelimit-limit"), None);
    for _ in 0..9 {
        assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    }
    clock.advance(Duration::from_millis(500));
    let denied = send(&svc, from_ip("192.0.2.1")).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    // The next unit refills 6 s after the burst: 5.5 s from now, sent as 6.
    assert_eq!(header(&denied, "retry-after").as_deref(), Some("6"));
    assert_eq!(
        header(&denied, "content-type").as_deref(),
        Some("application/problem+json")
    );
    assert_eq!(
        header(&denied, "ratelimit").as_deref(),
        Some(r#""predict";r=0;t=60"#)
    );
    assert_eq!(
        header(&denied, "ratelimit-policy").as_deref(),
        Some(r#""predict";q=10;w=60"#)
    );
    let json: serde_json::Value = serde_json::from_slice(&body(denied).await).unwrap();
    assert_eq!(json["status"], 429);
    assert!(json["detail"].as_str().unwrap().contains("10/minute"));
    // Another client is unaffected.
    assert_eq!(status(&svc, from_ip("192.0.2.2")).await, StatusCode::OK);
}

#[tokio::test]
async fn retry_after_is_never_zero_even_a_nanosecond_before_refill() {
    let (clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("1/second")
        .clock(shared)
        .build()
        .unwrap();
    let svc = service(&layer);
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    clock.advance(Duration::from_nanos(999_999_999));
    let denied = send(&svc, from_ip("192.0.2.1")).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&denied, "retry-after").as_deref(), Some("1"));
    clock.advance(Duration::from_nanos(1));
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
}

#[tokio::test]
async fn gcra_refills_one_unit_per_interval_exactly() {
    let (clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("5/minute")
        .clock(shared)
        .build()
        .unwrap();
    let svc = service(&layer);
    for _ in 0..5 {
        assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    }
    assert_eq!(
        status(&svc, from_ip("192.0.2.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    clock.advance(Duration::from_millis(11_999));
    assert_eq!(
        status(&svc, from_ip("192.0.2.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(
        status(&svc, from_ip("192.0.2.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn fixed_window_matches_slowapi_a_full_quota_per_window() {
    let (clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("5/minute")
        .algorithm(Algorithm::FixedWindow)
        .x_ratelimit_headers(true)
        .clock(shared)
        .build()
        .unwrap();
    let svc = service(&layer);
    for _ in 0..5 {
        assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    }
    clock.advance(Duration::from_secs(20));
    let denied = send(&svc, from_ip("192.0.2.1")).await;
    assert_eq!(denied.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&denied, "retry-after").as_deref(), Some("40"));
    assert_eq!(header(&denied, "x-ratelimit-limit").as_deref(), Some("5"));
    assert_eq!(header(&denied, "x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(header(&denied, "x-ratelimit-reset").as_deref(), Some("40"));
    clock.advance(Duration::from_secs(40));
    for _ in 0..5 {
        assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    }
    assert_eq!(
        status(&svc, from_ip("192.0.2.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn explicit_burst_allows_more_at_once_than_the_rate() {
    let (_clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota(Quota::per_minute(2).unwrap().with_burst(4).unwrap())
        .clock(shared)
        .build()
        .unwrap();
    let svc = service(&layer);
    let mut ok = 0;
    for _ in 0..10 {
        if status(&svc, from_ip("192.0.2.1")).await == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 4);
}

#[tokio::test]
async fn cost_comes_from_the_extension_or_a_cost_fn() {
    let (_clock, shared) = clock();
    let layer = RateLimitLayer::builder()
        .quota("10/minute")
        .clock(shared.clone())
        .build()
        .unwrap();
    let svc = service(&layer);
    let batch = |rows: u32| {
        let mut req = from_ip("192.0.2.1");
        req.extensions_mut().insert(RateLimitCost(rows));
        req
    };
    let resp = send(&svc, batch(7)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header(&resp, "ratelimit").as_deref(),
        Some(r#""default";r=3;t=42"#)
    );
    assert_eq!(status(&svc, batch(4)).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(status(&svc, batch(3)).await, StatusCode::OK);
    // More than the quota allows at once: 429 whose detail says so.
    let too_big = send(&svc, batch(11)).await;
    assert_eq!(too_big.status(), StatusCode::TOO_MANY_REQUESTS);
    let json: serde_json::Value = serde_json::from_slice(&body(too_big).await).unwrap();
    assert!(json["detail"].as_str().unwrap().contains("more than the quota"));

    let by_header = RateLimitLayer::builder()
        .quota("10/minute")
        .clock(shared)
        .cost_fn(|parts| {
            parts
                .headers
                .get("x-rows")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(1)
        })
        .build()
        .unwrap();
    let svc = service(&by_header);
    let rows = |n: &str| {
        let mut req = from_ip("192.0.2.1");
        req.headers_mut().insert("x-rows", n.parse().unwrap());
        req
    };
    assert_eq!(status(&svc, rows("10")).await, StatusCode::OK);
    assert_eq!(status(&svc, rows("1")).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn per_route_quotas_in_an_axum_router() {
    use axum::Router;
    use axum::routing::post;
    let (_clock, shared) = clock();
    let token_limit = RateLimitLayer::builder()
        .quota("5/minute")
        .policy_name("token")
        .clock(shared.clone())
        .build()
        .unwrap();
    let predict_limit = RateLimitLayer::builder()
        .quota("10/minute")
        .policy_name("predict")
        .clock(shared)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/token", post(|| async { "token" }).layer(token_limit))
        .route("/predict", post(|| async { "prediction" }).layer(predict_limit));
    let call = |path: &'static str| {
        let app = app.clone();
        async move {
            let mut req = Request::post(path).body(Body::empty()).unwrap();
            req.extensions_mut()
                .insert(mlguard_core::PeerAddr("192.0.2.1:1234".parse().unwrap()));
            app.oneshot(req).await.unwrap().status()
        }
    };
    let mut token_ok = 0;
    let mut predict_ok = 0;
    for _ in 0..20 {
        token_ok += usize::from(call("/token").await == StatusCode::OK);
        predict_ok += usize::from(call("/predict").await == StatusCode::OK);
    }
    assert_eq!((token_ok, predict_ok), (5, 10));
}

#[test]
fn bad_configuration_is_a_typed_error_at_build_time() {
    let err = |b: mlguard_ratelimit::RateLimitLayerBuilder| b.build().unwrap_err();
    assert_eq!(
        err(RateLimitLayer::builder().quota("5/fortnight")),
        RateLimitError::Quota(QuotaError::Unit("fortnight".into()))
    );
    assert_eq!(err(RateLimitLayer::builder()), RateLimitError::MissingQuota);
    assert_eq!(
        err(RateLimitLayer::builder()
            .quota("5/minute; burst=10")
            .algorithm(Algorithm::FixedWindow)),
        RateLimitError::BurstWithFixedWindow
    );
    assert!(matches!(
        err(RateLimitLayer::builder()
            .quota("5/minute")
            .policy_name("has \"quotes\"")),
        RateLimitError::PolicyName(_)
    ));
    assert_eq!(
        err(RateLimitLayer::builder().quota("5/minute").on_missing_key(
            mlguard_ratelimit::MissingKey::Reject(StatusCode::INTERNAL_SERVER_ERROR)
        )),
        RateLimitError::MissingKeyStatus(500)
    );
    assert_eq!(
        err(RateLimitLayer::builder()
            .quota("5/minute")
            .max_keys(0, Default::default())),
        RateLimitError::Zero("max_keys")
    );
    // Control: the same builders with the bad setting fixed do build, so each
    // error above is about that setting and not about building at all.
    for (what, builder) in [
        ("a known unit", RateLimitLayer::builder().quota("5/day")),
        (
            "a burst with GCRA",
            RateLimitLayer::builder()
                .quota("5/minute; burst=10")
                .algorithm(Algorithm::Gcra),
        ),
        (
            "a plain policy name",
            RateLimitLayer::builder()
                .quota("5/minute")
                .policy_name("predict-v1"),
        ),
        (
            "a 4xx for a missing key",
            RateLimitLayer::builder()
                .quota("5/minute")
                .on_missing_key(mlguard_ratelimit::MissingKey::Reject(StatusCode::BAD_REQUEST)),
        ),
        (
            "max_keys 1",
            RateLimitLayer::builder()
                .quota("5/minute")
                .max_keys(1, Default::default()),
        ),
        (
            "the global key",
            RateLimitLayer::builder()
                .quota("5/minute")
                .key(KeyExtractor::global()),
        ),
    ] {
        if let Err(e) = builder.build() {
            panic!("{what}: {e}");
        }
    }
}
