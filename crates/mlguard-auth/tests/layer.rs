//! The combined API-key-or-bearer layer.

mod common;

use common::*;
use http::Request;
use mlguard_auth::apikey::{MemoryKeyStore, generate};
use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
use mlguard_auth::{ApiKeyAuth, AuthLayer, BearerAuth};
use std::sync::Arc;
use tower::{Layer, ServiceExt};

const SECRET: [u8; 32] = [4; 32];

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &SECRET)
                .unwrap()
                .with_kid("k"),
        )
        .accept_any_audience()
        .build()
        .unwrap()
}

fn layer(store: Arc<MemoryKeyStore>) -> AuthLayer {
    AuthLayer::new()
        .api_key(ApiKeyAuth::new(store).realm("ml-api"))
        .bearer(BearerAuth::new(verifier()).realm("ml-api"))
}

fn token() -> String {
    let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k", &SECRET).unwrap());
    issuer
        .issue("alice", &["user".into()], None)
        .unwrap()
        .access_token()
        .to_owned()
}

#[tokio::test]
async fn either_credential_works_and_both_headers_are_stripped() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("job", ["user"]).unwrap();
    store.insert(record);
    let (seen, inner) = recorder();
    let svc = layer(store).layer(inner);

    let both = Request::post("/predict")
        .header("x-api-key", key.expose_secret())
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    assert_eq!(svc.clone().oneshot(both).await.unwrap().status(), 200);
    let s = seen.lock().unwrap().clone();
    assert_eq!(
        s.principal.unwrap().api_key_id(),
        Some(key.key_id()),
        "the API key is tried first"
    );
    assert!(!s.api_key && !s.authorization);

    let bearer = Request::post("/predict")
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    assert_eq!(svc.clone().oneshot(bearer).await.unwrap().status(), 200);
    assert_eq!(
        seen.lock().unwrap().principal.as_ref().unwrap().subject(),
        "alice"
    );
}

#[tokio::test]
async fn a_bad_key_is_not_rescued_by_a_good_token() {
    let (_, inner) = recorder();
    let svc = layer(Arc::new(MemoryKeyStore::new())).layer(inner);
    let (unknown, _) = generate("x", ["user"]).unwrap();
    let r = Request::post("/predict")
        .header("x-api-key", unknown.expose_secret())
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    let res = svc.oneshot(r).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("ApiKey")
    );
}

#[tokio::test]
async fn no_credentials_get_both_challenges_without_error() {
    let (_, inner) = recorder();
    let svc = layer(Arc::new(MemoryKeyStore::new())).layer(inner);
    let res = svc
        .oneshot(Request::post("/predict").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenges: Vec<_> = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        challenges,
        [
            r#"Bearer realm="ml-api""#,
            r#"ApiKey realm="ml-api", header="x-api-key""#
        ]
    );
    assert!(body_string(res).await.contains("Not authenticated"));
}

#[tokio::test]
async fn query_key_is_refused_even_with_bearer_configured() {
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("job", ["user"]).unwrap();
    store.insert(record);
    let (_, inner) = recorder();
    let svc = layer(store).layer(inner);
    let r = Request::post(format!("/predict?api_key={}", key.expose_secret()))
        .body(())
        .unwrap();
    let res = svc.oneshot(r).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(body_string(res).await.contains("query string"));
}

/// A denylist whose backend is down.
#[derive(Debug)]
struct DownRevocations;

impl mlguard_auth::revocation::RevocationStore for DownRevocations {
    fn revoke<'a>(
        &'a self,
        _: &'a str,
        _: std::time::SystemTime,
    ) -> mlguard_auth::revocation::BoxFuture<'a, Result<(), mlguard_auth::AuthError>> {
        Box::pin(async { Err(mlguard_auth::AuthError::Backend("down".into())) })
    }
    fn is_revoked<'a>(
        &'a self,
        _: &'a str,
    ) -> mlguard_auth::revocation::BoxFuture<'a, Result<bool, mlguard_auth::AuthError>> {
        Box::pin(async { Err(mlguard_auth::AuthError::Backend("down".into())) })
    }
}

/// Every refusal carries its reason, typed, in the response extensions (what metrics and audit
/// read instead of the body or the request headers); a success carries none.
#[tokio::test]
async fn each_refusal_carries_its_typed_reason() {
    use mlguard_auth::AuthFailure::*;
    let store = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("job", ["user"]).unwrap();
    store.insert(record);
    let (_, inner) = recorder();
    let svc = layer(store.clone()).layer(inner.clone());
    type Case = (
        &'static str,
        Option<(&'static str, String)>,
        Option<mlguard_auth::AuthFailure>,
    );
    let cases: [Case; 8] = [
        ("/p", None, Some(MissingCredentials)),
        (
            "/p",
            Some(("authorization", "Basic YTpi".into())),
            Some(MissingCredentials),
        ),
        ("/p", Some(("x-api-key", "mlg_nope".into())), Some(InvalidApiKey)),
        (
            "/p",
            Some(("x-api-key", format!("{}x", key.expose_secret()))),
            Some(InvalidApiKey),
        ),
        ("/p?api_key=mlg_abc", None, Some(ApiKeyInQuery)),
        (
            "/p",
            Some(("authorization", "Bearer not.a.jwt".into())),
            Some(InvalidToken),
        ),
        (
            "/p",
            Some(("authorization", format!("Bearer {}x", token()))),
            Some(InvalidToken),
        ),
        ("/p", Some(("x-api-key", key.expose_secret().to_owned())), None),
    ];
    for (uri, header, want) in cases {
        let mut request = Request::get(uri);
        if let Some((name, value)) = &header {
            request = request.header(*name, value.as_str());
        }
        let response = svc.clone().oneshot(request.body(()).unwrap()).await.unwrap();
        let got = response.extensions().get::<mlguard_auth::AuthFailure>().copied();
        assert_eq!(got, want, "{uri} {:?}", header.map(|h| h.0));
        let status = if want.is_some() { 401 } else { 200 };
        assert_eq!(response.status(), status, "{uri}");
    }

    // A denylist that cannot answer: 503, `Unavailable` (fail closed).
    let down = AuthLayer::new()
        .bearer(BearerAuth::new(verifier()).revocation(Arc::new(DownRevocations)))
        .layer(inner);
    let request = Request::get("/p")
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    let response = down.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.extensions().get(), Some(&Unavailable));
}
