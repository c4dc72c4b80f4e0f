//! What `scripts/mutants token` (issue 20) found no test pinning down in `token/`: each test
//! below fails with the mutant named in its comment (checked by applying it by hand).

use http::StatusCode;
use mlguard_auth::AuthError;
use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::token::{TokenEndpoint, TokenGrant};
use mlguard_auth::users::{MemoryUserStore, UserRecord, UserStore};
use std::sync::Arc;
use zeroize::Zeroizing;

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn hasher() -> PasswordHasher {
    PasswordHasher::danger_with_weak_params(256, 1, 1).unwrap()
}

fn issuer() -> JwtIssuer {
    JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[5; 32]).unwrap()).audience("t")
}

/// A user store that fails for a reason other than a backend outage (a corrupt record).
#[derive(Debug)]
struct BrokenUsers;

impl UserStore for BrokenUsers {
    fn get(&self, _: &str) -> Result<Option<UserRecord>, AuthError> {
        Err(AuthError::Format("users file: bad record".into()))
    }
    fn set_password_hash(&self, _: &str, _: &str) -> Result<(), AuthError> {
        Err(AuthError::Format("users file: bad record".into()))
    }
}

/// Mutants: `OAuthErrorCode::ServerError` deleted from `TokenResponse::error` (it would answer
/// 400), and `store_failed`'s `Backend` arm deleted (every store failure a 500; the 503 side is
/// `store_unavailable.rs`). A store failing for another reason is our own failure: 500
/// `server_error`, no `Retry-After`, the cause only in the log.
#[tokio::test]
async fn a_store_failing_for_another_reason_than_an_outage_is_500_server_error() {
    let endpoint = TokenEndpoint::new(Arc::new(BrokenUsers), issuer()).hasher(hasher());
    let r = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{:?}", r.json());
    assert_eq!(r.json()["error"], "server_error");
    assert!(!r.json().to_string().contains("bad record"), "{:?}", r.json());
    let response = r.into_response();
    assert!(response.headers().get("retry-after").is_none());
}

/// Mutants: `<impl Debug for TokenResponse>::fmt` and `<impl Debug for TokenGrant>::fmt` into
/// `Ok(())`. They show what a log reader needs (status, error, outcome, the token's `jti`) and
/// never a token.
#[tokio::test]
async fn debug_of_a_response_and_a_grant_shows_the_outcome_and_no_token() {
    let hasher = hasher();
    let users = Arc::new(MemoryUserStore::new());
    users.insert(UserRecord {
        username: "alice".into(),
        password_hash: hasher.hash_blocking("pw").unwrap(),
        roles: vec!["user".into()],
        disabled: false,
    });
    let endpoint = TokenEndpoint::new(users, issuer()).hasher(hasher);
    let ok = endpoint.handle(FORM, b"username=alice&password=pw").await;
    let token = ok.json()["access_token"].as_str().unwrap().to_owned();
    let shown = format!("{ok:?}");
    assert!(
        shown.starts_with("TokenResponse") && shown.contains("200"),
        "{shown}"
    );
    assert!(!shown.contains(&token), "{shown}");
    let refused = endpoint.handle(FORM, b"username=alice&password=no").await;
    assert!(format!("{refused:?}").contains("invalid_grant"), "{refused:?}");

    let access = issuer().issue("alice", &["user".to_owned()], None).unwrap();
    let grant = TokenGrant {
        access,
        refresh_token: Some(Zeroizing::new("refresh-secret-value".to_owned())),
        scope: Some(vec!["predict".to_owned()]),
    };
    let shown = format!("{grant:?}");
    assert!(
        shown.starts_with("TokenGrant") && shown.contains("[redacted]"),
        "{shown}"
    );
    assert!(
        shown.contains(grant.access.jti()) && shown.contains("predict"),
        "{shown}"
    );
    assert!(!shown.contains("refresh-secret-value") && !shown.contains(grant.access.access_token()));
}

/// Mutant: `<impl Debug for TokenEndpoint>::fmt` into `Ok(())`. The endpoint prints its parts
/// (an operator checks which stores it uses), never a stored password hash.
#[test]
fn debug_of_the_endpoint_shows_its_stores_and_no_password_hash() {
    let hasher = hasher();
    let hash = hasher.hash_blocking("pw").unwrap();
    let users = Arc::new(MemoryUserStore::new());
    users.insert(UserRecord {
        username: "alice".into(),
        password_hash: hash.clone(),
        roles: vec!["user".into()],
        disabled: false,
    });
    let endpoint = TokenEndpoint::new(users, issuer()).hasher(hasher);
    let shown = format!("{endpoint:?}");
    assert!(shown.starts_with("TokenEndpoint"), "{shown}");
    assert!(
        shown.contains("MemoryUserStore") && shown.contains("JwtIssuer"),
        "{shown}"
    );
    assert!(!shown.contains(&hash), "{shown}");
}
