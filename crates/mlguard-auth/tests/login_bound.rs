//! Issue 14, "Also found": Argon2 verifications are bounded. A login flood must not run
//! hundreds of 19 MiB hashes at once: at most `concurrent` run, at most `queued` wait, and the
//! rest are answered at once with 503, `Retry-After` and RFC 6749's `temporarily_unavailable`.
//! Unknown users (the dummy hash) go through the same bound, so the answer does not tell them
//! apart.
//!
//! The hasher uses OWASP's parameters here: each verification takes long enough (tens of
//! milliseconds) that the requests polled together below all arrive while the first one
//! still holds its slot.

#[cfg(feature = "axum")]
use axum::Router;
#[cfg(feature = "axum")]
use http_body_util::BodyExt;
use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
use mlguard_auth::password::{HashBudget, PasswordHasher};
#[cfg(feature = "axum")]
use mlguard_auth::token::token_route;
use mlguard_auth::token::{TokenEndpoint, TokenResponse};
use mlguard_auth::users::{MemoryUserStore, UserRecord};
use mlguard_core::ManualClock;
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
#[cfg(feature = "axum")]
use tower::ServiceExt;

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// One stored hash for the whole file (hashing with OWASP parameters is slow).
fn alice_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| PasswordHasher::new().hash_blocking("pw").unwrap())
}

fn endpoint(concurrent: usize, queued: usize) -> (PasswordHasher, Arc<TokenEndpoint>) {
    // Only the concurrency bound here: the budget has its own tests below.
    endpoint_with(
        PasswordHasher::new()
            .limits(NonZeroUsize::new(concurrent).unwrap(), queued)
            .without_hash_budget(),
    )
}

fn endpoint_with(hasher: PasswordHasher) -> (PasswordHasher, Arc<TokenEndpoint>) {
    let users = Arc::new(MemoryUserStore::new());
    users.insert(UserRecord {
        username: "alice".into(),
        password_hash: alice_hash().to_owned(),
        roles: vec!["user".into()],
        disabled: false,
    });
    let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[4u8; 32]).unwrap());
    let endpoint = TokenEndpoint::new(users, issuer).hasher(hasher.clone());
    (hasher, Arc::new(endpoint))
}

fn assert_busy(r: &TokenResponse) {
    assert_eq!(r.status(), 503);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    let response = r.clone().into_response();
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_beyond_the_bound_get_503_with_retry_after_and_never_hash_in_parallel() {
    let (hasher, endpoint) = endpoint(1, 0);
    let logins = (0..8).map(|_| endpoint.handle(FORM, b"username=alice&password=pw"));
    let answers = futures_util::future::join_all(logins).await;
    let ok = answers.iter().filter(|r| r.status() == 200).count();
    let busy: Vec<_> = answers.iter().filter(|r| r.status() != 200).collect();
    assert!(ok >= 1, "one login gets through");
    assert!(
        !busy.is_empty(),
        "logins beyond the bound are refused, not queued without end"
    );
    for r in busy {
        assert_busy(r);
    }
    assert_eq!(
        hasher.peak_concurrent_verifications(),
        1,
        "no hash ran beyond the bound"
    );
    assert_eq!(
        hasher.verification_count(),
        ok as u64,
        "a refused login runs no hash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_holds_what_it_may_and_refuses_the_rest() {
    let (hasher, endpoint) = endpoint(1, 1);
    let logins = (0..3).map(|_| endpoint.handle(FORM, b"username=alice&password=pw"));
    let answers = futures_util::future::join_all(logins).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 503], "one runs, one waits, one is refused");
    assert_busy(&answers[2]);
    assert_eq!(hasher.peak_concurrent_verifications(), 1);
}

/// The dummy hash of an unknown user takes the same slot: when a real login holds it, the
/// unknown user gets the same 503 (no 400 that would reveal the user does not exist).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_go_through_the_same_bound() {
    let (hasher, endpoint) = endpoint(1, 0);
    let (real, unknown) = tokio::join!(
        endpoint.handle(FORM, b"username=alice&password=pw"),
        endpoint.handle(FORM, b"username=mallory&password=pw"),
    );
    assert_eq!(real.status(), 200);
    assert_busy(&unknown);
    // And the other way round: an unknown user's dummy hash holds the slot against a real one.
    let (unknown, real) = tokio::join!(
        endpoint.handle(FORM, b"username=mallory&password=pw"),
        endpoint.handle(FORM, b"username=alice&password=pw"),
    );
    assert_eq!(unknown.json()["error"], "invalid_grant");
    assert_busy(&real);
    assert_eq!(hasher.peak_concurrent_verifications(), 1);
}

/// The axum route passes the status, `Retry-After` and the RFC 6749 body through.
#[cfg(feature = "axum")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_route_answers_503_with_retry_after() {
    let (_, endpoint) = endpoint(1, 0);
    let app: Router = Router::new().route("/token", token_route(endpoint));
    let request = || {
        http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from("username=alice&password=pw"))
            .unwrap()
    };
    let calls = (0..4).map(|_| app.clone().oneshot(request()));
    let responses = futures_util::future::join_all(calls).await;
    let mut busy = 0;
    for response in responses {
        let response = response.unwrap();
        if response.status() == 200 {
            continue;
        }
        busy += 1;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"], "temporarily_unavailable");
    }
    assert!(busy >= 1);
}

