//! Issue 16: ml-api takes an identity provider's tokens (`MLGUARD_JWKS_URL`,
//! `MLGUARD_JWT_ISSUER`, `MLGUARD_JWT_AUDIENCE`, `MLGUARD_JWT_ROLES_CLAIM`) next to its own
//! HS256 tokens. A real Keycloak-shaped JWKS server on 127.0.0.1, the real ml-api server over
//! real sockets, RS256 and ES256 tokens with roles under `realm_access.roles`,
//! `scope: "openid profile email"` and `aud` as a string and as an array. The provider and its
//! test keys are mlguard-testkit's `idp` (mlguard-auth's test keys).
//!
//! An https provider is trusted through `MLGUARD_JWKS_CA` (and refused with another CA). The
//! invalid combinations of the settings are start-up errors, checked through the binary.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{SETOSA, TestServer, start_with};
use mlguard_testkit::idp::{EC_PRIVATE, JwksProvider, RSA_PRIVATE, RSA2_PRIVATE, jwk, keycloak_claims};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const JWT_SECRET: &str = "an-ml-api-hs256-secret-of-at-least-32-bytes";
const AUDIENCE: &str = "ml-api";

/// A JWKS endpoint on 127.0.0.1, at Keycloak's path.
async fn provider() -> JwksProvider {
    JwksProvider::start(None).await
}

/// ml-api (plain HTTP) trusting `provider`, roles at `/realm_access/roles`.
async fn server(provider: &JwksProvider) -> TestServer {
    server_with_ca(provider, None).await
}

/// Like [`server`], trusting `ca` for an https provider.
async fn server_with_ca(provider: &JwksProvider, ca: Option<std::path::PathBuf>) -> TestServer {
    let url = provider.certs_url();
    let issuer = provider.issuer().to_owned();
    start_with(|s| {
        s.jwks_ca = ca;
        s.no_tls = Some(true);
        s.jwt_secret = Some(JWT_SECRET.into());
        s.jwks_url = Some(url);
        s.jwt_issuer = Some(issuer);
        s.jwt_audience = Some(AUDIENCE.to_owned());
        s.jwt_roles_claim = Some("/realm_access/roles".to_owned());
        s.jwks_refresh_interval = Some("1s".to_owned());
    })
    .await
}

