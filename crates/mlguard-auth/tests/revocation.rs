//! Issue 14, hole 2: a revoked JWT must stay refused for as long as the verifier would accept
//! it, that is until `exp` plus the verifier's leeway, not only until `exp`.
//!
//! One injected clock drives the issuer, the verifier, the refresh store and the denylist, and
//! the token is revoked the way a server revokes it: by the token endpoint, when a refresh
//! token is reused.

use mlguard_auth::jwt::{
    BearerAuth, JwtAlgorithm, JwtIssuer, JwtVerifier, MAX_LEEWAY, SigningKey, VerifyingKey,
};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::refresh::MemoryRefreshStore;
use mlguard_auth::revocation::{MemoryRevocationStore, RevocationStore};
use mlguard_auth::token::TokenEndpoint;
use mlguard_auth::users::{MemoryUserStore, UserRecord};
use mlguard_core::{Clock, ManualClock, SharedClock};
use std::sync::Arc;
use std::time::Duration;

const SECRET: [u8; 32] = [7; 32];
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const TTL: Duration = Duration::from_secs(60);

struct Setup {
    clock: ManualClock,
    endpoint: TokenEndpoint,
    denylist: Arc<MemoryRevocationStore>,
}

fn setup() -> Setup {
    let clock = ManualClock::at_unix(1_700_000_000);
    let shared: SharedClock = Arc::new(clock.clone());
    let hasher = PasswordHasher::danger_with_weak_params(256, 1, 1).unwrap();
    let users = Arc::new(MemoryUserStore::new());
    users.insert(UserRecord {
        username: "alice".into(),
        password_hash: hasher.hash_blocking("pw").unwrap(),
        roles: vec!["user".into()],
        disabled: false,
    });
    let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &SECRET).unwrap())
        .ttl(TTL)
        .clock(shared.clone());
    let denylist = Arc::new(MemoryRevocationStore::with_clock(shared.clone()));
    let endpoint = TokenEndpoint::new(users, issuer)
        .hasher(hasher)
        .refresh_tokens(Arc::new(MemoryRefreshStore::new().with_clock(shared)))
        .revocation(denylist.clone());
    Setup {
        clock,
        endpoint,
        denylist,
    }
}

fn bearer(clock: &ManualClock, leeway: Duration, denylist: &Arc<MemoryRevocationStore>) -> BearerAuth {
    let verifier = JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .leeway(leeway)
        .clock(Arc::new(clock.clone()))
        .accept_any_audience()
        .build()
        .unwrap();
    BearerAuth::new(verifier).revocation(denylist.clone())
}

async fn status(bearer: &BearerAuth, token: &str) -> u16 {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    match bearer.authenticate_headers(&headers).await {
        Ok(_) => 200,
        Err(problem) => problem.status().as_u16(),
    }
}

/// Logs in, and returns the access token and its refresh token.
async fn login(s: &Setup) -> (String, String) {
    let r = s.endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(r.status(), 200);
    (
        r.json()["access_token"].as_str().unwrap().to_owned(),
        r.json()["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Reuses `refresh`: the token endpoint revokes the family and its access tokens.
async fn reuse(s: &Setup, refresh: &str) {
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    let first = s.endpoint.handle(FORM, body.as_bytes()).await;
    assert_eq!(first.status(), 200);
    let again = s.endpoint.handle(FORM, body.as_bytes()).await;
    assert_eq!(again.json()["error"], "invalid_grant");
}

async fn revoked_stays_refused_until_exp_plus_leeway(leeway: Duration) {
    let s = setup();
    let bearer = bearer(&s.clock, leeway, &s.denylist);
    let (access, refresh) = login(&s).await;
    let issued = s.clock.now();
    assert_eq!(status(&bearer, &access).await, 200);
    reuse(&s, &refresh).await;
    assert_eq!(status(&bearer, &access).await, 401, "revoked at once");

    let exp = issued + TTL;
    let probes = [
        ("exp-3s", exp - Duration::from_secs(3)),
        ("exp+2s", exp + Duration::from_secs(2)),
        ("exp+leeway-1s", exp + leeway - Duration::from_secs(1)),
    ];
    for (name, at) in probes {
        s.clock.set(at);
        assert_eq!(
            status(&bearer, &access).await,
            401,
            "a revoked token was accepted at {name} (leeway {leeway:?})"
        );
    }
    // Past exp + leeway the verifier refuses it by itself, and the entry may go.
    s.clock.set(exp + leeway);
    assert_eq!(status(&bearer, &access).await, 401);
    s.clock.set(exp + MAX_LEEWAY);
    assert_eq!(
        s.denylist.len(),
        0,
        "entries do not outlive every verifier's horizon"
    );
}

#[tokio::test]
async fn revoked_token_is_refused_until_exp_plus_the_default_leeway() {
    revoked_stays_refused_until_exp_plus_leeway(mlguard_auth::jwt::DEFAULT_LEEWAY).await;
}

#[tokio::test]
async fn revoked_token_is_refused_until_exp_plus_the_largest_leeway() {
    revoked_stays_refused_until_exp_plus_leeway(MAX_LEEWAY).await;
}

/// A caller that revokes a token with its own expiry (the natural value, and the one the
/// trait documents) gets the whole horizon too: the store adds it, not the caller.
#[tokio::test]
async fn the_store_keeps_an_entry_past_the_given_expiry_for_the_largest_leeway() {
    let clock = ManualClock::at_unix(1_000);
    let store = MemoryRevocationStore::with_clock(Arc::new(clock.clone()));
    let exp = clock.now() + Duration::from_secs(10);
    store.revoke("j", exp).await.unwrap();
    clock.set(exp + MAX_LEEWAY - Duration::from_secs(1));
    assert!(store.is_revoked("j").await.unwrap());
    clock.set(exp + MAX_LEEWAY);
    assert!(!store.is_revoked("j").await.unwrap());
    // A token that expired a moment ago can still be accepted by a lenient verifier: deny it.
    store
        .revoke("late", clock.now() - Duration::from_secs(5))
        .await
        .unwrap();
    assert!(store.is_revoked("late").await.unwrap());
}
