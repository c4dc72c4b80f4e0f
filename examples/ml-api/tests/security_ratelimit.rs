//! Rate-limit evasion over HTTP: spoofed forwarding headers from an untrusted peer do not buy a
//! fresh bucket; behind a trusted proxy (`MLGUARD_TRUSTED_PROXIES=127.0.0.1/32`) each client
//! address gets its own bucket, and a client cannot choose its address by prepending entries.
//!
//! `POST /token` is limited per client IP and per username (both `token_rate`, default
//! `5/minute`); every request here uses a distinct username, so only the per-IP limit can bite.
//! The tests use `5/hour` (same burst of 5, one unit back every 12 minutes instead of 12
//! seconds), so a slow machine (argon2id in a debug build) cannot refill a bucket mid-test.

mod common;

use common::*;

/// Burst 5 like the default `5/minute`, refilled slowly enough to never matter in a test.
const SLOW_REFILL: &str = "5/hour";

async fn login_as(s: &TestServer, username: &str, forwarded: &[(&str, String)]) -> reqwest::Response {
    let mut req = s
        .client
        .post(s.url("/token"))
        .form(&[("username", username), ("password", "wrong-password")]);
    for (name, value) in forwarded {
        req = req.header(*name, value.as_str());
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn rotating_forwarding_headers_from_an_untrusted_peer_stay_in_one_bucket() {
    // No trusted proxies (the default), so the TCP peer (127.0.0.1) is the client.
    let s = start_with(|c| c.token_rate = Some(SLOW_REFILL.into())).await;
    for i in 0..5u8 {
        let spoofed = vec![
            ("x-forwarded-for", format!("203.0.113.{i}")),
            ("forwarded", format!("for=198.51.100.{i}")),
            ("x-real-ip", format!("192.0.2.{i}")),
        ];
        let r = login_as(&s, &format!("victim{i}"), &spoofed).await;
        assert_eq!(r.status(), 400, "attempt {i}");
    }
    let r = login_as(&s, "victim99", &[("x-forwarded-for", "203.0.113.250".into())]).await;
    assert_eq!(r.status(), 429, "the spoofed addresses shared the peer's bucket");
    assert!(r.headers().contains_key("retry-after"));
    s.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_distinct_clients_get_distinct_buckets() {
    let s = start_with(|c| {
        c.trusted_proxies = Some("127.0.0.1/32".into());
        c.token_rate = Some(SLOW_REFILL.into());
    })
    .await;
    // Twelve clients, one attempt each: more than one bucket's quota, none limited.
    for i in 0..12u8 {
        let r = login_as(
            &s,
            &format!("user{i}"),
            &[("x-forwarded-for", format!("203.0.113.{i}"))],
        )
        .await;
        assert_eq!(r.status(), 400, "client {i}");
    }
    // One client's bucket still holds: 4 more attempts pass, the 6th in all is limited.
    let client = [("x-forwarded-for", "203.0.113.0".to_owned())];
    for i in 0..4 {
        let r = login_as(&s, &format!("again{i}"), &client).await;
        assert_eq!(r.status(), 400, "client 0, attempt {}", i + 2);
    }
    let r = login_as(&s, "again-last", &client).await;
    assert_eq!(r.status(), 429, "client 0 used up its own bucket");
    // Other clients are unaffected.
    let r = login_as(&s, "other", &[("x-forwarded-for", "203.0.113.7".into())]).await;
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn a_client_behind_the_trusted_proxy_cannot_pick_its_bucket_by_prepending() {
    let s = start_with(|c| {
        c.trusted_proxies = Some("127.0.0.1/32".into());
        c.token_rate = Some(SLOW_REFILL.into());
    })
    .await;
    // The proxy appends the real client (198.51.100.7); the client prepends whatever it likes.
    for i in 0..5u8 {
        let xff = format!("10.9.8.{i}, 203.0.113.{i}, 198.51.100.7");
        let r = login_as(&s, &format!("u{i}"), &[("x-forwarded-for", xff)]).await;
        assert_eq!(r.status(), 400, "attempt {i}");
    }
    let xff = "1.2.3.4, 198.51.100.7".to_owned();
    let r = login_as(&s, "u-last", &[("x-forwarded-for", xff)]).await;
    assert_eq!(r.status(), 429, "the rightmost untrusted address is the bucket");
    s.stop().await;
}

#[tokio::test]
async fn prediction_quota_follows_the_principal_whatever_the_address() {
    let s = start_with(|c| {
        c.trusted_proxies = Some("127.0.0.1/32".into());
        c.token_rate = Some(SLOW_REFILL.into());
    })
    .await;
    let key = s.api_key("batch-job", "admin");
    let predict = |i: u16| {
        s.client
            .post(s.url("/predict"))
            .header("x-api-key", &key)
            .header("x-forwarded-for", format!("203.0.{}.{}", i / 256, i % 256))
            .header("content-type", "application/json")
            .body(SETOSA)
            .send()
    };
    for i in 0..10u16 {
        assert_eq!(predict(i).await.unwrap().status(), 200, "prediction {i}");
    }
    let r = predict(10).await.unwrap();
    assert_eq!(
        r.status(),
        429,
        "the 11th prediction of one principal, from a new address"
    );
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    s.stop().await;
}
