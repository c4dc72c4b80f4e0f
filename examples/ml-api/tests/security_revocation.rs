//! Issue 14, holes 2 and 3, against the real server over real sockets.
//!
//! - Hole 2: a revoked access token was accepted again between `exp` and `exp + leeway` (the
//!   denylist forgot it at `exp`, the verifier accepts until `exp + 30 s`). With
//!   `MLGUARD_ACCESS_TOKEN_TTL=2s` the test waits for `exp + 2 s` (about 5 s in all): the
//!   revoked token must be 401 while an unrevoked one of the same age is still 200 (the leeway
//!   is real, so the 401 is the denylist's doing).
//! - Hole 3: with `MLGUARD_REDIS_URL`, bearer requests answered 503 for good after a Redis
//!   restart. Now they are 503 while Redis is down (fail closed; API keys keep working) and
//!   200 again within 2 s of Redis being back on the same port.
//!   Without `redis-server` that test is skipped locally and FAILS when `CI` is set.

mod common;

use common::{SETOSA, start_with};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Sleeps until the system clock reads at least `unix` seconds (bounded by the caller's TTL).
async fn sleep_until_unix(unix: u64) {
    let target = UNIX_EPOCH + Duration::from_secs(unix);
    if let Ok(left) = target.duration_since(SystemTime::now()) {
        tokio::time::sleep(left + Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stays_refused_after_exp_within_the_leeway() {
    const TTL: u64 = 2;
    let server = start_with(|s| {
        s.no_tls = Some(true);
        s.access_token_ttl = Some(format!("{TTL}s"));
    })
    .await;
    let predict = |token: &str| {
        server
            .client
            .post(server.url("/predict"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(SETOSA)
            .send()
    };
    let refresh = |token: &str| {
        server
            .client
            .post(server.url("/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .send()
    };

    let login: serde_json::Value = server
        .login("admin", &server.admin_password)
        .await
        .json()
        .await
        .unwrap();
    // iat is the issuing second, so exp is at most this.
    let exp = unix_now() + TTL;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let refresh_token = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(predict(&access).await.unwrap().status(), 200);

    // Refresh, then reuse the spent refresh token: the family and its access tokens are revoked.
    assert_eq!(refresh(&refresh_token).await.unwrap().status(), 200);
    assert_eq!(refresh(&refresh_token).await.unwrap().status(), 400);
    assert_eq!(predict(&access).await.unwrap().status(), 401, "revoked at once");

    // A control token of the same age, never revoked.
    let control: serde_json::Value = server
        .login("admin", &server.admin_password)
        .await
        .json()
        .await
        .unwrap();
    let control_exp = unix_now() + TTL;
    let control = control["access_token"].as_str().unwrap().to_owned();

    // exp + 2 s for both (well within the verifier's 30 s leeway).
    sleep_until_unix(exp.max(control_exp) + 2).await;
    assert_eq!(
        predict(&control).await.unwrap().status(),
        200,
        "past exp, an unrevoked token is still inside the leeway"
    );
    let revoked = predict(&access).await.unwrap();
    assert_eq!(
        revoked.status(),
        401,
        "a revoked token was accepted again after its exp"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_requests_recover_within_2s_of_a_redis_restart() {
    let Some(mut redis) = mlguard_testkit::RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let server = start_with(move |s| {
        s.no_tls = Some(true);
        s.redis_url = Some(url.into());
        s.predict_rate = Some("1000/minute".into());
    })
    .await;
    let key = server.api_key("svc", "admin");
    let login: serde_json::Value = server
        .login("admin", &server.admin_password)
        .await
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap().to_owned();
    let bearer = || async {
        let r = server
            .client
            .post(server.url("/predict"))
            .bearer_auth(&access)
            .header("content-type", "application/json")
            .body(SETOSA)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        r.map_or(0, |r| r.status().as_u16())
    };
    let api_key = || async {
        server
            .client
            .post(server.url("/predict"))
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(SETOSA)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    };
    assert_eq!(bearer().await, 200);

    // Redis down: bearer tokens cannot be checked against the shared denylist -> 503 (fail
    // closed); API keys do not depend on Redis.
    redis.stop();
    assert_eq!(bearer().await, 503);
    assert_eq!(bearer().await, 503);
    assert_eq!(api_key().await, 200);

    // Back on the same port: bearer requests work again within 2 s, no restart of ml-api.
    redis.restart();
    let back = tokio::time::Instant::now();
    let mut last = 0;
    while back.elapsed() < Duration::from_secs(2) {
        last = bearer().await;
        if last == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last, 200,
        "bearer requests did not recover within 2 s of Redis being back"
    );

    // A clean CLIENT KILL of every connection: recovered as well.
    assert!(redis.kill_clients() >= 1);
    let killed = tokio::time::Instant::now();
    let mut last = 0;
    while killed.elapsed() < Duration::from_secs(2) {
        last = bearer().await;
        if last == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last, 200,
        "bearer requests did not recover within 2 s of CLIENT KILL"
    );
    server.stop().await;
}
