//! What `scripts/mutants apikey` (issue 20) found no test pinning down in `apikey/`: each test
//! below fails with the mutant named in its comment (checked by applying it by hand).

use http::{HeaderMap, Uri};
use mlguard_auth::ApiKeyAuth;
use mlguard_auth::apikey::{MemoryKeyStore, generate};
use mlguard_core::ManualClock;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

fn headers(key: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-api-key", key.parse().unwrap());
    h
}

/// Mutant: `UNIX_EPOCH + Duration::from_secs(exp)` into `-` in `ApiKeyAuth::check`.
#[test]
fn an_expiring_key_gives_a_principal_that_expires_when_the_key_does() {
    let store = Arc::new(MemoryKeyStore::new());
    let expires = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
    let (key, record) = generate("ci-bot", ["user"]).unwrap();
    store.insert(record.with_expiry(expires));
    let auth = ApiKeyAuth::new(store).clock(Arc::new(ManualClock::at_unix(1_900_000_000)));
    let principal = auth
        .authenticate(&headers(key.expose_secret()), &Uri::from_static("/"))
        .unwrap();
    assert_eq!(principal.expires_at(), Some(expires));
    // Control: a key without an expiry gives a principal without one.
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("forever", ["user"]).unwrap();
    store.insert(record);
    let principal = ApiKeyAuth::new(store)
        .authenticate(&headers(key.expose_secret()), &Uri::from_static("/"))
        .unwrap();
    assert_eq!(principal.expires_at(), None);
}

/// Mutant: the first `||` into `&&` in `ApiKeyAuth::key_in_query`: a query parameter with a
/// key-like name is refused whatever its value looks like, and so is one named like the header.
#[test]
fn a_query_parameter_named_like_an_api_key_is_refused_whatever_its_value() {
    let auth = ApiKeyAuth::new(Arc::new(MemoryKeyStore::new()));
    for query in [
        "/predict?api_key=abc",
        "/predict?KEY=1",
        "/predict?x-api-key=zzz",
        "/predict?apikey=",
    ] {
        let refused = auth
            .authenticate(&HeaderMap::new(), &Uri::from_static(query))
            .unwrap_err();
        assert!(refused.detail().contains("query string"), "{query}: {refused:?}");
    }
    // Control: other parameters are not a key in the query: the key is just missing.
    let missing = auth
        .authenticate(&HeaderMap::new(), &Uri::from_static("/predict?limit=3"))
        .unwrap_err();
    assert!(!missing.detail().contains("query string"), "{missing:?}");
}

/// Mutant: `<impl Debug for ApiKeyAuth>::fmt` into `Ok(())`: its settings must show (they are
/// what an operator reads in a startup log), the stored secrets never.
#[test]
fn debug_of_the_authenticator_shows_its_settings_and_no_secret() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("ci-bot", ["user"]).unwrap();
    store.insert(record);
    let auth = ApiKeyAuth::new(store)
        .realm("ml-api")
        .header(http::HeaderName::from_static("x-ml-key"));
    let shown = format!("{auth:?}");
    assert!(shown.starts_with("ApiKeyAuth"), "{shown}");
    assert!(shown.contains("x-ml-key") && shown.contains("ml-api"), "{shown}");
    assert!(!shown.contains(key.expose_secret()), "{shown}");
}

/// Mutants: `<impl Debug for ApiKeySecret>::fmt` and `<impl Debug for ApiKeyRecord>::fmt` into
/// `Ok(())`. A key and its record print what identifies them (the key id, the name, the roles)
/// and never the secret or its SHA-256; an empty output would hide them from an operator.
#[test]
fn debug_of_a_key_and_its_record_shows_the_key_id_and_hides_the_secret_and_its_hash() {
    let (key, record) = generate("ci-bot", ["user", "reader"]).unwrap();
    let secret = key.expose_secret();
    let shown = format!("{key:?}");
    assert!(shown.starts_with("ApiKeySecret"), "{shown}");
    assert!(
        shown.contains(key.key_id()) && shown.contains("[redacted]"),
        "{shown}"
    );
    assert!(!shown.contains(&secret[key.key_id().len() + 5..]), "{shown}");
    let shown = format!("{record:?}");
    assert!(shown.starts_with("ApiKeyRecord"), "{shown}");
    for part in [record.key_id.as_str(), "ci-bot", "reader", "revoked: false"] {
        assert!(shown.contains(part), "{part} missing from {shown}");
    }
    assert!(
        !shown.contains(&record.sha256) && !shown.contains(secret),
        "{shown}"
    );
}

