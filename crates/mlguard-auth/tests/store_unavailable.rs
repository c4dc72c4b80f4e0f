//! Issue 19: a store backed by a database that is down (`AuthError::Backend`) is a temporary
//! condition: 503 with `Retry-After`, never a 500; and the token endpoint talks to the refresh
//! store through its `*_async` methods, so a database store never blocks the async runtime.

use http::StatusCode;
use mlguard_auth::AuthError;
use mlguard_auth::apikey::{ApiKeyRecord, KeyStore};
use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::refresh::{MemoryRefreshStore, Recorded, Redemption, RefreshGrant, RefreshTokenStore};
use mlguard_auth::revocation::BoxFuture;
use mlguard_auth::token::{TokenEndpoint, TokenResponse, UNAVAILABLE_RETRY_AFTER_SECS};
use mlguard_auth::users::{MemoryUserStore, UserRecord, UserStore};
use mlguard_auth::{ApiKeyAuth, ApiKeyLayer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;
use tower::{Layer, ServiceExt};
use zeroize::Zeroizing;

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn hasher() -> PasswordHasher {
    PasswordHasher::danger_with_weak_params(256, 1, 1).unwrap()
}

fn issuer() -> JwtIssuer {
    JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[5; 32]).unwrap()).audience("t")
}

fn users(hasher: &PasswordHasher) -> Arc<MemoryUserStore> {
    let users = Arc::new(MemoryUserStore::new());
    users.insert(UserRecord {
        username: "alice".into(),
        password_hash: hasher.hash_blocking("pw").unwrap(),
        roles: vec!["user".into()],
        disabled: false,
    });
    users
}

fn backend() -> AuthError {
    AuthError::Backend("auth database: connection refused".into())
}

/// A refresh store whose blocking methods must not be called (they panic); its async methods
/// delegate to a memory store, or fail as a database that is down when `down` is set.
#[derive(Debug, Default)]
struct AsyncOnly {
    inner: MemoryRefreshStore,
    down: AtomicBool,
}

impl AsyncOnly {
    fn check(&self) -> Result<(), AuthError> {
        if self.down.load(Ordering::SeqCst) {
            Err(backend())
        } else {
            Ok(())
        }
    }
}

impl RefreshTokenStore for AsyncOnly {
    fn issue(
        &self,
        _: &str,
        _: Option<&[String]>,
        _: Option<&str>,
    ) -> Result<(Zeroizing<String>, String), AuthError> {
        panic!("blocking issue() called from the async token endpoint")
    }
    fn peek(&self, _: &str) -> Result<Option<RefreshGrant>, AuthError> {
        panic!("blocking peek() called from the async token endpoint")
    }
    fn redeem(&self, _: &str) -> Result<Redemption, AuthError> {
        panic!("blocking redeem() called from the async token endpoint")
    }
    fn record_access_token(&self, _: &str, _: &str, _: SystemTime) -> Result<Recorded, AuthError> {
        panic!("blocking record_access_token() called from the async token endpoint")
    }
    fn issue_async<'a>(
        &'a self,
        username: &'a str,
        scope: Option<&'a [String]>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(Zeroizing<String>, String), AuthError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.issue(username, scope, family)
        })
    }
    fn peek_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<RefreshGrant>, AuthError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.peek(token)
        })
    }
    fn redeem_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Redemption, AuthError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.redeem(token)
        })
    }
    fn record_access_token_async<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<Recorded, AuthError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.record_access_token(family, jti, expires_at)
        })
    }
}

fn assert_unavailable(r: &TokenResponse) {
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.json());
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    let response = r.clone().into_response();
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The outage's own wait, not the busy hasher's 1 s (scripts/mutants token: the two were
    // not told apart by `retry >= 1`).
    assert_eq!(retry, u64::from(UNAVAILABLE_RETRY_AFTER_SECS));
    assert!(
        !r.json().to_string().contains("connection refused"),
        "the backend's error stays in the log"
    );
}

#[tokio::test]
async fn login_and_refresh_use_the_async_refresh_methods() {
    let hasher = hasher();
    let store = Arc::new(AsyncOnly::default());
    let endpoint = TokenEndpoint::new(users(&hasher), issuer())
        .hasher(hasher)
        .refresh_tokens(store);
    let login = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(login.status(), StatusCode::OK, "{:?}", login.json());
    let refresh = login.json()["refresh_token"].as_str().unwrap().to_owned();
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    let rotated = endpoint.handle(FORM, body.as_bytes()).await;
    assert_eq!(rotated.status(), StatusCode::OK, "{:?}", rotated.json());
    assert!(rotated.json()["refresh_token"].is_string());
    // And the used one is now reuse.
    let again = endpoint.handle(FORM, body.as_bytes()).await;
    assert_eq!(again.json()["error"], "invalid_grant");
}

