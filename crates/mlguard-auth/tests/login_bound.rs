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
use mlguard_auth::password::PasswordHasher;
#[cfg(feature = "axum")]
use mlguard_auth::token::token_route;
use mlguard_auth::token::{TokenEndpoint, TokenResponse};
use mlguard_auth::users::{MemoryUserStore, UserRecord};
use std::num::NonZeroUsize;
use std::sync::{Arc, OnceLock};
#[cfg(feature = "axum")]
use tower::ServiceExt;

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// One stored hash for the whole file (hashing with OWASP parameters is slow).
fn alice_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| PasswordHasher::new().hash_blocking("pw").unwrap())
}

fn endpoint(concurrent: usize, queued: usize) -> (PasswordHasher, Arc<TokenEndpoint>) {
    let hasher = PasswordHasher::new().limits(NonZeroUsize::new(concurrent).unwrap(), queued);
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
