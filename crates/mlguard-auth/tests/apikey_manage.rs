//! API-key management: create (with expiry), list (no secrets), revoke; expiry by an injected
//! clock; the key file format ml-api already has stays readable.

use http::{Request, StatusCode};
use mlguard_auth::apikey::{ApiKeyManager, FileKeyStore, KeyFile, ManagedKeyStore, MemoryKeyStore, generate};
use mlguard_auth::{ApiKeyAuth, AuthError};
use mlguard_core::ManualClock;
use std::sync::Arc;
use std::time::Duration;

const NOW: u64 = 1_700_000_000;

fn authenticate(auth: &ApiKeyAuth, key: &str) -> Result<String, (StatusCode, String)> {
    let request = Request::get("/predict")
        .header("x-api-key", key)
        .body(())
        .unwrap();
    auth.authenticate(request.headers(), request.uri())
        .map(|p| p.subject().to_owned())
        .map_err(|p| (p.status(), p.detail().to_owned()))
}

#[test]
fn create_list_revoke_in_three_calls_and_expiry_by_the_clock() {
    let clock = ManualClock::at_unix(NOW);
    let store = Arc::new(MemoryKeyStore::new());
    let manager = ApiKeyManager::new(store.clone()).clock(Arc::new(clock.clone()));
    let auth = ApiKeyAuth::new(store.clone()).clock(Arc::new(clock.clone()));

    let (short, short_info) = manager
        .create("nightly", ["user"], Some(Duration::from_secs(60)))
        .unwrap();
    let (forever, forever_info) = manager.create("ci-bot", ["user", "reader"], None).unwrap();
    assert_eq!(short_info.expires_at, Some(NOW + 60));
    assert_eq!(forever_info.expires_at, None);
    assert_eq!(
        authenticate(&auth, short.expose_secret()),
        Ok("nightly".to_owned())
    );
    assert_eq!(
        authenticate(&auth, forever.expose_secret()),
        Ok("ci-bot".to_owned())
    );

    // Listed by name, without any secret or hash.
    let listed = manager.list().unwrap();
    assert_eq!(listed, [forever_info.clone(), short_info.clone()]);
    let json = serde_json::to_string(&listed).unwrap();
    let hashes: Vec<String> = store
        .list_records()
        .unwrap()
        .into_iter()
        .map(|r| r.sha256)
        .collect();
    for secret in [short.expose_secret(), forever.expose_secret()] {
        assert!(!json.contains(secret));
    }
    for hash in &hashes {
        assert!(!json.contains(hash.as_str()), "the list must not carry hashes");
    }

    // One second before expiry it works; at expiry it is refused, and listed as expired.
    clock.advance(Duration::from_secs(59));
    assert!(authenticate(&auth, short.expose_secret()).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        authenticate(&auth, short.expose_secret()),
        Err((StatusCode::UNAUTHORIZED, "Invalid API key".to_owned()))
    );
    let nightly = manager
        .list()
        .unwrap()
        .into_iter()
        .find(|k| k.name == "nightly")
        .unwrap();
    assert!(nightly.expired && !nightly.is_active());

    // Revoke: refused from the next request on; an unknown id is `false`.
    assert!(manager.revoke(&forever_info.key_id).unwrap());
    assert_eq!(
        authenticate(&auth, forever.expose_secret()),
        Err((StatusCode::UNAUTHORIZED, "Invalid API key".to_owned()))
    );
    assert!(!manager.revoke("0123456789abcdef").unwrap());
    assert!(manager.list().unwrap().iter().all(|k| !k.is_active()));
}

#[test]
fn bad_names_roles_and_expiries_are_refused() {
    let manager = ApiKeyManager::new(Arc::new(MemoryKeyStore::new()));
    let config = |r: Result<_, AuthError>| matches!(r, Err(AuthError::Config(_)));
    assert!(config(manager.create("", ["user"], None)));
    assert!(config(manager.create("a\nforged log line", ["user"], None)));
    assert!(config(manager.create(&"x".repeat(129), ["user"], None)));
    assert!(config(manager.create("ok", ["bad role"], None)));
    assert!(config(manager.create("ok", [""], None)));
    assert!(config(manager.create(
        "ok",
        ["user"],
        Some(Duration::from_millis(500))
    )));
    assert!(
        manager.list().unwrap().is_empty(),
        "nothing stored for a refused create"
    );
    // A sub-second remainder rounds the expiry up, never down.
    let clock = ManualClock::at_unix(NOW);
    let manager = manager.clock(Arc::new(clock));
    let (_, info) = manager
        .create("ok", ["user"], Some(Duration::from_millis(1500)))
        .unwrap();
    assert_eq!(info.expires_at, Some(NOW + 2));
}

#[test]
fn the_existing_key_file_format_stays_readable_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    // A file as ml-api writes it today (before the manager existed).
    let (old_key, old) = generate("legacy", ["admin"]).unwrap();
    let legacy = format!(
        r#"{{"keys":[{{"key_id":"{}","name":"legacy","roles":["admin"],"expires_at":null,"revoked":false,"sha256":"{}"}}]}}"#,
        old.key_id, old.sha256
    );
    std::fs::write(&path, legacy).unwrap();

    let store = Arc::new(FileKeyStore::open(&path).unwrap());
    let manager = ApiKeyManager::new(store.clone());
    let auth = ApiKeyAuth::new(store.clone());
    assert_eq!(manager.list().unwrap()[0].name, "legacy");
    assert_eq!(
        authenticate(&auth, old_key.expose_secret()),
        Ok("legacy".to_owned())
    );

    let (new_key, _) = manager
        .create("fresh", ["user"], Some(Duration::from_secs(3600)))
        .unwrap();
    manager.revoke(&old.key_id).unwrap();
    // Still the same document shape, readable as a KeyFile, both records in it.
    let doc: KeyFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc.keys.len(), 2);
    assert!(doc.keys.iter().any(|r| r.name == "legacy" && r.revoked));
    // A second store on the same file (another process) sees the changes.
    let other = ApiKeyAuth::new(Arc::new(FileKeyStore::open(&path).unwrap()));
    assert!(authenticate(&other, old_key.expose_secret()).is_err());
    assert_eq!(
        authenticate(&other, new_key.expose_secret()),
        Ok("fresh".to_owned())
    );
}