/// Mutant: the `b'A'..=b'F'` arm deleted from `hex_decode`. A record whose SHA-256 was written
/// in upper-case hex (RFC 4648's base16 alphabet, as some tools print it) still verifies its
/// key; a wrong key still does not.
#[test]
fn a_record_with_an_upper_case_sha256_still_verifies_its_key() {
    let (key, mut record) = generate("ci-bot", ["user"]).unwrap();
    record.sha256 = record.sha256.to_ascii_uppercase();
    assert!(
        record.sha256.bytes().any(|b| b.is_ascii_uppercase()),
        "{}",
        record.sha256
    );
    assert!(record.verify(key.expose_secret()));
    let (other, _) = generate("other", ["user"]).unwrap();
    assert!(!record.verify(other.expose_secret()));
}

/// Mutants: `ApiKeyInfo::is_active` into `false`, and `<impl Debug for ApiKeyManager>::fmt`
/// into `Ok(())`. A fresh key lists as active (the existing tests only listed inactive ones),
/// and the manager prints its store, never a secret.
#[test]
fn a_fresh_key_lists_as_active_and_the_manager_prints_its_store_without_secrets() {
    use mlguard_auth::apikey::{ApiKeyManager, FileKeyStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let store = Arc::new(FileKeyStore::open_or_create(&path).unwrap());
    let manager = ApiKeyManager::new(store).clock(Arc::new(ManualClock::at_unix(1_900_000_000)));
    let (key, info) = manager
        .create("ci-bot", ["user"], Some(Duration::from_secs(3600)))
        .unwrap();
    assert!(info.is_active(), "{info:?}");
    assert!(manager.list().unwrap().iter().all(|k| k.is_active()));
    let shown = format!("{manager:?}");
    assert!(
        shown.starts_with("ApiKeyManager") && shown.contains("FileKeyStore"),
        "{shown}"
    );
    assert!(!shown.contains(key.expose_secret()), "{shown}");
    // Control: once revoked, it is not active.
    assert!(manager.revoke(&info.key_id).unwrap());
    assert!(!manager.list().unwrap()[0].is_active());
}

/// Mutant: `name.chars().count() > MAX_KEY_NAME_LEN` into `>=`. A name of exactly the maximum
/// (in characters, not bytes) is accepted; one more character is refused.
#[test]
fn a_key_name_may_be_exactly_the_maximum_length_in_characters() {
    use mlguard_auth::apikey::{ApiKeyManager, MAX_KEY_NAME_LEN};
    let manager = ApiKeyManager::new(Arc::new(MemoryKeyStore::new()));
    // Two-byte characters: a byte count would refuse this name.
    let at_max = "é".repeat(MAX_KEY_NAME_LEN);
    let (_, info) = manager.create(&at_max, ["user"], None).unwrap();
    assert_eq!(info.name, at_max);
    let over = "e".repeat(MAX_KEY_NAME_LEN + 1);
    assert!(manager.create(&over, ["user"], None).is_err());
}

/// Mutant: `ttl < 1 s` into `<=`. An expiry of exactly one second is the shortest allowed.
#[test]
fn a_key_may_expire_in_exactly_one_second_and_not_less() {
    use mlguard_auth::apikey::ApiKeyManager;
    let manager = ApiKeyManager::new(Arc::new(MemoryKeyStore::new()))
        .clock(Arc::new(ManualClock::at_unix(1_900_000_000)));
    let (_, info) = manager
        .create("short", ["user"], Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(info.expires_at, Some(1_900_000_001));
    let below = Duration::from_millis(999);
    assert!(manager.create("shorter", ["user"], Some(below)).is_err());
}

/// Mutants: `MemoryKeyStore::remove` into `true` or `false`. It says whether there was such a
/// key, and the key is gone after.
#[test]
fn removing_a_key_from_the_memory_store_says_whether_it_was_there() {
    use mlguard_auth::apikey::KeyStore;
    let store = MemoryKeyStore::new();
    let (key, record) = generate("svc", ["user"]).unwrap();
    let id = key.key_id().to_owned();
    store.insert(record);
    assert!(store.get(&id).unwrap().is_some());
    assert!(store.remove(&id));
    assert!(store.get(&id).unwrap().is_none());
    assert!(!store.remove(&id));
    assert!(!store.remove("no-such-key"));
}