#[test]
fn the_default_bound_is_the_number_of_cores() {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let hasher = PasswordHasher::new();
    assert_eq!(hasher.max_concurrent_verifications(), cores);
    assert!(hasher.max_queued_verifications() >= cores);
}

/// The work budget (issue 14: a login flood must not move `/predict` p99 by more than 20 %;
/// a concurrency bound alone keeps one core per slot busy). A hasher with a budget of `count`
/// per `period` and a burst of `burst`, on a clock the test moves, and a generous concurrency
/// bound so only the budget refuses.
fn budget_endpoint(
    count: u32,
    period: Duration,
    burst: u32,
) -> (ManualClock, PasswordHasher, Arc<TokenEndpoint>) {
    let clock = ManualClock::at_unix(1_700_000_000);
    let budget = HashBudget::new(count, period).unwrap().with_burst(burst).unwrap();
    let hasher = PasswordHasher::new()
        .limits(NonZeroUsize::new(4).unwrap(), 16)
        .hash_budget(budget)
        .clock(Arc::new(clock.clone()));
    let (_, endpoint) = endpoint_with(hasher.clone());
    (clock, hasher, endpoint)
}

fn retry_after(r: &TokenResponse) -> String {
    assert_eq!(r.status(), 503);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    let response = r.clone().into_response();
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.headers()["retry-after"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_over_the_work_budget_get_503_with_the_budget_s_retry_after_and_run_no_hash() {
    // One login per 5 s, no burst.
    let (clock, hasher, endpoint) = budget_endpoint(1, Duration::from_secs(5), 1);
    let first = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(first.status(), 200);
    // Sequential, not concurrent: only the budget can refuse these.
    let second = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(
        retry_after(&second),
        "5",
        "the wait until the budget allows the next"
    );
    clock.advance(Duration::from_millis(2_500));
    let third = endpoint.handle(FORM, b"username=mallory&password=pw").await;
    assert_eq!(
        retry_after(&third),
        "3",
        "2.5 s left, rounded up; unknown users are refused alike"
    );
    assert_eq!(hasher.verification_count(), 1, "a refused login runs no hash");
    assert_eq!(hasher.over_budget_count(), 2);
    clock.advance(Duration::from_millis(2_500));
    let fourth = endpoint.handle(FORM, b"username=alice&password=wrong").await;
    assert_eq!(fourth.json()["error"], "invalid_grant", "the budget refilled");
    assert_eq!(hasher.verification_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_within_the_budget_is_served_and_the_next_waits_one_interval() {
    // 4 a second (one per 250 ms), a burst of 3.
    let (clock, hasher, endpoint) = budget_endpoint(4, Duration::from_secs(1), 3);
    for _ in 0..3 {
        let r = endpoint.handle(FORM, b"username=alice&password=pw").await;
        assert_eq!(r.status(), 200);
    }
    let over = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(retry_after(&over), "1", "250 ms, rounded up to a whole second");
    clock.advance(Duration::from_millis(249));
    let still = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(retry_after(&still), "1");
    clock.advance(Duration::from_millis(1));
    let refilled = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(refilled.status(), 200, "exactly one interval later");
    assert_eq!(hasher.verification_count(), 4);
}

/// A login the concurrency bound refuses did no work, so it gives its run back to the budget:
/// a flood that hits the concurrency bound does not also drain the budget of later logins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_refused_by_the_concurrency_bound_does_not_spend_the_budget() {
    let clock = ManualClock::at_unix(1_700_000_000);
    let hasher = PasswordHasher::new()
        .limits(NonZeroUsize::new(1).unwrap(), 0)
        .hash_budget(HashBudget::new(2, Duration::from_secs(60)).unwrap())
        .clock(Arc::new(clock.clone()));
    let (_, endpoint) = endpoint_with(hasher.clone());
    let (a, b) = tokio::join!(
        endpoint.handle(FORM, b"username=alice&password=pw"),
        endpoint.handle(FORM, b"username=alice&password=pw"),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 503], "one ran, one hit the concurrency bound");
    assert_eq!(hasher.over_budget_count(), 0);
    // The clock has not moved: the budget still has the refused login's run.
    let later = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(later.status(), 200);
    let over = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(retry_after(&over), "30");
}

#[test]
fn the_default_budget_is_derived_from_the_cores_and_the_hash_cost() {
    let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let expected = HashBudget::for_cost(19_456, 2, cores);
    assert_eq!(PasswordHasher::new().budget(), Some(expected));
    // About 12 % of the machine at 1.5e6 KiB per core-second: 38912 KiB per run.
    let share = f64::from(expected.count()) * 38_912.0 / 1.5e6 / cores.get() as f64;
    assert!((0.08..=0.121).contains(&share), "{share}");
    assert_eq!(PasswordHasher::new().without_hash_budget().budget(), None);
}
