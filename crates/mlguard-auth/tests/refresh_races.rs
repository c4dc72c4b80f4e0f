//! Issue 14, "Also found": refresh rotation races and request validation.
//!
//! - A refresh token reused while its rotation is still recording must not leave the
//!   rotation's access token valid once the family is revoked.
//! - A refresh request refused for its `scope` must not spend the refresh token (the client's
//!   corrected retry would otherwise look like reuse and revoke the family).

use mlguard_auth::AuthError;
use mlguard_auth::jwt::{BearerAuth, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::refresh::{MemoryRefreshStore, Redemption, RefreshGrant, RefreshTokenStore};
use mlguard_auth::revocation::MemoryRevocationStore;
use mlguard_auth::token::{TokenEndpoint, TokenResponse};
use mlguard_auth::users::{MemoryUserStore, UserRecord};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

const SECRET: [u8; 32] = [9; 32];
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// A refresh store whose recording of an access token, once armed, stops in the middle and
/// waits for the test: the slow store that lets a reuse arrive mid-rotation, deterministically.
#[derive(Debug)]
struct SlowRecording {
    inner: MemoryRefreshStore,
    armed: AtomicBool,
    recording: Mutex<Sender<()>>,
    resume: Mutex<Receiver<()>>,
}

impl RefreshTokenStore for SlowRecording {
    fn issue(
        &self,
        username: &str,
        scope: Option<&[String]>,
        family: Option<&str>,
    ) -> Result<(Zeroizing<String>, String), AuthError> {
        self.inner.issue(username, scope, family)
    }

    fn peek(&self, token: &str) -> Result<Option<RefreshGrant>, AuthError> {
        self.inner.peek(token)
    }

    fn redeem(&self, token: &str) -> Result<Redemption, AuthError> {
        self.inner.redeem(token)
    }

    fn record_access_token(
        &self,
        family: &str,
        jti: &str,
        expires_at: SystemTime,
    ) -> Result<mlguard_auth::refresh::Recorded, AuthError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            let _ = self.recording.lock().unwrap().send(());
            // Bounded: a broken test never hangs.
            let _ = self.resume.lock().unwrap().recv_timeout(Duration::from_secs(10));
        }
        self.inner.record_access_token(family, jti, expires_at)
    }
}

fn hasher() -> PasswordHasher {
    PasswordHasher::danger_with_weak_params(256, 1, 1).unwrap()
}

fn users(h: &PasswordHasher) -> Arc<MemoryUserStore> {
    let users = Arc::new(MemoryUserStore::new());
    users.insert(UserRecord {
        username: "alice".into(),
        password_hash: h.hash_blocking("pw").unwrap(),
        roles: vec!["user".into()],
        disabled: false,
    });
    users
}

fn policy(roles: &[String]) -> BTreeSet<String> {
    if roles.iter().any(|r| r == "user") {
        ["model:predict".to_owned(), "model:explain".to_owned()].into()
    } else {
        BTreeSet::new()
    }
}

fn issuer() -> JwtIssuer {
    JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &SECRET).unwrap())
}

fn bearer(denylist: &Arc<MemoryRevocationStore>) -> BearerAuth {
    let verifier = JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .accept_any_audience()
        .build()
        .unwrap();
    BearerAuth::new(verifier).revocation(denylist.clone())
}

async fn accepted(bearer: &BearerAuth, token: &str) -> bool {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    bearer.authenticate_headers(&headers).await.is_ok()
}

fn refresh_body(token: &str, scope: Option<&str>) -> Vec<u8> {
    let mut body = format!("grant_type=refresh_token&refresh_token={token}");
    if let Some(scope) = scope {
        body.push_str("&scope=");
        body.push_str(scope);
    }
    body.into_bytes()
}

