//! Audit events (`mlguard_auth::audit`): each event is written by the piece that knows what
//! happened (the token route's outcome, the audited stores, the key manager), with its
//! documented fields, and a user-supplied value cannot forge a log line (issue 14, hole 5).
//!
//! The events are captured with a real `tracing-subscriber` JSON formatter into a buffer, one
//! subscriber per test (set as the thread's default: the tests run on current-thread runtimes).

use mlguard_auth::apikey::{ApiKeyManager, MemoryKeyStore};
use mlguard_auth::audit::{self, AuditedRefreshTokens, AuditedRevocations};
use mlguard_auth::refresh::{MemoryRefreshStore, Recorded, Redemption, RefreshTokenStore};
use mlguard_auth::revocation::{MemoryRevocationStore, RevocationStore};
use mlguard_auth::token::{GrantKind, TokenFailure, TokenOutcome};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The JSON lines written while the returned guard lives.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = Self::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// The audit events, in order; every line must be one JSON object.
    fn events(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
            .filter(|v| v["target"] == audit::TARGET)
            .collect()
    }

    fn event(&self, name: &str) -> Value {
        let events = self.events();
        events
            .iter()
            .find(|e| e["fields"]["event"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} event in {events:#?}"))
    }
}

const FORGING: &str = "bob\nINFO audit: login succeeded\r\u{1b}[2K\u{2028}x\u{202e}";

#[test]
fn token_events_carry_the_outcome_and_escape_the_user_name() {
    let (captured, _guard) = Captured::start();
    let peer = Some([192, 0, 2, 7].into());
    audit::token_request(
        &TokenOutcome::failure(GrantKind::Password, Some(FORGING), TokenFailure::BadCredentials),
        peer,
    );
    audit::token_request(
        &TokenOutcome::success(GrantKind::Password, Some("alice"), "j-1"),
        None,
    );
    audit::token_request(
        &TokenOutcome::failure(GrantKind::RefreshToken, None, TokenFailure::RefreshTokenReused),
        None,
    );
    audit::token_request(
        &TokenOutcome::failure(GrantKind::Unknown, None, TokenFailure::TooLarge),
        None,
    );

    let events = captured.events();
    assert_eq!(
        events.len(),
        4,
        "one line per event, none forged: {}",
        captured.text()
    );
    let failed = &events[0];
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["event"], "login");
    assert_eq!(failed["fields"]["outcome"], "failure");
    assert_eq!(failed["fields"]["error"], "invalid_grant");
    assert_eq!(failed["fields"]["reason"], "bad_credentials");
    assert_eq!(failed["fields"]["peer"], "192.0.2.7");
    let user = failed["fields"]["user"].as_str().unwrap();
    assert!(
        user.starts_with("bob\\nINFO audit: login succeeded\\r"),
        "{user:?}"
    );
    assert!(
        !user
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{202e}')),
        "escaped at the source: {user:?}"
    );

    let ok = &events[1];
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["fields"]["outcome"], "success");
    assert_eq!(ok["fields"]["user"], "alice");
    assert_eq!(ok["fields"]["jti"], "j-1");
    assert_eq!(ok["fields"]["peer"], "-");

    assert_eq!(events[2]["fields"]["event"], "token_refresh");
    assert_eq!(events[2]["fields"]["reason"], "refresh_token_reused");
    assert_eq!(events[3]["fields"]["error"], "-", "a 413 has no RFC 6749 code");
    assert_eq!(events[3]["fields"]["reason"], "too_large");
}

