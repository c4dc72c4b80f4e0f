//! The `jti` denylist's own edges, for the mutants that survived the endpoint-level tests
//! under `scripts/mutants revocation` (issue 20): exact horizons, the empty list, the shared
//! (`Arc`) store, what `Debug` shows.

use mlguard_auth::AuthError;
use mlguard_auth::revocation::{MAX_LEEWAY, MemoryRevocationStore, RevocationStore, deny_until};
use mlguard_core::{Clock, ManualClock};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[test]
fn deny_until_is_the_expiry_plus_the_largest_leeway() {
    assert_eq!(MAX_LEEWAY, Duration::from_secs(300));
    let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    assert_eq!(
        deny_until(exp),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_300)
    );
}

#[test]
fn an_entry_lives_until_exactly_deny_until_and_not_at_it() {
    let clock = ManualClock::at_unix(1_000);
    let store = MemoryRevocationStore::with_clock(Arc::new(clock.clone()));
    assert!(store.is_empty());
    assert_eq!(store.len(), 0);
    let exp = clock.now() + Duration::from_secs(60);
    store.revoke_now("a", exp);
    assert!(!store.is_empty());
    assert_eq!(store.len(), 1);
    assert!(!store.is_revoked_now("b"));

    clock.set(deny_until(exp) - Duration::from_nanos(1));
    assert!(store.is_revoked_now("a"));
    assert_eq!(store.len(), 1);
    clock.set(deny_until(exp));
    assert!(!store.is_revoked_now("a"));
    assert_eq!(store.len(), 0);
    assert!(store.is_empty());
}

#[test]
fn a_token_no_verifier_accepts_any_more_is_not_listed() {
    let clock = ManualClock::at_unix(10_000);
    let store = MemoryRevocationStore::with_clock(Arc::new(clock.clone()));
    // Expired longer ago than the largest leeway: nothing to deny, nothing stored.
    store.revoke_now("old", clock.now() - MAX_LEEWAY - Duration::from_secs(1));
    assert!(!store.is_revoked_now("old"));
    assert!(store.is_empty());
    // Expired, but a verifier with the largest leeway would still accept it: denied.
    store.revoke_now("recent", clock.now() - Duration::from_secs(1));
    assert!(store.is_revoked_now("recent"));
}

#[test]
fn many_revocations_keep_the_live_ones() {
    // Past 1024 entries a revocation purges the dead ones first; the live ones stay.
    let clock = ManualClock::at_unix(1_000);
    let store = MemoryRevocationStore::with_clock(Arc::new(clock.clone()));
    let short = clock.now();
    let long = clock.now() + Duration::from_secs(3_600);
    for i in 0..1100 {
        store.revoke_now(&format!("s{i}"), short);
        store.revoke_now(&format!("l{i}"), long);
    }
    clock.advance(MAX_LEEWAY + Duration::from_secs(1));
    store.revoke_now("last", long);
    assert_eq!(store.len(), 1101);
    assert!(store.is_revoked_now("l0") && store.is_revoked_now("l1099"));
    assert!(!store.is_revoked_now("s0"));
}

#[tokio::test]
async fn a_shared_store_is_the_same_list() -> Result<(), AuthError> {
    let clock = ManualClock::at_unix(1_000);
    let inner = Arc::new(MemoryRevocationStore::with_clock(Arc::new(clock.clone())));
    let shared: Arc<dyn RevocationStore> = inner.clone();
    let exp = clock.now() + Duration::from_secs(60);
    assert!(!shared.is_revoked("j").await?);
    shared.revoke("j", exp).await?;
    assert!(shared.is_revoked("j").await?);
    assert!(inner.is_revoked_now("j"));
    // And through a second `Arc` layer (the blanket impl for `Arc<T>`).
    let twice: Arc<Arc<dyn RevocationStore>> = Arc::new(shared);
    twice.revoke("k", exp).await?;
    assert!(twice.is_revoked("k").await?);
    assert!(!twice.is_revoked("other").await?);
    assert_eq!(inner.len(), 2);
    Ok(())
}

#[test]
fn debug_shows_the_live_entry_count_not_the_jtis() {
    let clock = ManualClock::at_unix(1_000);
    let store = MemoryRevocationStore::with_clock(Arc::new(clock.clone()));
    store.revoke_now("secret-jti", clock.now() + Duration::from_secs(60));
    let shown = format!("{store:?}");
    assert!(shown.starts_with("MemoryRevocationStore"), "{shown}");
    assert!(shown.contains("entries: 1"), "{shown}");
    assert!(!shown.contains("secret-jti"), "{shown}");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_zero_redis_timeout_is_a_configuration_error() {
    use mlguard_auth::revocation::RedisRevocationStore;
    // Refused before any connection is attempted (port 1: nothing listens).
    let err = RedisRevocationStore::connect_with_timeout("redis://127.0.0.1:1/", Duration::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Config(_)), "{err:?}");
    let err = RedisRevocationStore::connect_with_timeout("not a url", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Config(_)), "{err:?}");
}

/// `Debug` of the Redis store names it and its settings (never the URL, which may hold a
/// password). The check beside it in `redis.rs`, "the port is not shown", also held for an
/// empty `Debug`. Needs `redis-server` (the skip rule of `mlguard_testkit`).
#[cfg(feature = "redis")]
#[tokio::test]
async fn debug_of_the_redis_store_shows_its_settings_and_not_the_url() {
    use mlguard_auth::revocation::{DEFAULT_REDIS_TIMEOUT, RedisRevocationStore};
    let Some(server) = mlguard_testkit::RedisServer::start() else {
        return;
    };
    let mut store = None;
    for _ in 0..50 {
        if let Ok(s) = RedisRevocationStore::connect(&server.url()).await {
            store = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = store
        .expect("redis-server did not start")
        .with_prefix("dbg-prefix:");
    let shown = format!("{store:?}");
    assert!(shown.starts_with("RedisRevocationStore"), "{shown}");
    assert!(shown.contains("dbg-prefix:"), "{shown}");
    assert!(shown.contains(&format!("{DEFAULT_REDIS_TIMEOUT:?}")), "{shown}");
    assert!(!shown.contains(&server.port().to_string()), "{shown}");
}
