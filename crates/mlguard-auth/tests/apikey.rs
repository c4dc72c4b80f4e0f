//! API key generation, stores and the ApiKeyLayer.

mod common;

use common::{body_string, recorder};
use http::{Request, StatusCode};
use mlguard_auth::apikey::{ApiKeyRecord, FileKeyStore, KeyFile, KeyStore, MemoryKeyStore, generate};
use mlguard_auth::{ApiKeyAuth, ApiKeyLayer};
use mlguard_core::{ManualClock, SharedClock};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::{Layer, ServiceExt};

fn req(key: Option<&str>) -> Request<()> {
    let mut b = Request::get("/predict");
    if let Some(k) = key {
        b = b.header("x-api-key", k);
    }
    b.body(()).unwrap()
}

#[tokio::test]
async fn valid_key_yields_principal_and_header_is_stripped() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("ci-bot", ["user", "reader"]).unwrap();
    store.insert(record);
    let (seen, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(store)).layer(inner);
    let res = svc.oneshot(req(Some(key.expose_secret()))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.api_key, "the key header must not reach the inner service");
    let p = seen.principal.expect("principal");
    assert_eq!(p.subject(), "ci-bot");
    assert_eq!(p.api_key_id(), Some(key.key_id()));
    assert!(p.has_role("user") && p.has_role("reader"));
}

#[tokio::test]
async fn missing_key_is_401_with_challenge() {
    let (seen, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(Arc::new(MemoryKeyStore::new())).realm("ml-api")).layer(inner);
    let res = svc.oneshot(req(None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"ApiKey realm="ml-api", header="x-api-key""#
    );
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(body_string(res).await.contains("Missing API key"));
    assert!(seen.lock().unwrap().principal.is_none());
}

#[tokio::test]
async fn wrong_secret_unknown_id_and_malformed_are_401_without_echoing_the_key() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("a", ["user"]).unwrap();
    store.insert(record);
    let (other, _) = generate("b", ["user"]).unwrap();
    let wrong_secret = format!("{}_{}", &key.expose_secret()[..20], &other.expose_secret()[21..]);
    let (_, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(store)).layer(inner);
    for bad in [wrong_secret.as_str(), other.expose_secret(), "not-a-key", "mlg_"] {
        let res = svc.clone().oneshot(req(Some(bad))).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
        let body = body_string(res).await;
        assert!(body.contains("Invalid API key"));
        assert!(!body.contains(bad));
    }
}

#[test]
fn logs_never_contain_the_submitted_key() {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("a", ["user"]).unwrap();
    store.insert(record);
    store.revoke(key.key_id());
    let (unknown, _) = generate("b", ["user"]).unwrap();
    let auth = ApiKeyAuth::new(store);
    tracing::subscriber::with_default(subscriber, || {
        for k in [key.expose_secret(), unknown.expose_secret()] {
            let mut h = http::HeaderMap::new();
            h.insert("x-api-key", k.parse().unwrap());
            assert!(auth.authenticate(&h, &"/".parse().unwrap()).is_err());
        }
    });
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("rejected"), "the rejections were logged: {logs}");
    assert!(!logs.contains(key.expose_secret()) && !logs.contains(unknown.expose_secret()));
}

