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
    users.insert(alice(false, &hasher.hash_blocking("pw").unwrap()));
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

fn alice(disabled: bool, hash: &str) -> UserRecord {
    UserRecord {
        username: "alice".into(),
        password_hash: hash.to_owned(),
        roles: vec!["user".into()],
        disabled,
    }
}

/// Mutant: the match guard `!user.disabled` in `refresh_grant` into `true`. A user disabled
/// after logging in gets no new access token from a refresh token issued before.
#[tokio::test]
async fn a_user_disabled_after_login_cannot_refresh() {
    use mlguard_auth::refresh::MemoryRefreshStore;
    let hasher = hasher();
    let hash = hasher.hash_blocking("pw").unwrap();
    let users = Arc::new(MemoryUserStore::new());
    users.insert(alice(false, &hash));
    let endpoint = TokenEndpoint::new(users.clone(), issuer())
        .hasher(hasher)
        .refresh_tokens(Arc::new(MemoryRefreshStore::new()));
    let login = endpoint.handle(FORM, b"username=alice&password=pw").await;
    assert_eq!(login.status(), StatusCode::OK, "{:?}", login.json());
    let refresh = login.json()["refresh_token"].as_str().unwrap().to_owned();
    users.insert(alice(true, &hash));
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");
    let r = endpoint.handle(FORM, body.as_bytes()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{:?}", r.json());
    assert_eq!(r.json()["error"], "invalid_grant");
    assert!(r.json().get("access_token").is_none());
}

/// Mutant: the match guard `!refresh_token.is_empty()` in `parse_form` into `true`. An empty
/// `refresh_token` is a malformed request (`invalid_request`), not a token to look up.
#[tokio::test]
async fn an_empty_refresh_token_is_an_invalid_request() {
    let endpoint = TokenEndpoint::new(Arc::new(MemoryUserStore::new()), issuer()).hasher(hasher());
    let r = endpoint
        .handle(FORM, b"grant_type=refresh_token&refresh_token=")
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{:?}", r.json());
    assert_eq!(r.json()["error"], "invalid_request");
}

/// Mutant: `MAX_FORM_BYTES = 16 * 1024` into `16 + 1024`. A form of a few KiB (a long scope
/// list) is read and answered; one byte over 16 KiB is refused with 413.
#[cfg(feature = "axum")]
#[tokio::test]
async fn the_route_reads_forms_up_to_16_kib_and_refuses_larger_ones_with_413() {
    use mlguard_auth::token::{MAX_FORM_BYTES, token_route};
    use tower::ServiceExt;
    let endpoint = Arc::new(TokenEndpoint::new(Arc::new(MemoryUserStore::new()), issuer()).hasher(hasher()));
    let app = axum::Router::new().route("/token", token_route(endpoint));
    let form = |len: usize| {
        let mut body = b"username=alice&password=pw&scope=".to_vec();
        body.resize(len, b'a');
        http::Request::post("/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let answered = app.clone().oneshot(form(4 * 1024)).await.unwrap();
    assert_eq!(answered.status(), StatusCode::BAD_REQUEST);
    let at_limit = app.clone().oneshot(form(MAX_FORM_BYTES)).await.unwrap();
    assert_eq!(at_limit.status(), StatusCode::BAD_REQUEST);
    let over = app.oneshot(form(MAX_FORM_BYTES + 1)).await.unwrap();
    assert_eq!(over.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// Mutants: `<impl Debug for TokenSuccessBody>::fmt` and `<impl Debug for GrantRequest>::fmt`
/// into `Ok(())`. A success body prints its type, lifetime and scope, never its tokens; a parsed
/// request prints the grant, user name and scope, never the password or refresh token.
#[test]
fn debug_of_a_success_body_and_a_parsed_request_shows_no_secret() {
    use mlguard_auth::token::{GrantRequest, TokenSuccessBody, parse_form};
    let body = TokenSuccessBody {
        access_token: "access-secret",
        token_type: "bearer",
        expires_in: 900,
        refresh_token: Some("refresh-secret"),
        scope: Some("predict".to_owned()),
    };
    let shown = format!("{body:?}");
    assert!(shown.starts_with("TokenSuccessBody"), "{shown}");
    assert!(
        shown.contains("bearer") && shown.contains("900") && shown.contains("predict"),
        "{shown}"
    );
    assert!(
        !shown.contains("access-secret") && !shown.contains("refresh-secret"),
        "{shown}"
    );

    let password = parse_form(FORM, b"username=alice&password=hunter2&scope=predict").unwrap();
    assert!(matches!(password, GrantRequest::Password { .. }));
    let shown = format!("{password:?}");
    assert!(shown.starts_with("Password") && shown.contains("alice") && shown.contains("predict"));
    assert!(!shown.contains("hunter2"), "{shown}");
    let refresh = parse_form(FORM, b"grant_type=refresh_token&refresh_token=rt-secret").unwrap();
    let shown = format!("{refresh:?}");
    assert!(
        shown.starts_with("RefreshToken") && !shown.contains("rt-secret"),
        "{shown}"
    );
}

/// Mutant: `answer`'s guard `is_length_limit_error(&e)` into `true`. A body that fails mid-read
/// for another reason (the client's connection broke) is a request that could not be read, 400
/// `invalid_request`, not 413; a body over the limit is still 413 (the test above).
#[cfg(feature = "axum")]
#[tokio::test]
async fn a_body_that_fails_mid_read_is_400_not_413() {
    use mlguard_auth::token::token_route;
    use tower::ServiceExt;
    let endpoint = Arc::new(TokenEndpoint::new(Arc::new(MemoryUserStore::new()), issuer()).hasher(hasher()));
    let app = axum::Router::new().route("/token", token_route(endpoint));
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(bytes::Bytes::from_static(b"username=alice&pass")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer went away",
        )),
    ];
    let request = http::Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "invalid_request", "{json}");
}

/// Mutant: `b == 0x21` into `b != 0x21` in `parse_scope`. RFC 6749 section 3.3's scope-token
/// is `%x21 / %x23-5B / %x5D-7E`: `!` is in it, `"` and `\` are not. A scope the policy
/// grants with a `!` in it is issued; one with `"` or `\` is malformed (`invalid_scope`)
/// even when the policy names it.
#[tokio::test]
async fn scope_tokens_follow_the_rfc_6749_grammar() {
    let hasher = hasher();
    let users = Arc::new(MemoryUserStore::new());
    users.insert(alice(false, &hasher.hash_blocking("pw").unwrap()));
    let policy = |_: &[String]| -> std::collections::BTreeSet<String> {
        ["read!all", "a\"b", "a\\b"].map(str::to_owned).into()
    };
    let endpoint = TokenEndpoint::new(users, issuer())
        .hasher(hasher)
        .scope_policy(policy);
    let r = endpoint
        .handle(FORM, b"username=alice&password=pw&scope=read%21all")
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["scope"], "read!all");
    for scope in ["a%22b", "a%5Cb"] {
        let body = format!("username=alice&password=pw&scope={scope}");
        let r = endpoint.handle(FORM, body.as_bytes()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{scope}: {:?}", r.json());
        assert_eq!(r.json()["error"], "invalid_scope", "{scope}");
    }
}

/// Mutants: `GrantKind::as_str` into `""` or `"xyzzy"`, `TokenFailure::is_invalid_grant` into
/// `true`, and the rest of `outcome.rs`. The names are what audit events and metrics label a
/// token request with (`ml_api_auth_failures_total{reason="bad_credentials"}` counts the
/// `invalid_grant` ones), and an outcome carries the request's parts, log-safe.
#[test]
fn outcomes_name_their_grant_and_failure_and_keep_their_parts() {
    use mlguard_auth::token::{GrantKind, MAX_OUTCOME_USERNAME, TokenFailure, TokenOutcome};
    assert_eq!(GrantKind::Password.as_str(), "password");
    assert_eq!(GrantKind::RefreshToken.as_str(), "refresh_token");
    assert_eq!(GrantKind::Unknown.as_str(), "unknown");
    let failures = [
        (TokenFailure::BadCredentials, "bad_credentials", true),
        (TokenFailure::InvalidRefreshToken, "invalid_refresh_token", true),
        (TokenFailure::RefreshTokenReused, "refresh_token_reused", true),
        (TokenFailure::InvalidScope, "invalid_scope", false),
        (
            TokenFailure::UnsupportedGrantType,
            "unsupported_grant_type",
            false,
        ),
        (TokenFailure::Malformed, "malformed", false),
        (TokenFailure::TooLarge, "too_large", false),
        (TokenFailure::ServerError, "server_error", false),
        (TokenFailure::Busy, "busy", false),
        (TokenFailure::Unavailable, "unavailable", false),
    ];
    for (failure, name, invalid_grant) in failures {
        assert_eq!(failure.as_str(), name);
        assert_eq!(failure.to_string(), name);
        assert_eq!(failure.is_invalid_grant(), invalid_grant, "{name}");
    }

    let ok = TokenOutcome::success(GrantKind::RefreshToken, None, "jti-1");
    assert!(ok.is_success());
    assert_eq!(ok.grant(), GrantKind::RefreshToken);
    assert_eq!(
        (ok.username(), ok.jti(), ok.failure_reason()),
        (None, Some("jti-1"), None)
    );

    let long = "b".repeat(MAX_OUTCOME_USERNAME + 5);
    let refused = TokenOutcome::failure(GrantKind::Password, Some(&long), TokenFailure::Busy);
    assert!(!refused.is_success());
    assert_eq!(refused.grant(), GrantKind::Password);
    assert_eq!(refused.jti(), None);
    assert_eq!(refused.failure_reason(), Some(TokenFailure::Busy));
    let cut = format!("{}...", "b".repeat(MAX_OUTCOME_USERNAME));
    assert_eq!(refused.username(), Some(cut.as_str()));
}

/// Mutants in `schema.rs` (feature `openapi`): `<impl Debug for TokenRequestForm>::fmt` into
/// `Ok(())`, and `OAuthErrorCode`'s schema name into `""` or `"xyzzy"`. The form shows the
/// grant, user name and scope and never the password or refresh token; the error-code schema
/// is named as the document's `$ref`s name it.
#[cfg(feature = "openapi")]
#[test]
fn the_openapi_types_show_no_secret_and_keep_their_schema_names() {
    use mlguard_auth::token::{OAuthErrorCode, TokenRequestForm};
    use utoipa::ToSchema;
    let form = TokenRequestForm {
        grant_type: Some("password".into()),
        username: Some("alice".into()),
        password: Some("hunter2".into()),
        refresh_token: Some("rt-secret".into()),
        scope: Some("predict".into()),
    };
    let shown = format!("{form:?}");
    assert!(shown.starts_with("TokenRequestForm"), "{shown}");
    for part in ["password", "alice", "predict"] {
        assert!(shown.contains(part), "{part}: {shown}");
    }
    assert!(
        !shown.contains("hunter2") && !shown.contains("rt-secret"),
        "{shown}"
    );
    assert_eq!(OAuthErrorCode::name(), "OAuthErrorCode");
}
