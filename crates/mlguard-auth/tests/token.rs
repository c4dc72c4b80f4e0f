//! The token endpoint: RFC 6749 bodies and headers, enumeration resistance, scopes, refresh
//! rotation and reuse, hash upgrades, and a runtime that keeps running during logins.

mod common;

use mlguard_auth::jwt::{BearerAuth, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::refresh::MemoryRefreshStore;
use mlguard_auth::revocation::MemoryRevocationStore;
use mlguard_auth::token::{TokenEndpoint, TokenResponse};
use mlguard_auth::users::{FileUserStore, MemoryUserStore, UserRecord, UserStore};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SECRET: [u8; 32] = [11; 32];
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn fast_hasher() -> PasswordHasher {
    PasswordHasher::danger_with_weak_params(512, 1, 1).unwrap()
}

fn user(hasher: &PasswordHasher, name: &str, password: &str, roles: &[&str]) -> UserRecord {
    UserRecord {
        username: name.into(),
        password_hash: hasher.hash_blocking(password).unwrap(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        disabled: false,
    }
}

fn issuer() -> JwtIssuer {
    JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &SECRET).unwrap())
        .issuer("ml-api")
        .audience("ml-api")
}

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .issuer("ml-api")
        .audience("ml-api")
        .build()
        .unwrap()
}

fn policy(roles: &[String]) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    if roles.iter().any(|r| r == "user") {
        s.insert("model:predict".to_owned());
    }
    if roles.iter().any(|r| r == "admin") {
        s.insert("model:admin".to_owned());
    }
    s
}

fn setup(hasher: &PasswordHasher) -> (Arc<MemoryUserStore>, TokenEndpoint) {
    let users = Arc::new(MemoryUserStore::new());
    users.insert(user(hasher, "alice", "correct horse", &["user"]));
    let endpoint = TokenEndpoint::new(users.clone(), issuer())
        .hasher(hasher.clone())
        .scope_policy(policy);
    (users, endpoint)
}

fn assert_no_store(r: &TokenResponse) {
    let response = r.clone().into_response();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(response.headers()["content-type"], "application/json");
}

fn error_of(r: &TokenResponse) -> &str {
    r.json()["error"].as_str().unwrap()
}

#[tokio::test]
async fn success_has_rfc6749_body_headers_and_a_complete_token() {
    let h = fast_hasher();
    let (_, endpoint) = setup(&h);
    let r = endpoint
        .handle(
            FORM,
            b"grant_type=password&username=alice&password=correct+horse&scope=model:predict",
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_no_store(&r);
    let body = r.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "model:predict");
    assert!(
        body.get("refresh_token").is_none(),
        "refresh tokens are off by default"
    );
    let token = body["access_token"].as_str().unwrap();
    let (alg, kid) = mlguard_auth::jwt::parse_header(token, 8192).unwrap();
    assert_eq!((alg, kid.as_deref()), (JwtAlgorithm::HS256, Some("k1")));
    let v = verifier().verify(token).unwrap();
    assert_eq!(v.subject, "alice");
    assert_eq!(v.roles, ["user"]);
    assert_eq!(v.scopes.as_deref(), Some(&["model:predict".to_owned()][..]));
    for claim in ["iss", "aud", "iat", "exp", "jti"] {
        assert!(v.claims.contains_key(claim), "{claim}");
    }
    assert_eq!(
        v.claims["exp"].as_u64().unwrap() - v.claims["iat"].as_u64().unwrap(),
        900
    );
}

#[tokio::test]
async fn absent_grant_type_is_a_password_grant() {
    let h = fast_hasher();
    let (_, endpoint) = setup(&h);
    let r = endpoint
        .handle(
            FORM,
            b"username=alice&password=correct%20horse&client_id=&client_secret=",
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.json().get("scope").is_none());
    let v = verifier()
        .verify(r.json()["access_token"].as_str().unwrap())
        .unwrap();
    assert!(v.scopes.is_none());
}