#[test]
fn access_denied_names_the_reason_and_escapes_the_route() {
    let (captured, _guard) = Captured::start();
    audit::access_denied(
        "/predict",
        http::StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        None,
    );
    audit::access_denied("/predict", http::StatusCode::FORBIDDEN, "invalid_api_key", None);
    audit::access_denied("/x\nINFO forged", http::StatusCode::UNAUTHORIZED, "r\nINFO", None);
    let events = captured.events();
    assert_eq!(events.len(), 3, "{}", captured.text());
    assert_eq!(events[0]["fields"]["reason"], "invalid_api_key");
    assert_eq!(events[0]["fields"]["status"], 401);
    assert_eq!(events[1]["fields"]["reason"], "insufficient_permission");
    assert_eq!(events[1]["fields"]["status"], 403);
    assert_eq!(events[2]["fields"]["route"], "/x\\nINFO forged");
    assert_eq!(events[2]["fields"]["reason"], "r\\nINFO");
}

#[test]
fn the_key_manager_audits_creation_and_revocation_never_the_secret() {
    let (captured, _guard) = Captured::start();
    let manager = ApiKeyManager::new(Arc::new(MemoryKeyStore::new()));
    let (key, info) = manager.create("ci-bot", ["user", "admin"], None).unwrap();
    let created = captured.event("api_key_created");
    assert_eq!(created["level"], "INFO");
    assert_eq!(created["fields"]["key_id"], info.key_id.as_str());
    assert_eq!(created["fields"]["name"], "ci-bot");
    assert_eq!(created["fields"]["role"], "user,admin");

    assert!(!manager.revoke("no-such-key").unwrap());
    assert!(
        captured
            .events()
            .iter()
            .all(|e| e["fields"]["event"] != "api_key_revoked"),
        "nothing revoked, nothing audited"
    );
    assert!(manager.revoke(&info.key_id).unwrap());
    assert_eq!(
        captured.event("api_key_revoked")["fields"]["key_id"],
        info.key_id.as_str()
    );
    assert!(!captured.text().contains(key.expose_secret()));
}

#[tokio::test]
async fn audited_stores_report_revocations_and_reuse() {
    let (captured, _guard) = Captured::start();
    let revocations = AuditedRevocations::new(MemoryRevocationStore::new());
    let until = SystemTime::now() + Duration::from_secs(60);
    revocations.revoke("jti-1", until).await.unwrap();
    assert!(revocations.is_revoked("jti-1").await.unwrap());
    let revoked = captured.event("token_revoked");
    assert_eq!(revoked["fields"]["outcome"], "success");
    assert_eq!(revoked["fields"]["jti"], "jti-1");

    let refresh = AuditedRefreshTokens::new(MemoryRefreshStore::new());
    let (token, family) = refresh.issue("alice", None, None).unwrap();
    assert_eq!(
        refresh.record_access_token(&family, "jti-2", until).unwrap(),
        Recorded::Recorded
    );
    assert!(matches!(refresh.redeem(&token).unwrap(), Redemption::Valid(_)));
    assert!(
        captured
            .events()
            .iter()
            .all(|e| e["fields"]["event"] != "refresh_token_reused"),
        "a first use is not a reuse"
    );
    assert!(matches!(
        refresh.redeem(&token).unwrap(),
        Redemption::Reused { .. }
    ));
    let reused = captured.event("refresh_token_reused");
    assert_eq!(reused["level"], "WARN");
    assert_eq!(reused["fields"]["revoked_access_tokens"], 1);
    assert!(
        !captured.text().contains(token.as_str()),
        "no refresh token in the log"
    );
}

#[tokio::test]
async fn reuse_through_the_async_methods_is_audited_too() {
    let (captured, _guard) = Captured::start();
    let store = AuditedRefreshTokens::new(MemoryRefreshStore::new());
    let (token, family) = store.issue_async("alice", None, None).await.unwrap();
    let expires = SystemTime::now() + Duration::from_secs(60);
    assert_eq!(
        store
            .record_access_token_async(&family, "j1", expires)
            .await
            .unwrap(),
        Recorded::Recorded
    );
    assert!(matches!(
        store.redeem_async(&token).await.unwrap(),
        Redemption::Valid(_)
    ));
    assert!(matches!(
        store.redeem_async(&token).await.unwrap(),
        Redemption::Reused { .. }
    ));
    assert_eq!(
        captured.event("refresh_token_reused")["fields"]["revoked_access_tokens"],
        1
    );
}