#[tokio::test]
async fn revocation_in_memory_takes_effect_on_next_request() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("a", ["user"]).unwrap();
    store.insert(record);
    let (_, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(store.clone())).layer(inner);
    assert_eq!(
        svc.clone()
            .oneshot(req(Some(key.expose_secret())))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(store.revoke(key.key_id()));
    assert_eq!(
        svc.oneshot(req(Some(key.expose_secret())))
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn file_store_sees_an_external_revocation_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let (key, record) = generate("a", ["user"]).unwrap();
    let mut doc = KeyFile { keys: vec![record] };
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let store = Arc::new(FileKeyStore::open(&path).unwrap());
    let (_, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(store.clone())).layer(inner);
    assert_eq!(
        svc.clone()
            .oneshot(req(Some(key.expose_secret())))
            .await
            .unwrap()
            .status(),
        200
    );

    // Another process (an operator's script) rewrites the file.
    doc.keys[0].revoked = true;
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    assert_eq!(
        svc.clone()
            .oneshot(req(Some(key.expose_secret())))
            .await
            .unwrap()
            .status(),
        401
    );

    // And through the store's own API, for a second key.
    let (key2, record2) = generate("b", ["user"]).unwrap();
    store.insert(record2).unwrap();
    assert_eq!(
        svc.clone()
            .oneshot(req(Some(key2.expose_secret())))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(store.revoke(key2.key_id()).unwrap());
    let reopened = FileKeyStore::open(&path).unwrap();
    assert!(reopened.get(key2.key_id()).unwrap().unwrap().revoked);
    assert_eq!(
        svc.oneshot(req(Some(key2.expose_secret())))
            .await
            .unwrap()
            .status(),
        401
    );
}

#[test]
fn file_store_keeps_last_good_copy_when_file_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let store = FileKeyStore::open_or_create(&path).unwrap();
    let (key, record) = generate("a", ["user"]).unwrap();
    store.insert(record).unwrap();

    // Right after `insert`, the file holds the record (so the copy kept below
    // really came from disk) with a hash of the key, never the key itself.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(key.key_id()),
        "insert did not write the record: {text}"
    );
    assert!(
        !text.contains(key.expose_secret()),
        "the key file holds the secret"
    );
    let doc: KeyFile = serde_json::from_str(&text).unwrap();
    assert_eq!(doc.keys.len(), 1);
    assert!(doc.keys[0].verify(key.expose_secret()));

    // An editor's half-written file (a different length, so the store does
    // re-read it) must not lock the key out: the last good copy still serves
    // a record that verifies the key.
    std::fs::write(&path, b"{ half written").unwrap();
    for _ in 0..2 {
        let kept = store.get(key.key_id()).unwrap().expect("last good copy kept");
        assert!(kept.verify(key.expose_secret()));
        assert!(!kept.revoked);
    }
    // Control: once the file is valid again, its content wins (here: none).
    std::fs::write(&path, br#"{"keys": []}"#).unwrap();
    assert!(store.get(key.key_id()).unwrap().is_none());
}

#[tokio::test]
async fn expired_key_is_refused_exactly_at_expiry() {
    let clock = ManualClock::at_unix(1_000_000);
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("a", ["user"]).unwrap();
    let record: ApiKeyRecord = record.with_expiry(std::time::UNIX_EPOCH + Duration::from_secs(1_000_060));
    store.insert(record);
    let shared: SharedClock = Arc::new(clock.clone());
    let (_, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(store).clock(shared)).layer(inner);
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        svc.clone()
            .oneshot(req(Some(key.expose_secret())))
            .await
            .unwrap()
            .status(),
        200
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        svc.oneshot(req(Some(key.expose_secret())))
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn query_string_keys_are_refused_by_default() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("a", ["user"]).unwrap();
    store.insert(record);
    let (seen, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(store.clone())).layer(inner);
    for q in [
        format!("api_key={}", key.expose_secret()),
        format!("token={}", key.expose_secret()),
    ] {
        let r = Request::get(format!("/predict?{q}")).body(()).unwrap();
        let res = svc.clone().oneshot(r).await.unwrap();
        assert_eq!(res.status(), 401);
        let body = body_string(res).await;
        assert!(body.contains("query string") && !body.contains(key.expose_secret()));
    }
    assert!(seen.lock().unwrap().principal.is_none());

    let (_, inner) = recorder();
    let allowed = ApiKeyLayer::new(ApiKeyAuth::new(store).danger_allow_query_param("api_key")).layer(inner);
    let r = Request::get(format!("/predict?api_key={}", key.expose_secret()))
        .body(())
        .unwrap();
    assert_eq!(allowed.oneshot(r).await.unwrap().status(), 200);
}

#[tokio::test]
async fn custom_header_and_duplicate_headers() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("a", ["user"]).unwrap();
    store.insert(record);
    let (_, inner) = recorder();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(store).header(http::HeaderName::from_static("x-ml-key")))
        .layer(inner);
    let ok = Request::get("/")
        .header("x-ml-key", key.expose_secret())
        .body(())
        .unwrap();
    assert_eq!(svc.clone().oneshot(ok).await.unwrap().status(), 200);
    let default_header = req(Some(key.expose_secret()));
    assert_eq!(svc.clone().oneshot(default_header).await.unwrap().status(), 401);
    let twice = Request::get("/")
        .header("x-ml-key", key.expose_secret())
        .header("x-ml-key", key.expose_secret())
        .body(())
        .unwrap();
    assert_eq!(svc.oneshot(twice).await.unwrap().status(), 401);
}
