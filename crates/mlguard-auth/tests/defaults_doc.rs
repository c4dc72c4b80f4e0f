//! docs/defaults.md's "Status codes per failure" rows for this crate, pinned against what the
//! layers really answer: each row's status, problem `detail` and every `WWW-Authenticate`
//! value the response carries must be written in the row, exactly.
#![cfg(feature = "axum")]

mod common;

use axum::Router;
use axum::routing::get;
use common::*;
use http::Request;
use mlguard_auth::apikey::{ApiKeyRecord, KeyStore, MemoryKeyStore, generate};
use mlguard_auth::jwt::{
    BearerAuth, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifiedClaims, VerifyingKey,
};
use mlguard_auth::{ApiKeyAuth, ApiKeyLayer, AuthError, AuthLayer, BearerAuthLayer};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

use mlguard_testkit::defaults_doc::{DEFAULTS, row};
const SECRET: [u8; 32] = [7u8; 32];

/// Sends `request` and checks that `failure`'s row documents what came back.
async fn pin(app: &Router, request: Request<axum::body::Body>, failure: &str) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let challenges: Vec<String> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body: Value = serde_json::from_str(&body_string(response).await).unwrap();
    let row = row(failure);
    let cells: Vec<&str> = row.split(" | ").collect();
    assert_eq!(cells[1], status.to_string(), "status of {failure:?}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        row.contains(&format!("problem `{detail}`")),
        "{failure:?}: the row does not say the detail {detail:?}:\n{row}"
    );
    for challenge in &challenges {
        assert!(
            row.contains(&format!("`WWW-Authenticate: {challenge}`")),
            "{failure:?}: the row does not show the challenge {challenge:?}:\n{row}"
        );
    }
    if status == 401 {
        assert!(!challenges.is_empty(), "{failure:?}: a 401 needs a challenge");
    }
}

fn get_req(headers: &[(&str, &str)], uri: &str) -> Request<axum::body::Body> {
    let mut b = Request::get(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(axum::body::Body::empty()).unwrap()
}

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &SECRET).unwrap())
        .audience("ml-api")
        .build()
        .unwrap()
}

fn token(extra: Value) -> String {
    let issuer =
        JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &SECRET).unwrap()).audience("ml-api");
    let extra = extra.as_object().cloned().unwrap_or_default();
    issuer
        .issue_with("alice", &["user".into()], None, extra)
        .unwrap()
        .access_token()
        .to_owned()
}

#[derive(Debug)]
struct BrokenStore;

impl KeyStore for BrokenStore {
    fn get(&self, _: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        Err(AuthError::Backend("down".into()))
    }
}