fn field(r: &TokenResponse, name: &str) -> String {
    r.json()[name].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_during_a_rotation_leaves_no_access_token_of_the_family_valid() {
    let h = hasher();
    let (recording_tx, recording_rx) = channel();
    let (resume_tx, resume_rx) = channel();
    let store = Arc::new(SlowRecording {
        inner: MemoryRefreshStore::new(),
        armed: AtomicBool::new(false),
        recording: Mutex::new(recording_tx),
        resume: Mutex::new(resume_rx),
    });
    let denylist = Arc::new(MemoryRevocationStore::new());
    let endpoint = Arc::new(
        TokenEndpoint::new(users(&h), issuer())
            .hasher(h)
            .refresh_tokens(store.clone())
            .revocation(denylist.clone()),
    );
    let bearer = bearer(&denylist);

    let login = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(login.status(), 200);
    let r1 = field(&login, "refresh_token");

    // The legitimate rotation: redeemed, then stopped while recording its new access token.
    store.armed.store(true, Ordering::SeqCst);
    let winner = tokio::spawn({
        let endpoint = endpoint.clone();
        let body = refresh_body(&r1, None);
        async move { endpoint.handle(FORM, &body).await }
    });
    tokio::task::spawn_blocking(move || recording_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the rotation never reached recording");

    // Mid-rotation, the same refresh token again (a thief): reuse, the family is revoked.
    let reuse = endpoint.handle(FORM, &refresh_body(&r1, None)).await;
    assert_eq!(field(&reuse, "error"), "invalid_grant");

    resume_tx.send(()).unwrap();
    let winner = tokio::time::timeout(Duration::from_secs(10), winner)
        .await
        .expect("the rotation hung")
        .unwrap();

    // Whatever the rotation answered, nothing it handed out may work after the revocation.
    if winner.status() == 200 {
        let access = field(&winner, "access_token");
        assert!(
            !accepted(&bearer, &access).await,
            "the rotation's access token is still valid after its family was revoked"
        );
        let again = endpoint
            .handle(FORM, &refresh_body(&field(&winner, "refresh_token"), None))
            .await;
        assert_eq!(field(&again, "error"), "invalid_grant");
    } else {
        assert_eq!(field(&winner, "error"), "invalid_grant");
    }
}

#[tokio::test]
async fn a_refresh_refused_for_its_scope_does_not_spend_the_token() {
    let h = hasher();
    let denylist = Arc::new(MemoryRevocationStore::new());
    let endpoint = TokenEndpoint::new(users(&h), issuer())
        .hasher(h)
        .scope_policy(policy)
        .refresh_tokens(Arc::new(MemoryRefreshStore::new()))
        .revocation(denylist.clone());
    let bearer = bearer(&denylist);

    let login = endpoint
        .handle(FORM, b"username=alice&password=pw&scope=model:predict")
        .await;
    assert_eq!(login.status(), 200);
    let (a1, r1) = (field(&login, "access_token"), field(&login, "refresh_token"));

    // Malformed (a backslash is not a scope character), beyond the user's roles, and beyond
    // the scope granted at login: all invalid_scope, none spends r1.
    for scope in ["model%5Cpredict", "model:admin", "model:explain"] {
        let r = endpoint.handle(FORM, &refresh_body(&r1, Some(scope))).await;
        assert_eq!(
            (r.status().as_u16(), field(&r, "error")),
            (400, "invalid_scope".to_owned()),
            "{scope}"
        );
    }

    // The client's corrected retry is not a reuse: it works, and the family stays alive.
    let ok = endpoint
        .handle(FORM, &refresh_body(&r1, Some("model:predict")))
        .await;
    assert_eq!(
        ok.status(),
        200,
        "the retry was taken for a reuse: {:?}",
        ok.json()["error"]
    );
    assert!(accepted(&bearer, &a1).await, "the family was revoked");
    assert!(accepted(&bearer, &field(&ok, "access_token")).await);
    let r2 = field(&ok, "refresh_token");
    assert_eq!(
        endpoint.handle(FORM, &refresh_body(&r2, None)).await.status(),
        200
    );
}
