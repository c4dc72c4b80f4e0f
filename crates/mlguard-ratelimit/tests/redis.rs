//! The Redis backend against a real `redis-server` started here on a free loopback port.
//! Without `redis-server` on PATH these tests skip locally, and fail when `CI` is set.
#![cfg(feature = "redis")]

mod common;

use common::*;
use http::StatusCode;
use mlguard_core::ManualClock;
use mlguard_ratelimit::{Algorithm, OnRedisFailure, RateLimitLayer, RedisBackend};
use std::sync::Arc;
use std::time::Duration;

use mlguard_testkit::{RedisServer, free_port};

/// Starts `redis-server`; `None` (skip) only when it is missing and `CI` is not set.
fn redis_server() -> Option<RedisServer> {
    RedisServer::start()
}

fn layer(url: &str, quota: &str, algorithm: Algorithm, policy: &str) -> RateLimitLayer {
    RateLimitLayer::builder()
        .quota(quota)
        .algorithm(algorithm)
        .policy_name(policy)
        .redis(RedisBackend::new(url).timeout(Duration::from_secs(2)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_layers_sharing_one_redis_enforce_one_quota() {
    let Some(server) = redis_server() else { return };
    for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow] {
        let policy = format!("shared-{}", algorithm.as_str());
        let a = service(&layer(&server.url(), "10/minute", algorithm, &policy));
        let b = service(&layer(&server.url(), "10/minute", algorithm, &policy));
        let mut passed = 0;
        for i in 0..30 {
            let svc = if i % 2 == 0 { &a } else { &b };
            let resp = send(svc, from_ip("192.0.2.1")).await;
            match resp.status() {
                StatusCode::OK => passed += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    let retry: u64 = header(&resp, "retry-after").unwrap().parse().unwrap();
                    assert!(retry >= 1);
                    assert!(header(&resp, "ratelimit").unwrap().contains(";r=0;"));
                }
                other => panic!("{algorithm:?}: unexpected {other}"),
            }
        }
        assert_eq!(passed, 10, "{algorithm:?}");
    }
}

#[tokio::test]
async fn redis_time_is_the_clock_so_skewed_instances_agree() {
    let Some(server) = redis_server() else { return };
    let build = |clock: ManualClock| {
        RateLimitLayer::builder()
            .quota("3/hour")
            .policy_name("skew")
            .clock(Arc::new(clock))
            .redis(RedisBackend::new(server.url()))
            .build()
            .unwrap()
    };
    // Instance clocks a day apart: if they were used, b would see a refilled bucket.
    let a = service(&build(ManualClock::at_unix(1_700_000_000)));
    let b = service(&build(ManualClock::at_unix(1_700_086_400)));
    let mut passed = 0;
    for i in 0..8 {
        let svc = if i % 2 == 0 { &a } else { &b };
        passed += usize::from(status(svc, from_ip("192.0.2.1")).await == StatusCode::OK);
    }
    assert_eq!(passed, 3);
}

#[tokio::test]
async fn keys_expire_by_themselves_and_the_script_runs_with_evalsha() {
    let Some(server) = redis_server() else { return };
    let svc = service(&layer(&server.url(), "10/minute", Algorithm::Gcra, "ttl"));
    let fw = service(&layer(&server.url(), "10/minute", Algorithm::FixedWindow, "ttl"));
    for _ in 0..3 {
        assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
        assert_eq!(status(&fw, from_ip("192.0.2.1")).await, StatusCode::OK);
    }
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("mlguard:rl:ttl:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        // Each key lives exactly as long as its state matters, by Redis' clock:
        // GCRA at 10/minute emits one unit per 6 s, so 3 units are paid back
        // 18 s after the first request (the script adds 1 ms); the fixed
        // window lives for its minute from the first request. The lower bounds
        // allow for the time these few requests took (a loaded machine), yet
        // exclude the neighbouring wrong answers: 2 units (12 s) for GCRA, a
        // GCRA-length TTL for the window.
        let expected = if key.starts_with("mlguard:rl:ttl:gcra:") {
            12_001..=18_001
        } else if key.starts_with("mlguard:rl:ttl:fw:") {
            50_000..=60_000
        } else {
            panic!("unexpected key {key}")
        };
        assert!(
            expected.contains(&ttl),
            "{key}: PTTL {ttl}, expected {expected:?}"
        );
    }
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    let evalsha = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .expect("EVALSHA was used");
    assert!(evalsha.contains("calls="), "{evalsha}");
    assert!(
        !stats.lines().any(|l| l.starts_with("cmdstat_eval:")),
        "plain EVAL was used: {stats}"
    );
}

#[tokio::test]
async fn redis_down_fails_closed_with_503_or_open_to_a_local_limiter() {
    // A closed port: nothing listens there.
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let closed = RateLimitLayer::builder()
        .quota("1/minute")
        .redis(
            RedisBackend::new(&url)
                .timeout(Duration::from_millis(200))
                .on_failure(OnRedisFailure::FailClosed),
        )
        .build()
        .unwrap();
    let resp = tokio::time::timeout(
        Duration::from_secs(5),
        send(&service(&closed), from_ip("192.0.2.1")),
    )
    .await
    .expect("never hangs");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&resp, "retry-after").as_deref(), Some("1"));
    let stats = closed.limiter().stats().snapshot();
    assert_eq!((stats.backend_errors, stats.fallback_decisions), (1, 1));

    let open = RateLimitLayer::builder()
        .quota("1/minute")
        .redis(RedisBackend::new(&url).timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    let svc = service(&open);
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    // Still limited, by the local limiter.
    assert_eq!(
        status(&svc, from_ip("192.0.2.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let stats = open.limiter().stats().snapshot();
    assert_eq!(stats.fallback_decisions, 2);
    // The second request skipped Redis (backoff): one failed call, not two timeouts.
    assert_eq!(stats.backend_errors, 1);
}

#[tokio::test]
async fn a_redis_that_never_answers_costs_one_bounded_timeout() {
    // Accepts connections and never replies.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let layer = RateLimitLayer::builder()
        .quota("5/minute")
        .redis(
            RedisBackend::new(format!("redis://127.0.0.1:{port}/"))
                .timeout(Duration::from_millis(150))
                .on_failure(OnRedisFailure::FailClosed),
        )
        .build()
        .unwrap();
    let svc = service(&layer);
    let start = std::time::Instant::now();
    let resp = tokio::time::timeout(Duration::from_secs(5), send(&svc, from_ip("192.0.2.1")))
        .await
        .expect("never hangs");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Bounded by the configured timeout (with slack for a loaded machine), not by the OS.
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    assert_eq!(layer.limiter().stats().snapshot().backend_errors, 1);
    hold.abort();
}

/// After a failure the limiter leaves Redis alone for the backoff, then uses it again: a Redis
/// that restarts is back in charge within about one backoff, not never. (Mutant: the store's
/// clock, `RedisStore::elapsed`, stuck at 0, which keeps the backoff from ever ending.)
#[tokio::test]
async fn a_restarted_redis_is_used_again_after_the_backoff() {
    let Some(mut redis) = redis_server() else {
        return;
    };
    let layer = RateLimitLayer::builder()
        .quota("1000/minute")
        .redis(
            RedisBackend::new(redis.url())
                .timeout(Duration::from_millis(300))
                .retry_backoff(Duration::from_millis(300)),
        )
        .build()
        .unwrap();
    let svc = service(&layer);
    let stats = || layer.limiter().stats().snapshot();
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(stats().fallback_decisions, 0, "decided by Redis");

    redis.stop();
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert!(
        stats().fallback_decisions >= 1,
        "Redis down: the local limiter decided"
    );

    redis.restart();
    // Within a few backoffs, a request is decided by Redis again (the fallback count stops
    // growing).
    let mut back = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = stats().fallback_decisions;
        assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
        if stats().fallback_decisions == before {
            back = true;
            break;
        }
    }
    assert!(back, "Redis is used again after the backoff: {:?}", stats());
}

/// `Debug` of the backend settings and of the store built from them (shown by the limiter's
/// `Debug`): their settings, and never the URL, which may hold a password. (Mutants: both
/// `Debug` impls replaced by empty output.)
#[test]
fn debug_shows_the_redis_settings_and_never_the_url() {
    let url = "redis://:s3cret-pass@127.0.0.1:6399/";
    let backend = RedisBackend::new(url)
        .timeout(Duration::from_millis(250))
        .key_prefix("svc:rl");
    let shown = format!("{backend:?}");
    assert!(shown.starts_with("RedisBackend"), "{shown}");
    for part in ["<redacted>", "250ms", "svc:rl"] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
    let layer = RateLimitLayer::builder()
        .quota("5/minute")
        .redis(backend)
        .build()
        .unwrap();
    let shown = format!("{:?}", layer.limiter());
    assert!(shown.contains("RedisStore"), "{shown}");
    assert!(shown.contains("svc:rl") && shown.contains("250ms"), "{shown}");
    for leaked in ["s3cret-pass", "6399"] {
        assert!(!shown.contains(leaked), "{leaked}: {shown}");
    }
}

/// The backoff after a failure lasts exactly `retry_backoff`: a request just before its end
/// skips Redis, one at its end tries Redis again. On tokio's paused clock, so the instants are
/// exact. (Mutant: `elapsed < down_until` into `<=`.)
#[tokio::test(start_paused = true)]
async fn the_backoff_ends_exactly_after_retry_backoff() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let layer = RateLimitLayer::builder()
        .quota("1000/minute")
        .redis(
            RedisBackend::new(&url)
                .timeout(Duration::from_millis(200))
                .retry_backoff(Duration::from_secs(1)),
        )
        .build()
        .unwrap();
    let svc = service(&layer);
    let errors = || layer.limiter().stats().snapshot().backend_errors;
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(errors(), 1, "the first request tried Redis and failed");
    tokio::time::advance(Duration::from_secs(1) - Duration::from_nanos(1)).await;
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(errors(), 1, "within the backoff: Redis not tried");
    tokio::time::advance(Duration::from_nanos(1)).await;
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(errors(), 2, "at the end of the backoff: Redis tried again");
}

/// Through Redis as in memory: an impossible request (cost above the burst) says so and asks
/// for a retry after the whole period; an allowed one needs no wait. (Mutant: the store's
/// `retry < 0` into `== 0` when it reads the script's answer.)
#[tokio::test]
async fn redis_decisions_report_impossible_requests_and_their_retry_after() {
    use mlguard_ratelimit::RateLimitKey;
    let Some(redis) = redis_server() else {
        return;
    };
    for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow] {
        let layer = layer(&redis.url(), "5/minute", algorithm, &format!("imp-{algorithm:?}"));
        let limiter = layer.limiter();
        let key = RateLimitKey::custom("alice");
        let d = limiter.check(&key, 1).await.unwrap();
        assert!(d.allowed && !d.impossible, "{algorithm:?}: {d:?}");
        assert_eq!(d.retry_after, Duration::ZERO, "{algorithm:?}: {d:?}");
        let d = limiter.check(&key, 6).await.unwrap();
        assert!(!d.allowed && d.impossible, "{algorithm:?}: {d:?}");
        assert_eq!(d.retry_after, Duration::from_secs(60), "{algorithm:?}: {d:?}");
        assert_eq!(
            limiter.stats().snapshot().fallback_decisions,
            0,
            "decided by Redis"
        );
    }
}
