//! The Redis denylist against a real `redis-server` started on a free loopback port.
//! Without `redis-server` the test is skipped locally and FAILS when `CI` is set.
#![cfg(feature = "redis")]

use mlguard_auth::revocation::{RedisRevocationStore, RevocationStore};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> Option<(Server, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(child) => Some((Server(child), port)),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is required in CI: {e}"
            );
            eprintln!("skipping: redis-server not found ({e})");
            None
        }
    }
}

#[tokio::test]
async fn revoked_jti_is_seen_and_expires_with_the_token() {
    let Some((_server, port)) = start() else { return };
    let url = format!("redis://127.0.0.1:{port}/");
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