#[derive(Debug)]
struct DownUsers;

impl UserStore for DownUsers {
    fn get(&self, _: &str) -> Result<Option<UserRecord>, AuthError> {
        Err(backend())
    }
    fn set_password_hash(&self, _: &str, _: &str) -> Result<(), AuthError> {
        Err(backend())
    }
}

#[tokio::test]
async fn a_user_store_that_is_down_is_503_with_retry_after() {
    let endpoint = TokenEndpoint::new(Arc::new(DownUsers), issuer()).hasher(hasher());
    let r = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_unavailable(&r);
}

#[tokio::test]
async fn a_refresh_store_that_is_down_is_503_with_retry_after() {
    let hasher = hasher();
    let store = Arc::new(AsyncOnly::default());
    let endpoint = TokenEndpoint::new(users(&hasher), issuer())
        .hasher(hasher)
        .refresh_tokens(store.clone());
    let login = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(login.status(), StatusCode::OK, "{:?}", login.json());
    let refresh = login.json()["refresh_token"].as_str().unwrap().to_owned();

    store.down.store(true, Ordering::SeqCst);
    // A login (which issues a refresh token) and a refresh grant both need the database.
    assert_unavailable(&endpoint.handle(FORM, b"username=alice&password=pw").await);
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    assert_unavailable(&endpoint.handle(FORM, body.as_bytes()).await);

    // Back up: the refresh token was not spent by the failed attempt.
    store.down.store(false, Ordering::SeqCst);
    let rotated = endpoint.handle(FORM, body.as_bytes()).await;
    assert_eq!(rotated.status(), StatusCode::OK, "{:?}", rotated.json());
}

#[derive(Debug)]
struct DownKeys;

impl KeyStore for DownKeys {
    fn get(&self, _: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        Err(backend())
    }
}

#[tokio::test]
async fn an_api_key_store_that_is_down_is_503_with_retry_after() {
    let (key, _) = mlguard_auth::apikey::generate("bot", ["user"]).unwrap();
    let svc = ApiKeyLayer::new(ApiKeyAuth::new(Arc::new(DownKeys))).layer(tower::service_fn(
        |_req: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        },
    ));
    let req = http::Request::get("/predict")
        .header("x-api-key", key.expose_secret())
        .body(())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("a 503 from a store that is down carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
}

/// A denylist whose backend is down (Redis unreachable, a database copy past its stale bound).
#[derive(Debug)]
struct DownRevocations;

impl mlguard_auth::revocation::RevocationStore for DownRevocations {
    fn revoke<'a>(&'a self, _: &'a str, _: SystemTime) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(std::future::ready(Err(backend())))
    }

    fn is_revoked<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        Box::pin(std::future::ready(Err(backend())))
    }
}

#[tokio::test]
async fn a_revocation_store_that_is_down_is_503_with_retry_after_for_bearer_tokens() {
    use mlguard_auth::jwt::{JwtVerifier, REVOCATION_RETRY_AFTER, VerifyingKey};
    use mlguard_auth::{BearerAuth, BearerAuthLayer};
    let verifier = JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &[5; 32])
                .unwrap()
                .with_kid("k1"),
        )
        .audience("t")
        .build()
        .unwrap();
    let token = issuer().issue("alice", &["user".into()], None).unwrap();
    let auth = BearerAuth::new(verifier).revocation(Arc::new(DownRevocations));
    let svc = BearerAuthLayer::new(auth).layer(tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    }));
    let req = http::Request::get("/predict")
        .header("authorization", format!("Bearer {}", token.access_token()))
        .body(())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "fail closed");
    let retry = res
        .headers()
        .get("retry-after")
        .expect("a 503 from a denylist that is down carries Retry-After");
    assert_eq!(retry, &REVOCATION_RETRY_AFTER.as_secs().to_string());
}

/// The audit wrapper (`mlguard_auth::audit`) forwards the async methods to the store it wraps:
/// a database store behind it is never called through its blocking methods.
#[tokio::test]
async fn the_audited_refresh_store_forwards_the_async_methods() {
    let store = mlguard_auth::audit::AuditedRefreshTokens::new(AsyncOnly::default());
    let (token, family) = store.issue_async("alice", None, None).await.unwrap();
    let expires = SystemTime::now() + std::time::Duration::from_secs(60);
    assert_eq!(
        store
            .record_access_token_async(&family, "j1", expires)
            .await
            .unwrap(),
        Recorded::Recorded
    );
    assert!(store.peek_async(&token).await.unwrap().is_some());
    assert!(matches!(
        store.redeem_async(&token).await.unwrap(),
        Redemption::Valid(_)
    ));
    assert!(matches!(
        store.redeem_async(&token).await.unwrap(),
        Redemption::Reused { .. }
    ));
}
