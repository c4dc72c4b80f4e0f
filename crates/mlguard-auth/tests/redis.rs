//! The Redis denylist against a real `redis-server` started on a free loopback port.
//! Without `redis-server` the test is skipped locally and FAILS when `CI` is set.
#![cfg(feature = "redis")]

use mlguard_auth::revocation::{RedisRevocationStore, RevocationStore};
use std::time::{Duration, SystemTime};

#[tokio::test]
async fn revoked_jti_is_seen_and_expires_with_the_token() {
    let Some(server) = mlguard_testkit::RedisServer::start() else {
        return;
    };
    let (port, url) = (server.port(), server.url());
    let mut store = None;
    for _ in 0..50 {
        if let Ok(s) = RedisRevocationStore::connect(&url).await {
            store = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = store
        .expect("redis-server did not start")
        .with_prefix("test:revoked:");
    assert!(!store.is_revoked("a").await.unwrap());
    store
        .revoke("a", SystemTime::now() + Duration::from_secs(600))
        .await
        .unwrap();
    store
        .revoke("short", SystemTime::now() + Duration::from_millis(300))
        .await
        .unwrap();
    store
        .revoke("past", SystemTime::now() - Duration::from_secs(1))
        .await
        .unwrap();
    assert!(store.is_revoked("a").await.unwrap());
    assert!(store.is_revoked("short").await.unwrap());
    assert!(!store.is_revoked("past").await.unwrap());
    assert!(!store.is_revoked("b").await.unwrap());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !store.is_revoked("short").await.unwrap(),
        "Redis expired the entry with the token"
    );
    // Debug never shows the URL.
    assert!(!format!("{store:?}").contains(&port.to_string()));
}