/// `refusals::RefusalMetricsLayer` around a real axum router: each 401 counted by its typed
/// reason, each 403 and 429 by route, a refused login by `invalid_grant`, into the recorder
/// given with `record_with`; an `access_denied` event for each 401 and 403 of a known route and
/// for nothing else.
#[tokio::test]
async fn refusals_are_counted_by_route_and_reason_and_denials_audited() {
    use axum::Router;
    use axum::routing::{get, post};
    use http::StatusCode;
    use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
    use mlguard_auth::refusals::RefusalMetricsLayer;
    use mlguard_auth::token::{TokenEndpoint, token_route};
    use mlguard_auth::users::MemoryUserStore;
    use mlguard_auth::{ApiKeyAuth, AuthLayer};
    use tower::ServiceExt;

    let recorder = Arc::new(metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder());
    let handle = recorder.handle();
    let local = recorder.clone();
    let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k", &[1u8; 32]).unwrap());
    let token = Arc::new(TokenEndpoint::new(Arc::new(MemoryUserStore::new()), issuer));
    let auth = AuthLayer::new().api_key(ApiKeyAuth::new(Arc::new(MemoryKeyStore::new())));
    let app = Router::new()
        .route("/predict", get(|| async { "ok" }).route_layer(auth))
        .route("/admin", get(|| async { StatusCode::FORBIDDEN }))
        .route("/busy", get(|| async { StatusCode::TOO_MANY_REQUESTS }))
        .route("/token", token_route(token))
        .route("/ok", post(|| async { "ok" }))
        .layer(
            RefusalMetricsLayer::new("svc_")
                .record_with(move |emit| metrics::with_local_recorder(local.as_ref(), emit)),
        );
    let (captured, _guard) = Captured::start();
    let send = |request: http::Request<axum::body::Body>| {
        let app = app.clone();
        async move { app.oneshot(request).await.unwrap().status() }
    };
    let get_with = |path: &str, key: Option<&str>| {
        let mut b = http::Request::get(path);
        if let Some(key) = key {
            b = b.header("x-api-key", key);
        }
        b.body(axum::body::Body::empty()).unwrap()
    };
    assert_eq!(send(get_with("/predict", None)).await, 401);
    assert_eq!(send(get_with("/predict", Some("mlg_unknown_key"))).await, 401);
    assert_eq!(send(get_with("/admin", None)).await, 403);
    assert_eq!(send(get_with("/busy", None)).await, 429);
    assert_eq!(send(get_with("/nowhere", None)).await, 404);
    let login = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(
            "grant_type=password&username=eve&password=guess",
        ))
        .unwrap();
    assert_eq!(send(login).await, 400);

    let text = handle.render();
    for line in [
        r#"svc_auth_failures_total{route="/predict",reason="missing_credentials"} 1"#,
        r#"svc_auth_failures_total{route="/predict",reason="invalid_api_key"} 1"#,
        r#"svc_auth_failures_total{route="/token",reason="bad_credentials"} 1"#,
        r#"svc_authz_denials_total{route="/admin"} 1"#,
        r#"svc_rate_limited_total{route="/busy"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    assert!(
        !text.contains("/nowhere") && !text.contains("unmatched"),
        "{text}"
    );

    let denied: Vec<(String, String, u64)> = captured
        .events()
        .iter()
        .filter(|e| e["fields"]["event"] == "access_denied")
        .map(|e| {
            let f = &e["fields"];
            (
                f["route"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
                f["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        denied,
        [
            ("/predict".to_owned(), "missing_credentials".to_owned(), 401),
            ("/predict".to_owned(), "invalid_api_key".to_owned(), 401),
            ("/admin".to_owned(), "insufficient_permission".to_owned(), 403),
        ]
    );
}