#[tokio::test]
async fn every_documented_auth_failure_is_what_the_layers_answer() {
    #[derive(serde::Deserialize)]
    struct NeedsTenant {
        #[allow(dead_code)]
        tenant: String,
    }
    let keys = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("ci", ["user"]).unwrap();
    keys.insert(record);
    let (revoked, record) = generate("old", ["user"]).unwrap();
    keys.insert(record);
    keys.revoke(revoked.key_id());
    let handler = get(|VerifiedClaims(_): VerifiedClaims<NeedsTenant>| async { "ok" });
    let api_key = || ApiKeyAuth::new(keys.clone()).realm("ml-api");
    let bearer = || BearerAuth::new(verifier()).realm("ml-api");
    let both = Router::new()
        .route("/", handler.clone())
        .layer(AuthLayer::new().api_key(api_key()).bearer(bearer()));
    let tokens_only = Router::new()
        .route("/", handler.clone())
        .layer(BearerAuthLayer::new(bearer()));
    let keys_only = Router::new()
        .route("/", handler.clone())
        .layer(ApiKeyLayer::new(api_key()));
    let broken = Router::new().route("/", handler).layer(ApiKeyLayer::new(
        ApiKeyAuth::new(Arc::new(BrokenStore)).realm("ml-api"),
    ));

    pin(&tokens_only, get_req(&[], "/"), "no credentials").await;
    pin(&both, get_req(&[], "/"), "no credentials").await;
    pin(
        &keys_only,
        get_req(&[], "/"),
        "no API key (route taking API keys only)",
    )
    .await;

    let bad_token = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    let oversized = format!("Bearer {}", "a".repeat(9000));
    for app in [&tokens_only, &both] {
        for auth in [bad_token, &oversized] {
            pin(
                app,
                get_req(&[("authorization", auth)], "/"),
                "bad, expired, revoked or oversized token",
            )
            .await;
        }
    }
    for app in [&keys_only, &both] {
        for bad in ["mlg_nonsense", revoked.expose_secret()] {
            pin(
                app,
                get_req(&[("x-api-key", bad)], "/"),
                "bad, unknown, expired or revoked API key",
            )
            .await;
        }
        let in_query = format!("/?api_key={}", key.expose_secret());
        pin(app, get_req(&[], &in_query), "API key in the query string").await;
    }
    let abc = "mlg_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    pin(
        &broken,
        get_req(&[("x-api-key", abc)], "/"),
        "key store or revocation store failing",
    )
    .await;

    let no_tenant = format!("Bearer {}", token(Value::Null));
    pin(
        &both,
        get_req(&[("authorization", &no_tenant)], "/"),
        "verified token whose claims do not fit the handler's `VerifiedClaims<T>`",
    )
    .await;
    pin(
        &both,
        get_req(&[("x-api-key", key.expose_secret())], "/"),
        "API-key caller on a handler that reads `VerifiedClaims<T>`",
    )
    .await;
    // And the happy path, so the routes above are known to work at all.
    let fits = format!("Bearer {}", token(serde_json::json!({"tenant": "acme"})));
    let ok = both
        .clone()
        .oneshot(get_req(&[("authorization", &fits)], "/"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// The "Argon2 work budget" row of the defaults table says what `HashBudget::for_cost` does.
#[test]
fn the_documented_argon2_work_budget_is_the_code_s() {
    use mlguard_auth::password::{
        ASSUMED_KIB_PER_SECOND_PER_CORE, DEFAULT_BUDGET_BURST_SECONDS, DEFAULT_BUDGET_MIN_BURST,
        DEFAULT_BUDGET_SHARE_PERCENT, HashBudget, OWASP_M_COST, OWASP_T_COST, PasswordHasher,
    };
    use std::num::NonZeroUsize;
    let row = DEFAULTS
        .lines()
        .find(|l| l.starts_with("| Argon2 work budget |"))
        .expect("defaults.md has the Argon2 work budget row");
    let cores = |n| NonZeroUsize::new(n).unwrap();
    let one = HashBudget::for_cost(OWASP_M_COST, OWASP_T_COST, cores(1));
    let two = HashBudget::for_cost(OWASP_M_COST, OWASP_T_COST, cores(2));
    for said in [
        format!("at most {} Argon2 runs a second per core", one.count()),
        format!("({} on 2 cores)", two.count()),
        format!(
            "a burst of {DEFAULT_BUDGET_BURST_SECONDS} seconds of that (at least {DEFAULT_BUDGET_MIN_BURST})"
        ),
        format!("{DEFAULT_BUDGET_SHARE_PERCENT} % of the cores"),
    ] {
        assert!(row.contains(&said), "the row does not say {said:?}:\n{row}");
    }
    assert_eq!(
        ASSUMED_KIB_PER_SECOND_PER_CORE, 1_500_000,
        "the row says 1,500,000"
    );
    assert!(row.contains("1,500,000 KiB"));
    assert_eq!(two.burst(), two.count() * DEFAULT_BUDGET_BURST_SECONDS);
    let here = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    assert_eq!(
        PasswordHasher::new().budget(),
        Some(HashBudget::for_cost(OWASP_M_COST, OWASP_T_COST, here))
    );
}

/// The "login over the Argon2 concurrency bound or work budget" status row, against what the
/// token endpoint answers over its work budget.
#[tokio::test]
async fn the_documented_login_over_budget_answer_is_the_endpoint_s() {
    use mlguard_auth::password::{HashBudget, PasswordHasher};
    use mlguard_auth::token::TokenEndpoint;
    use mlguard_auth::users::MemoryUserStore;
    use std::time::Duration;
    let hasher = PasswordHasher::danger_with_weak_params(256, 1, 1)
        .unwrap()
        .hash_budget(HashBudget::new(1, Duration::from_secs(60)).unwrap());
    let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &SECRET).unwrap());
    let endpoint = TokenEndpoint::new(Arc::new(MemoryUserStore::new()), issuer).hasher(hasher);
    let form = Some("application/x-www-form-urlencoded");
    let first = endpoint.handle(form, b"username=nobody&password=pw").await;
    assert_eq!(first.status(), 400);
    let response = endpoint
        .handle(form, b"username=nobody&password=pw")
        .await
        .into_response();
    let row = row("login over the Argon2 concurrency bound or work budget");
    let cells: Vec<&str> = row.split(" | ").collect();
    assert_eq!(cells[1], response.status().as_str());
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        row.contains("the seconds until the budget allows the next run over the work budget")
            && row.contains("`no-store`"),
        "{row}"
    );
    let body: Value = serde_json::from_str(&body_string(response).await).unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(row.contains(&format!("\"error\":\"{error}\"")), "{row}");
}