#[tokio::test]
async fn unknown_user_wrong_password_empty_password_and_disabled_user_look_identical() {
    let h = fast_hasher();
    let (users, endpoint) = setup(&h);
    users.insert(UserRecord {
        disabled: true,
        ..user(&h, "bob", "bobpass", &["user"])
    });
    let cases: [&[u8]; 4] = [
        b"username=alice&password=wrong",
        b"username=mallory&password=whatever",
        b"username=alice&password=",
        b"username=bob&password=bobpass",
    ];
    let mut bodies = Vec::new();
    for body in cases {
        let before = h.verification_count();
        let r = endpoint.handle(FORM, body).await;
        assert_eq!(
            h.verification_count(),
            before + 1,
            "one Argon2 run for {:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(r.status(), 400);
        assert_no_store(&r);
        bodies.push(serde_json::to_string(r.json()).unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    let v: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(v["error"], "invalid_grant");
    assert!(!bodies[0].contains("alice") && !bodies[0].contains("mallory"));
}

#[tokio::test]
async fn invalid_request_cases() {
    let h = fast_hasher();
    let (_, endpoint) = setup(&h);
    let cases: [(Option<&str>, &[u8]); 6] = [
        (
            Some("application/json"),
            br#"{"username":"alice","password":"correct horse"}"#,
        ),
        (None, b"username=alice&password=correct+horse"),
        (FORM, b"username=alice"),
        (FORM, b"password=x"),
        (FORM, b"username=alice&password=a&password=b"),
        (FORM, b"grant_type=refresh_token"),
    ];
    for (ct, body) in cases {
        let r = endpoint.handle(ct, body).await;
        assert_eq!(r.status(), 400, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(
            error_of(&r),
            "invalid_request",
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert!(r.json()["error_description"].is_string());
        assert_no_store(&r);
    }
    let charset = endpoint
        .handle(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"username=alice&password=correct+horse",
        )
        .await;
    assert_eq!(charset.status(), 200);
}

#[tokio::test]
async fn unsupported_grant_type() {
    let h = fast_hasher();
    let (_, endpoint) = setup(&h);
    for gt in ["client_credentials", "authorization_code", "PASSWORD"] {
        let r = endpoint
            .handle(
                FORM,
                format!("grant_type={gt}&username=alice&password=x").as_bytes(),
            )
            .await;
        assert_eq!(
            (r.status().as_u16(), error_of(&r)),
            (400, "unsupported_grant_type"),
            "{gt}"
        );
    }
    // Refresh tokens are off unless configured.
    let r = endpoint
        .handle(FORM, b"grant_type=refresh_token&refresh_token=mrt_x")
        .await;
    assert_eq!(error_of(&r), "unsupported_grant_type");
}

#[tokio::test]
async fn scope_must_be_within_what_the_roles_allow() {
    let h = fast_hasher();
    let (_, endpoint) = setup(&h);
    for scope in ["model:admin", "model:predict model:admin", "bad\"scope"] {
        let r = endpoint
            .handle(
                FORM,
                format!(
                    "username=alice&password=correct+horse&scope={}",
                    scope.replace(' ', "+")
                )
                .as_bytes(),
            )
            .await;
        assert_eq!(
            (r.status().as_u16(), error_of(&r)),
            (400, "invalid_scope"),
            "{scope}"
        );
    }
    // Without a policy nothing can be requested.
    let users = Arc::new(MemoryUserStore::new());
    users.insert(user(&h, "alice", "pw", &["user"]));
    let bare = TokenEndpoint::new(users, issuer()).hasher(h.clone());
    let r = bare
        .handle(FORM, b"username=alice&password=pw&scope=model:predict")
        .await;
    assert_eq!(error_of(&r), "invalid_scope");
}

#[tokio::test]
async fn refresh_rotation_and_reuse_revokes_the_family() {
    let h = fast_hasher();
    let denylist = Arc::new(MemoryRevocationStore::new());
    let users = Arc::new(MemoryUserStore::new());
    users.insert(user(&h, "alice", "pw", &["user"]));
    let endpoint = TokenEndpoint::new(users, issuer())
        .hasher(h.clone())
        .scope_policy(policy)
        .refresh_tokens(Arc::new(MemoryRefreshStore::new()))
        .revocation(denylist.clone());
    let bearer = BearerAuth::new(verifier()).revocation(denylist.clone());
    let authed = |token: &str| {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        let bearer = bearer.clone();
        async move { bearer.authenticate_headers(&headers).await.is_ok() }
    };

    let login = endpoint
        .handle(FORM, b"username=alice&password=pw&scope=model:predict")
        .await;
    let r1 = login.json()["refresh_token"].as_str().unwrap().to_owned();
    let a1 = login.json()["access_token"].as_str().unwrap().to_owned();
    assert!(r1.starts_with("mrt_"));
    assert!(authed(&a1).await);

    let second = endpoint
        .handle(
            FORM,
            format!("grant_type=refresh_token&refresh_token={r1}").as_bytes(),
        )
        .await;
    assert_eq!(second.status(), 200);
    assert_no_store(&second);
    let r2 = second.json()["refresh_token"].as_str().unwrap().to_owned();
    let a2 = second.json()["access_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(
        second.json()["scope"],
        "model:predict",
        "refresh keeps the granted scope"
    );

    // r1 again: reuse. The whole family dies, r2 included, and its access tokens are denied.
    let reuse = endpoint
        .handle(
            FORM,
            format!("grant_type=refresh_token&refresh_token={r1}").as_bytes(),
        )
        .await;
    assert_eq!(
        (reuse.status().as_u16(), error_of(&reuse)),
        (400, "invalid_grant")
    );
    let after = endpoint
        .handle(
            FORM,
            format!("grant_type=refresh_token&refresh_token={r2}").as_bytes(),
        )
        .await;
    assert_eq!(error_of(&after), "invalid_grant");
    assert!(!authed(&a1).await && !authed(&a2).await);

    // A separate login starts a fresh family that still works.
    let fresh = endpoint.handle(FORM, b"username=alice&password=pw").await;
    let r3 = fresh.json()["refresh_token"].as_str().unwrap().to_owned();
    let ok = endpoint
        .handle(
            FORM,
            format!("grant_type=refresh_token&refresh_token={r3}").as_bytes(),
        )
        .await;
    assert_eq!(ok.status(), 200);
    // Scope on refresh may narrow, never widen.
    let r4 = ok.json()["refresh_token"].as_str().unwrap().to_owned();
    let widen = endpoint
        .handle(
            FORM,
            format!("grant_type=refresh_token&refresh_token={r4}&scope=model:admin").as_bytes(),
        )
        .await;
    assert_eq!(error_of(&widen), "invalid_scope");
    let garbage = endpoint
        .handle(FORM, b"grant_type=refresh_token&refresh_token=mrt_nope")
        .await;
    assert_eq!(error_of(&garbage), "invalid_grant");
}

#[tokio::test]
async fn outdated_hash_is_upgraded_on_successful_login() {
    let old = PasswordHasher::danger_with_weak_params(256, 1, 1).unwrap();
    let current = fast_hasher();
    let dir = tempfile::tempdir().unwrap();
    let users = Arc::new(FileUserStore::open_or_create(dir.path().join("users.json")).unwrap());
    users.insert(user(&old, "alice", "pw", &["user"])).unwrap();
    let before = users.get("alice").unwrap().unwrap().password_hash;
    assert!(current.needs_rehash(&before));
    let endpoint = TokenEndpoint::new(users.clone(), issuer()).hasher(current.clone());

    // A failed login changes nothing.
    assert_eq!(
        endpoint
            .handle(FORM, b"username=alice&password=nope")
            .await
            .status(),
        400
    );
    assert_eq!(users.get("alice").unwrap().unwrap().password_hash, before);

    assert_eq!(
        endpoint
            .handle(FORM, b"username=alice&password=pw")
            .await
            .status(),
        200
    );
    let after = users.get("alice").unwrap().unwrap().password_hash;
    assert_ne!(after, before);
    assert!(!current.needs_rehash(&after));
    assert!(after.contains("m=512,t=1,p=1"));
    assert_eq!(
        endpoint
            .handle(FORM, b"username=alice&password=pw")
            .await
            .status(),
        200
    );

    // Disabling in the file takes effect at the next login.
    users.set_disabled("alice", true).unwrap();
    assert_eq!(
        endpoint
            .handle(FORM, b"username=alice&password=pw")
            .await
            .status(),
        400
    );
}

#[test]
fn login_does_not_block_the_async_runtime() {
    // One runtime thread. If Argon2 (OWASP parameters) ran on it, the ticker could not tick
    // while the login is in progress.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let hasher = PasswordHasher::new();
        let (_, endpoint) = setup(&hasher);
        let ticks = Arc::new(AtomicU64::new(0));
        let t = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                t.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::task::yield_now().await;
        let before = ticks.load(Ordering::SeqCst);
        // Unknown user (dummy hash) and real user: both must leave the runtime free.
        let r1 = endpoint.handle(FORM, b"username=nobody&password=x").await;
        let mid = ticks.load(Ordering::SeqCst);
        let r2 = endpoint
            .handle(FORM, b"username=alice&password=correct+horse")
            .await;
        let after = ticks.load(Ordering::SeqCst);
        ticker.abort();
        assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (400, 200));
        assert!(
            mid - before >= 2,
            "runtime stalled during the unknown-user login ({} ticks)",
            mid - before
        );
        assert!(
            after - mid >= 2,
            "runtime stalled during the login ({} ticks)",
            after - mid
        );
    });
}

/// A token request larger than the route's limit is 413, also when it arrives chunked (no
/// `Content-Length`), not a 400 `invalid_request`.
#[cfg(feature = "axum")]
#[tokio::test]
async fn oversized_chunked_token_body_is_413() {
    use axum::Router;
    use tower::ServiceExt;

    let users = Arc::new(MemoryUserStore::new());
    let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[7u8; 32]).unwrap());
    let endpoint = Arc::new(TokenEndpoint::new(users, issuer));
    let app: Router = Router::new().route("/token", mlguard_auth::token::token_route(endpoint));
    let big = format!(
        "username=a&password={}",
        "x".repeat(mlguard_auth::token::MAX_FORM_BYTES)
    );
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big
        .into_bytes()
        .chunks(1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
    let request = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

/// Every answer carries a typed outcome (the grant, a bounded log-safe user name, success or
/// the failure reason), so audit and metrics never re-parse the form or the answer.
#[tokio::test]
async fn every_answer_carries_a_typed_outcome() {
    use mlguard_auth::token::{GrantKind, TokenFailure, TokenOutcome};

    let hasher = fast_hasher();
    let (_users, endpoint) = setup(&hasher);
    let endpoint = endpoint.refresh_tokens(Arc::new(MemoryRefreshStore::new()));

    let ok = endpoint
        .handle(FORM, b"username=alice&password=correct%20horse")
        .await;
    assert_eq!(ok.status(), 200);
    let outcome = ok.outcome();
    assert!(outcome.is_success());
    assert_eq!(outcome.grant(), GrantKind::Password);
    assert_eq!(outcome.username(), Some("alice"));
    assert_eq!(outcome.failure_reason(), None);
    let jti = outcome.jti().unwrap().to_owned();
    let refresh = ok.json()["refresh_token"].as_str().unwrap().to_owned();
    // The same value travels in the HTTP response's extensions.
    let response = ok.clone().into_response();
    assert_eq!(response.extensions().get::<TokenOutcome>(), Some(ok.outcome()));
    assert!(!format!("{:?}", ok.outcome()).contains("correct horse"));

    let cases: [(&[u8], GrantKind, Option<&str>, TokenFailure); 6] = [
        (
            b"username=alice&password=wrong",
            GrantKind::Password,
            Some("alice"),
            TokenFailure::BadCredentials,
        ),
        (
            b"username=nobody&password=wrong",
            GrantKind::Password,
            Some("nobody"),
            TokenFailure::BadCredentials,
        ),
        (
            b"username=alice&password=correct%20horse&scope=model:admin",
            GrantKind::Password,
            Some("alice"),
            TokenFailure::InvalidScope,
        ),
        (
            b"grant_type=refresh_token&refresh_token=nope",
            GrantKind::RefreshToken,
            None,
            TokenFailure::InvalidRefreshToken,
        ),
        (
            b"grant_type=client_credentials",
            GrantKind::Unknown,
            None,
            TokenFailure::UnsupportedGrantType,
        ),
        (
            b"username=a&username=b&password=x",
            GrantKind::Unknown,
            None,
            TokenFailure::Malformed,
        ),
    ];
    for (body, grant, user, reason) in cases {
        let r = endpoint.handle(FORM, body).await;
        let o = r.outcome();
        let case = String::from_utf8_lossy(body);
        assert!(!o.is_success(), "{case}");
        assert_eq!(o.grant(), grant, "{case}");
        assert_eq!(o.username(), user, "{case}");
        assert_eq!(o.failure_reason(), Some(reason), "{case}");
        assert_eq!(
            reason.error_code().map(|c| c.as_str()),
            Some(error_of(&r)),
            "{case}"
        );
        assert_eq!(o.jti(), None);
    }

    // A refresh: success, then the spent token is refused (reported as a refresh failure).
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    let r = endpoint.handle(FORM, body.as_bytes()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.outcome().grant(), GrantKind::RefreshToken);
    assert!(r.outcome().is_success());
    assert_ne!(r.outcome().jti(), Some(jti.as_str()));
    let again = endpoint.handle(FORM, body.as_bytes()).await;
    let reason = again.outcome().failure_reason().unwrap();
    assert!(reason.is_invalid_grant(), "{reason}");
    assert_eq!(again.outcome().grant(), GrantKind::RefreshToken);
    assert_eq!(
        endpoint
            .handle(Some("application/json"), b"{}")
            .await
            .outcome()
            .failure_reason(),
        Some(TokenFailure::Malformed)
    );
}

/// The user name in the outcome is cut to 64 characters and escaped: a name with a newline
/// cannot forge a log line wherever the outcome is logged.
#[tokio::test]
async fn outcome_user_names_are_bounded_and_log_safe() {
    use mlguard_auth::token::MAX_OUTCOME_USERNAME;

    let hasher = fast_hasher();
    let (_users, endpoint) = setup(&hasher);
    let r = endpoint
        .handle(
            FORM,
            b"username=bob%0AINFO%20audit%3A%20login%20succeeded%0D%1B%5B2K%E2%80%A8%C2%85%E2%80%AE&password=x",
        )
        .await;
    assert_eq!(
        r.outcome().username(),
        Some("bob\\nINFO audit: login succeeded\\r\\u{1b}[2K\\u{2028}\\u{85}\\u{202e}")
    );
    let long = format!("username={}&password=x", "a".repeat(500));
    let r = endpoint.handle(FORM, long.as_bytes()).await;
    let name = r.outcome().username().unwrap();
    assert_eq!(name, format!("{}...", "a".repeat(MAX_OUTCOME_USERNAME)));
}

/// The axum route: 413 with a problem body for a body over its limit (with a
/// `Content-Length`, of 20 KiB and 60 KiB), with a `TooLarge` outcome; the outcome of a
/// handled request in the extensions.
#[cfg(feature = "axum")]
#[tokio::test]
async fn route_sets_the_outcome_and_answers_413_over_the_limit() {
    use axum::Router;
    use mlguard_auth::token::{GrantKind, TokenFailure, TokenOutcome};
    use tower::ServiceExt;

    let hasher = fast_hasher();
    let (_users, endpoint) = setup(&hasher);
    let app: Router = Router::new().route("/token", mlguard_auth::token::token_route(Arc::new(endpoint)));
    for kib in [20usize, 60] {
        let body = format!("username=alice&password={}", "x".repeat(kib * 1024));
        let request = http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-length", body.len())
            .body(axum::body::Body::from(body))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 413, "{kib} KiB");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let outcome = response.extensions().get::<TokenOutcome>().unwrap();
        assert_eq!(outcome.failure_reason(), Some(TokenFailure::TooLarge));
        assert_eq!(outcome.grant(), GrantKind::Unknown);
        assert_eq!(TokenFailure::TooLarge.error_code(), None);
    }
    let request = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("username=alice&password=correct%20horse"))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let outcome = response.extensions().get::<TokenOutcome>().unwrap();
    assert!(outcome.is_success());
    assert_eq!(outcome.username(), Some("alice"));
}