#[derive(Clone, Copy, Debug)]
enum Signer {
    Rs256,
    Es256,
    Rs256Rotated,
    /// ml-api's own HS256 key (`kid` `ml-api-hs256`) and secret.
    OwnHs256,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

static JTI: AtomicUsize = AtomicUsize::new(0);

/// A Keycloak-shaped access token for `roles`, with `overrides` applied to the claims (a
/// `null` override removes the claim).
fn token(provider: &JwksProvider, signer: Signer, roles: &[&str], overrides: Value) -> String {
    let now = now();
    let jti = format!("idp-{}", JTI.fetch_add(1, Ordering::SeqCst));
    let mut claims = keycloak_claims(provider.issuer(), AUDIENCE, roles, now, &jti);
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    use jsonwebtoken::{Algorithm, EncodingKey};
    let (alg, kid, key) = match signer {
        Signer::Rs256 => (
            Algorithm::RS256,
            "rsa-remote",
            EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        ),
        Signer::Es256 => (
            Algorithm::ES256,
            "ec-remote",
            EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
        ),
        Signer::Rs256Rotated => (
            Algorithm::RS256,
            "rsa2-remote",
            EncodingKey::from_rsa_pem(RSA2_PRIVATE).unwrap(),
        ),
        Signer::OwnHs256 => (
            Algorithm::HS256,
            ml_api::auth::KEY_ID,
            EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        ),
    };
    let header = json!({"alg": format!("{alg:?}"), "typ": "JWT", "kid": kid});
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap();
    format!("{message}.{sig}")
}

async fn predict(server: &TestServer, token: &str) -> u16 {
    server
        .client
        .post(server.url("/predict"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(SETOSA)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_tokens_are_accepted_and_their_realm_roles_mapped() {
    let idp = provider().await;
    let server = server(&idp).await;
    for signer in [Signer::Rs256, Signer::Es256] {
        for aud in [json!(AUDIENCE), json!(["account", AUDIENCE])] {
            let admin = token(&idp, signer, &["admin", "offline_access"], json!({"aud": aud}));
            assert_eq!(
                predict(&server, &admin).await,
                200,
                "admin, {signer:?}, aud {aud}"
            );
            let user = token(&idp, signer, &["user", "offline_access"], json!({"aud": aud}));
            assert_eq!(predict(&server, &user).await, 403, "user, {signer:?}, aud {aud}");
        }
    }
    // ml-api's own tokens still work next to the provider's.
    let login: Value = server
        .login("admin", &server.admin_password)
        .await
        .json()
        .await
        .unwrap();
    let own = login["access_token"].as_str().unwrap();
    assert_eq!(predict(&server, own).await, 200, "ml-api's own HS256 token");
    assert_eq!(idp.hits(), 1, "one fetch served both keys");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_issuer_audience_expired_unknown_kid_or_crossed_keys_are_401() {
    let idp = provider().await;
    let server = server(&idp).await;
    let ok = token(&idp, Signer::Rs256, &["admin"], json!({}));
    assert_eq!(predict(&server, &ok).await, 200, "control");
    let refused = [
        (
            "wrong issuer",
            token(
                &idp,
                Signer::Rs256,
                &["admin"],
                json!({"iss": "http://127.0.0.1:1/realms/other"}),
            ),
        ),
        (
            "wrong audience",
            token(&idp, Signer::Es256, &["admin"], json!({"aud": "account"})),
        ),
        (
            "wrong audiences",
            token(
                &idp,
                Signer::Es256,
                &["admin"],
                json!({"aud": ["account", "broker"]}),
            ),
        ),
        (
            "no audience",
            token(&idp, Signer::Rs256, &["admin"], json!({"aud": null})),
        ),
        (
            "expired",
            token(&idp, Signer::Rs256, &["admin"], json!({"exp": now() - 120})),
        ),
        (
            "unknown kid",
            token(&idp, Signer::Rs256Rotated, &["admin"], json!({})),
        ),
        // Each issuer's tokens are checked with that issuer's keys only.
        (
            "HS256 with ml-api's secret, the provider's iss",
            token(&idp, Signer::OwnHs256, &["admin"], json!({})),
        ),
        (
            "the provider's key, ml-api's iss",
            token(
                &idp,
                Signer::Rs256,
                &["admin"],
                json!({"iss": ml_api::auth::ISSUER, "roles": ["admin"]}),
            ),
        ),
        // The denylist applies to the provider's tokens too: without a jti they cannot be
        // revoked, so they are refused.
        (
            "no jti",
            token(&idp, Signer::Es256, &["admin"], json!({"jti": null})),
        ),
    ];
    for (why, token) in refused {
        assert_eq!(predict(&server, &token).await, 401, "{why}");
    }
    // Control for the crossed case: the same HS256 token with ml-api's own iss and aud is
    // accepted, so the refusal above is the issuer pinning, not a bad signature.
    let own = token(
        &idp,
        Signer::OwnHs256,
        &[],
        json!({"iss": ml_api::auth::ISSUER, "aud": ml_api::auth::ISSUER, "roles": ["admin"]}),
    );
    assert_eq!(predict(&server, &own).await, 200, "own HS256 control");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_on_the_provider_is_picked_up_without_a_restart() {
    let idp = provider().await;
    let server = server(&idp).await;
    let old = token(&idp, Signer::Rs256, &["admin"], json!({}));
    assert_eq!(predict(&server, &old).await, 200);

    // The provider rotates: a new RSA key (new kid) is published, the old one withdrawn.
    let ec = jwk("ec-remote");
    let rotated = jwk("rsa2-remote");
    idp.publish(&[rotated, ec]);
    let new = token(&idp, Signer::Rs256Rotated, &["admin"], json!({}));
    // The refresh interval is 1 s: within a bounded number of tries the new kid is fetched.
    let mut status = 0;
    for _ in 0..40 {
        status = predict(&server, &new).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "the rotated key was never picked up");
    assert!(idp.hits() >= 2);
    let old_again = token(&idp, Signer::Rs256, &["admin"], json!({}));
    assert_eq!(
        predict(&server, &old_again).await,
        401,
        "the withdrawn key is gone"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_provider_is_trusted_through_jwks_ca() {
    let certified = mlguard_http::tls::self_signed(&["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = certified.cert_pem.clone();
    let tls =
        mlguard_http::tls::server_config_from_pem(cert_pem.as_bytes(), certified.key_pem.as_bytes()).unwrap();
    let idp = JwksProvider::start(Some(tls)).await;
    assert!(idp.issuer().starts_with("https://"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("idp-ca.pem");
    std::fs::write(&ca, &cert_pem).unwrap();

    let server = server_with_ca(&idp, Some(ca)).await;
    let admin = token(&idp, Signer::Es256, &["admin"], json!({}));
    assert_eq!(predict(&server, &admin).await, 200);
    assert_eq!(idp.hits(), 1);
    server.stop().await;

    // Control: trusting another CA, the provider's certificate is refused, so are its tokens.
    let other = dir.path().join("other-ca.pem");
    let stranger = mlguard_http::tls::self_signed(&["127.0.0.1".to_owned()]).unwrap();
    std::fs::write(&other, &stranger.cert_pem).unwrap();
    let server = server_with_ca(&idp, Some(other)).await;
    assert_eq!(predict(&server, &admin).await, 401);
    assert_eq!(idp.hits(), 1, "no JWKS served over an untrusted TLS session");
    server.stop().await;
}

/// `ml-api serve` with `args`: must exit non-zero at once, naming `setting` on stderr.
fn refuses_to_start(args: &[&str], setting: &str) {
    refuses_to_start_with(args, &[], setting);
}

/// Like [`refuses_to_start`], with `env` set in the environment.
fn refuses_to_start_with(args: &[&str], env: &[(&str, &str)], setting: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ml-api"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--no-tls"])
        .args(args)
        .env_remove("MLGUARD_JWKS_URL")
        .env_remove("MLGUARD_JWT_ISSUER")
        .env_remove("MLGUARD_JWT_AUDIENCE")
        .env_remove("MLGUARD_JWT_ROLES_CLAIM")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started");
    assert!(stderr.contains(setting), "{args:?}: {stderr}");
}

#[test]
fn invalid_identity_provider_settings_are_start_up_errors_naming_the_setting() {
    let url = "http://127.0.0.1:9/certs";
    let both = ["--jwt-issuer", "http://idp", "--jwt-audience", "ml-api"];
    let with = |extra: &[&'static str]| {
        let mut v = vec!["--jwks-url", url];
        v.extend_from_slice(extra);
        v
    };
    refuses_to_start(&with(&["--jwt-audience", "ml-api"]), "jwt_issuer");
    refuses_to_start(&with(&["--jwt-issuer", "http://idp"]), "jwt_audience");
    let mut remote = vec!["--jwks-url", "http://idp.example/certs"];
    remote.extend_from_slice(&both);
    refuses_to_start(&remote, "jwks_url");
    refuses_to_start(
        &with(&[&both[..], &["--jwt-roles-claim", "realm_access.roles"]].concat()),
        "jwt_roles_claim",
    );
    refuses_to_start(&both, "jwt_issuer");
    // The provider's issuer cannot be ml-api's own (the verifier is chosen by `iss`).
    refuses_to_start(
        &with(&["--jwt-issuer", ml_api::auth::ISSUER, "--jwt-audience", "ml-api"]),
        "jwt_issuer",
    );
    // The same rules through the environment.
    refuses_to_start_with(
        &[],
        &[("MLGUARD_JWKS_URL", url), ("MLGUARD_JWT_AUDIENCE", "ml-api")],
        "jwt_issuer",
    );
    refuses_to_start_with(
        &[],
        &[
            ("MLGUARD_JWKS_URL", "http://10.1.2.3/certs"),
            ("MLGUARD_JWT_ISSUER", "http://idp"),
            ("MLGUARD_JWT_AUDIENCE", "ml-api"),
        ],
        "jwks_url",
    );
    refuses_to_start_with(
        &[],
        &[
            ("MLGUARD_JWKS_URL", url),
            ("MLGUARD_JWT_ISSUER", "http://idp"),
            ("MLGUARD_JWT_AUDIENCE", "ml-api"),
            ("MLGUARD_JWT_ROLES_CLAIM", "~realm"),
        ],
        "jwt_roles_claim",
    );
}
