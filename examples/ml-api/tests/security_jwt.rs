//! JWT attack suite against the running server, over real HTTP.
//!
//! The server runs with a known `MLGUARD_JWT_SECRET` (set through the same
//! `Settings::with_secrets_from` mapping the binary uses for the environment), so every forged
//! token is signed with the server's real key and differs from a valid token in exactly the one
//! property under attack. Each case must answer 401 with an RFC 6750 `invalid_token` challenge
//! and a problem body (never a 5xx); the controls (the unmodified forged token, lowercase
//! `bearer`, a fractional `exp`, an `aud` array) must answer 200, which proves the rejections
//! come from the attacked property and not from a broken forging helper.
//!
//! The server's configuration only takes an HS256 secret, so the public-key-as-HMAC-secret
//! attacks (RS256/EdDSA -> HS256 confusion) run against a variant of the same server started
//! in-process through the ml-api library ([`ml_api::app::build`] + [`mlguard_http::server::Server`]):
//! every layer is the real one, only [`ml_api::auth::Auth::layer`] is swapped for a bearer
//! verifier holding an RSA and an Ed25519 public key.

mod common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The server's HS256 secret in these tests (48 bytes; the server refuses fewer than 32).
const SECRET: &str = "security-suite-hs256-secret-0123456789abcdefghij";

const RSA_PRIVATE: &str = include_str!("../../../crates/mlguard-auth/tests/data/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("../../../crates/mlguard-auth/tests/data/rsa_public.pem");
const ED_PRIVATE: &str = include_str!("../../../crates/mlguard-auth/tests/data/ed_private.pem");
const ED_PUBLIC: &str = include_str!("../../../crates/mlguard-auth/tests/data/ed_public.pem");

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(v: &Value) -> String {
    b64(serde_json::to_string(v).unwrap().as_bytes())
}

/// `header.payload.signature`, the signature made with `key` under `alg`.
fn sign(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64_json(header), b64_json(claims));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{sig}")
}

/// HS256 with an arbitrary HMAC key (the attacker's choice of key).
fn hs256_with(header: &Value, claims: &Value, key: &[u8]) -> String {
    sign(header, claims, &EncodingKey::from_secret(key), Algorithm::HS256)
}

/// HS256 with the server's real secret.
fn forge(header: &Value, claims: &Value) -> String {
    hs256_with(header, claims, SECRET.as_bytes())
}

fn decode_part(part: &str) -> Map<String, Value> {
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap() {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// Header and claims of a real token, to forge from.
fn template(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = decode_part(parts.next().unwrap());
    let claims = decode_part(parts.next().unwrap());
    (Value::Object(header), Value::Object(claims))
}

/// `v` with `key` set to `value` (or removed when `value` is `None`).
fn with(v: &Value, key: &str, value: Option<Value>) -> Value {
    let mut v = v.clone();
    let m = v.as_object_mut().unwrap();
    match value {
        Some(x) => {
            m.insert(key.to_owned(), x);
        }
        None => {
            m.remove(key);
        }
    }
    v
}

/// A fresh `jti`, so a forged token is never the revoked one by accident.
fn fresh(claims: &Value, tag: &str) -> Value {
    let c = with(claims, "jti", Some(json!(format!("forged-{tag}-{}", now()))));
    let c = with(&c, "iat", Some(json!(now())));
    with(&c, "exp", Some(json!(now() + 600)))
}

async fn predict(client: &reqwest::Client, url: &str, authorization: &str) -> reqwest::Response {
    client
        .post(url)
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(SETOSA)
        .send()
        .await
        .unwrap()
}

/// Checks one rejection: 401, an `invalid_token` bearer challenge, a problem body that does not
/// echo the token. Returns a description of what is wrong, if anything.
async fn rejected(resp: reqwest::Response, token_fragment: &str) -> Result<(), String> {
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.text().await.unwrap();
    if status != 401 {
        return Err(format!("status {status}, body {body}"));
    }
    if !challenge.starts_with("Bearer ") || !challenge.contains(r#"error="invalid_token""#) {
        return Err(format!("challenge {challenge:?}"));
    }
    if ct != "application/problem+json" {
        return Err(format!("content-type {ct:?}"));
    }
    if token_fragment.len() > 8 && body.contains(token_fragment) {
        return Err("the problem body echoes the token".into());
    }
    Ok(())
}

/// Sends every `(name, Authorization value)` case; all must be rejected. Returns nothing, panics
/// with the list of cases that were not.
async fn expect_all_rejected(client: &reqwest::Client, url: &str, cases: &[(String, String)]) {
    let mut failures = Vec::new();
    for (name, value) in cases {
        let frag = value.rsplit('.').next().unwrap_or("");
        if let Err(why) = rejected(predict(client, url, value).await, frag).await {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "accepted or mishandled attacks:\n{}",
        failures.join("\n")
    );
}

async fn expect_ok(client: &reqwest::Client, url: &str, name: &str, authorization: &str) {
    let r = predict(client, url, authorization).await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "control {name} must be accepted: {body}");
}

async fn hs256_server() -> TestServer {
    start_with(|s| {
        *s = s
            .clone()
            .with_secrets_from(|name| (name == "MLGUARD_JWT_SECRET").then(|| SECRET.to_owned()));
        // Controls succeed many times; the prediction quota is not under test here.
        s.predict_rate = Some("10000/minute".into());
    })
    .await
}

async fn admin_token(s: &TestServer) -> Value {
    let r = s.login("admin", &s.admin_password).await;
    assert_eq!(r.status(), 200);
    json(r).await
}

#[tokio::test]
async fn forged_tokens_differing_in_one_property_are_401_never_500() {
    let s = hs256_server().await;
    let url = s.url("/predict");
    let c = &s.client;
    let real = admin_token(&s).await["access_token"].as_str().unwrap().to_owned();
    let (header, claims) = template(&real);
    assert_eq!(header["alg"], "HS256");
    let base = fresh(&claims, "base");

    // Controls: the real token, our re-signed copy, and what the standards allow.
    expect_ok(c, &url, "real token", &format!("Bearer {real}")).await;
    let good = forge(&header, &base);
    expect_ok(c, &url, "re-signed template", &format!("Bearer {good}")).await;
    expect_ok(
        c,
        &url,
        "lowercase scheme (RFC 9110 11.1)",
        &format!("bearer {good}"),
    )
    .await;
    expect_ok(c, &url, "upper-case scheme", &format!("BEARER {good}")).await;
    let fractional = with(&base, "exp", Some(json!(now() as f64 + 600.5)));
    expect_ok(
        c,
        &url,
        "fractional exp (RFC 7519 NumericDate)",
        &format!("Bearer {}", forge(&header, &fractional)),
    )
    .await;
    let aud_list = with(&base, "aud", Some(json!(["other-api", "ml-api"])));
    expect_ok(
        c,
        &url,
        "aud array containing ml-api (RFC 7519 4.1.3)",
        &format!("Bearer {}", forge(&header, &aud_list)),
    )
    .await;

    let (h64, p64) = {
        let mut it = good.split('.');
        (it.next().unwrap().to_owned(), it.next().unwrap().to_owned())
    };
    let sig = good.rsplit('.').next().unwrap().to_owned();
    let t = now();
    let mut cases: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, token: String| cases.push((name.to_owned(), format!("Bearer {token}")));

    // alg none, in any casing, unsigned and with the real signature left on.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = with(&header, "alg", Some(json!(alg)));
        add(
            &format!("alg {alg}, empty signature"),
            format!("{}.{p64}.", b64_json(&h)),
        );
        add(
            &format!("alg {alg}, original signature"),
            format!("{}.{p64}.{sig}", b64_json(&h)),
        );
        add(
            &format!("alg {alg}, no signature part"),
            format!("{}.{p64}", b64_json(&h)),
        );
    }
    // Another HMAC algorithm with the same secret (the key is bound to HS256).
    let h384 = with(&header, "alg", Some(json!("HS384")));
    add(
        "alg HS384 with the same secret",
        sign(
            &h384,
            &base,
            &EncodingKey::from_secret(SECRET.as_bytes()),
            Algorithm::HS384,
        ),
    );
    add(
        "alg RS256 in the header, HMAC signature",
        format!(
            "{}.{p64}.{sig}",
            b64_json(&with(&header, "alg", Some(json!("RS256"))))
        ),
    );

    // Stripped, empty and zeroed signatures.
    add("stripped signature (two parts)", format!("{h64}.{p64}"));
    add("empty signature", format!("{h64}.{p64}."));
    add("all-zero signature", format!("{h64}.{p64}.{}", b64(&[0u8; 32])));
    add(
        "truncated signature",
        format!("{h64}.{p64}.{}", &sig[..sig.len() / 2]),
    );
    add("signature of another token", {
        let other = forge(&header, &with(&base, "sub", Some(json!("mallory"))));
        format!("{h64}.{p64}.{}", other.rsplit('.').next().unwrap())
    });

    // kid: path traversal, SQL, and the "/dev/null with an empty key" trick.
    for kid in [
        "../../../../../../../dev/null",
        "/etc/passwd",
        "..%2f..%2f..%2fdev%2fnull",
        "' OR '1'='1",
        "x' UNION SELECT 'security-suite' -- ",
        "",
    ] {
        let h = with(&header, "kid", Some(json!(kid)));
        add(&format!("kid {kid:?}, real secret"), forge(&h, &base));
        add(&format!("kid {kid:?}, empty key"), hs256_with(&h, &base, b""));
    }
    add(
        "kid of the wrong JSON type",
        forge(&with(&header, "kid", Some(json!(42))), &base),
    );

    // Embedded or remote keys named by the token (never fetched: see the SSRF test below).
    let attacker_key = b"attacker-chosen-hmac-key-0123456789abcdef";
    let jwk = json!({"kty": "oct", "k": b64(attacker_key), "alg": "HS256"});
    add(
        "jwk header with the attacker's key",
        hs256_with(&with(&header, "jwk", Some(jwk.clone())), &base, attacker_key),
    );
    add(
        "jwk header, real secret",
        forge(&with(&header, "jwk", Some(jwk)), &base),
    );
    for param in ["jku", "x5u"] {
        let h = with(&header, param, Some(json!("https://attacker.example/keys.json")));
        add(&format!("{param} header, real secret"), forge(&h, &base));
        add(
            &format!("{param} header, attacker key"),
            hs256_with(&h, &base, attacker_key),
        );
    }
    add(
        "x5c header",
        forge(
            &with(&header, "x5c", Some(json!([STANDARD.encode(b"not a cert")]))),
            &base,
        ),
    );
    add(
        "crit header",
        forge(&with(&header, "crit", Some(json!(["exp"]))), &base),
    );

    // Time claims.
    add(
        "expired (beyond the 30 s leeway)",
        forge(&header, &with(&base, "exp", Some(json!(t - 120)))),
    );
    add(
        "nbf in the future (beyond leeway)",
        forge(&header, &with(&base, "nbf", Some(json!(t + 3600)))),
    );
    add(
        "iat in the future (beyond leeway)",
        forge(&header, &with(&base, "iat", Some(json!(t + 3600)))),
    );
    add("exp missing", forge(&header, &with(&base, "exp", None)));
    add(
        "exp as a string",
        forge(&header, &with(&base, "exp", Some(json!((t + 600).to_string())))),
    );
    add("exp null", forge(&header, &with(&base, "exp", Some(Value::Null))));
    add(
        "exp negative",
        forge(&header, &with(&base, "exp", Some(json!(-1)))),
    );
    add(
        "exp as an object",
        forge(&header, &with(&base, "exp", Some(json!({"$gt": 0})))),
    );
    add(
        "fractional exp in the past",
        forge(&header, &with(&base, "exp", Some(json!(t as f64 - 120.5)))),
    );
    add(
        "nbf as a string",
        forge(&header, &with(&base, "nbf", Some(json!("0")))),
    );

    // Issuer and audience.
    add(
        "wrong iss",
        forge(&header, &with(&base, "iss", Some(json!("https://evil.example")))),
    );
    add("iss missing", forge(&header, &with(&base, "iss", None)));
    add(
        "wrong aud",
        forge(&header, &with(&base, "aud", Some(json!("other-api")))),
    );
    add("aud missing", forge(&header, &with(&base, "aud", None)));
    add(
        "aud array without ml-api",
        forge(&header, &with(&base, "aud", Some(json!(["a", "b"])))),
    );
    add("sub missing", forge(&header, &with(&base, "sub", None)));
    add(
        "jti missing (revocation is on)",
        forge(&header, &with(&base, "jti", None)),
    );

    // Tampered payloads under the original signature.
    for (name, claims) in [
        ("sub changed", with(&base, "sub", Some(json!("root")))),
        (
            "roles escalated",
            with(&base, "roles", Some(json!(["admin", "superuser"]))),
        ),
        (
            "exp extended",
            with(&base, "exp", Some(json!(t + 10 * 365 * 86400))),
        ),
    ] {
        add(
            &format!("tampered payload: {name}"),
            format!("{h64}.{}.{sig}", b64_json(&claims)),
        );
    }
    add("payload re-encoded with padding", format!("{h64}.{p64}==.{sig}"));

    // Shapes and size.
    let big = with(&base, "pad", Some(json!("a".repeat(8 * 1024))));
    add("token over the 8 KiB bound, validly signed", forge(&header, &big));
    add(
        "JWE-shaped (five parts)",
        format!("{h64}.{p64}.{sig}.{sig}.{sig}"),
    );
    add("not base64url", format!("{h64}.{p64}!.{sig}"));
    add("payload not JSON", format!("{h64}.{}.{sig}", b64(b"not json")));
    add("payload a JSON array", forge(&header, &json!([1, 2])));
    cases.push(("junk after the token".into(), format!("Bearer {good} junk")));
    cases.push(("two tokens, comma".into(), format!("Bearer {good},{good}")));
    cases.push(("empty bearer".into(), "Bearer ".into()));
    cases.push(("scheme only".into(), "Bearer".into()));

    expect_all_rejected(c, &url, &cases).await;

    // A token just under the size bound still works: the bound, not the padding, rejected it.
    let under = with(&base, "pad", Some(json!("a".repeat(5 * 1024))));
    let under = forge(&header, &under);
    assert!(under.len() < 8 * 1024);
    expect_ok(
        c,
        &url,
        "token just under the size bound",
        &format!("Bearer {under}"),
    )
    .await;
    s.stop().await;
}

#[tokio::test]
async fn revoked_jti_is_401_even_when_validly_signed() {
    let s = hs256_server().await;
    let url = s.url("/predict");
    let login = admin_token(&s).await;
    let refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let rotate = || {
        s.client
            .post(s.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
    };
    let r = rotate().await.unwrap();
    assert_eq!(r.status(), 200);
    let access2 = json(r).await["access_token"].as_str().unwrap().to_owned();
    expect_ok(
        &s.client,
        &url,
        "rotated access token",
        &format!("Bearer {access2}"),
    )
    .await;

    // Reusing the spent refresh token revokes the family (RFC 9700 section 4.14.2).
    let r = rotate().await.unwrap();
    assert_eq!(r.status(), 400);
    let (header, claims) = template(&access2);
    let revoked_jti = claims["jti"].as_str().unwrap().to_owned();

    // The revoked token itself, and a brand-new, validly signed token reusing its jti.
    let reused = forge(
        &header,
        &with(&fresh(&claims, "x"), "jti", Some(json!(revoked_jti))),
    );
    let cases = vec![
        ("revoked access token".to_owned(), format!("Bearer {access2}")),
        (
            "new token with the revoked jti".to_owned(),
            format!("Bearer {reused}"),
        ),
    ];
    expect_all_rejected(&s.client, &url, &cases).await;
    // Control: the same forged token with a fresh jti is accepted.
    let fresh_token = forge(&header, &fresh(&claims, "control"));
    expect_ok(
        &s.client,
        &url,
        "same token, fresh jti",
        &format!("Bearer {fresh_token}"),
    )
    .await;
    s.stop().await;
}

/// SSRF (OWASP API7): a token whose `jku` / `x5u` names a URL must not make the server fetch it.
#[tokio::test]
async fn jku_and_x5u_urls_are_never_fetched() {
    let s = hs256_server().await;
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_url = format!("http://{}/jwks.json", trap.local_addr().unwrap());
    let real = admin_token(&s).await["access_token"].as_str().unwrap().to_owned();
    let (header, claims) = template(&real);
    let base = fresh(&claims, "ssrf");
    let mut cases = Vec::new();
    for param in ["jku", "x5u"] {
        let token = forge(&with(&header, param, Some(json!(trap_url))), &base);
        cases.push((format!("{param} -> local trap"), format!("Bearer {token}")));
    }
    expect_all_rejected(&s.client, &s.url("/predict"), &cases).await;
    let accepted = tokio::time::timeout(Duration::from_millis(500), trap.accept()).await;
    assert!(
        accepted.is_err(),
        "the server connected to the URL named in the token"
    );
    s.stop().await;
}

/// The ml-api server (every real layer) with an asymmetric bearer verifier in place of the
/// HS256 one: RS256 key `rsa-1` and EdDSA key `ed-1`.
mod asymmetric {
    use super::*;
    use ml_api::app::{build, hardening_options, json_config};
    use ml_api::auth::Auth;
    use ml_api::bootstrap::bootstrap;
    use ml_api::config::{Config, Settings};
    use ml_api::quotas::Quotas;
    use ml_api::run::server_options;
    use ml_api::state::AppState;
    use mlguard_auth::AuthLayer;
    use mlguard_auth::jwt::{BearerAuth, JwtAlgorithm, JwtVerifier, VerifyingKey};
    use mlguard_http::server::Server;
    use tokio::sync::oneshot;

    pub(crate) struct AsymServer {
        pub(crate) base: String,
        stop: Option<oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<()>,
        _dir: tempfile::TempDir,
    }

    impl AsymServer {
        pub(crate) async fn stop(mut self) {
            if let Some(tx) = self.stop.take() {
                let _ = tx.send(());
            }
            let _ = (&mut self.task).await;
        }
    }

    pub(crate) async fn start() -> AsymServer {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            data_dir: Some(dir.path().join("data")),
            listen: Some("127.0.0.1:0".parse().unwrap()),
            no_tls: Some(true),
            predict_rate: Some("10000/minute".into()),
            ..Settings::default()
        };
        let config = Config::resolve(settings, None).unwrap();
        let boot_config = config.clone();
        let boot = tokio::task::spawn_blocking(move || bootstrap(&boot_config))
            .await
            .unwrap()
            .unwrap();
        let state = AppState::new(Some(boot.model.clone()), boot.fernet.clone(), config.max_batch);
        let quotas = Quotas::from_config(&config).unwrap();
        let mut auth = Auth::new(
            &boot.data_dir,
            &boot.jwt_secret,
            config.access_token_ttl,
            config.refresh_token_ttl,
        )
        .unwrap();
        let verifier = JwtVerifier::builder()
            .key(
                VerifyingKey::from_pem(JwtAlgorithm::RS256, RSA_PUBLIC.as_bytes())
                    .unwrap()
                    .with_kid("rsa-1"),
            )
            .key(
                VerifyingKey::from_pem(JwtAlgorithm::EdDSA, ED_PUBLIC.as_bytes())
                    .unwrap()
                    .with_kid("ed-1"),
            )
            .issuer("https://idp.example")
            .audience("ml-api")
            .build()
            .unwrap();
        auth.layer = AuthLayer::new().bearer(BearerAuth::new(verifier).realm(ml_api::policy::REALM));
        let app = build(
            state,
            json_config(&config).unwrap(),
            &quotas,
            &auth,
            &hardening_options(&config, false),
        )
        .unwrap();
        let server = Server::bind(config.listen, app, None, server_options(&config).unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", server.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        AsymServer {
            base,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }
}

fn pem_body_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

#[tokio::test]
async fn public_key_used_as_hmac_secret_is_401_in_every_form() {
    let s = asymmetric::start().await;
    let url = format!("{}/predict", s.base);
    let client = reqwest::Client::new();
    let claims = json!({
        "sub": "alice", "roles": ["admin"], "iss": "https://idp.example", "aud": "ml-api",
        "iat": now(), "exp": now() + 600, "jti": "asym-1"
    });

    // Controls: tokens signed with the real private keys are accepted.
    let rs = sign(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}),
        &claims,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
        Algorithm::RS256,
    );
    expect_ok(
        &client,
        &url,
        "RS256 with the private key",
        &format!("Bearer {rs}"),
    )
    .await;
    let ed = sign(
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": "ed-1"}),
        &claims,
        &EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap(),
        Algorithm::EdDSA,
    );
    expect_ok(
        &client,
        &url,
        "EdDSA with the private key",
        &format!("Bearer {ed}"),
    )
    .await;

    let mut cases = Vec::new();
    for (kid, pem, jwk_kid, raw_member) in [
        ("rsa-1", RSA_PUBLIC, "rsa-remote", "n"),
        ("ed-1", ED_PUBLIC, "ed-remote", "x"),
    ] {
        let jwk = mlguard_testkit::idp::jwk(jwk_kid);
        let raw = URL_SAFE_NO_PAD.decode(jwk[raw_member].as_str().unwrap()).unwrap();
        let mut public_jwk = jwk.clone();
        public_jwk.as_object_mut().unwrap().remove("kid");
        let forms: Vec<(&str, Vec<u8>)> = vec![
            ("PEM", pem.as_bytes().to_vec()),
            ("PEM without final newline", pem.trim_end().as_bytes().to_vec()),
            ("DER (SPKI)", pem_body_der(pem)),
            ("JWK JSON", serde_json::to_vec(&jwk).unwrap()),
            ("JWK JSON without kid", serde_json::to_vec(&public_jwk).unwrap()),
            ("raw key bytes", raw),
        ];
        for (form, key) in forms {
            for header in [
                json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
                json!({"alg": "HS256", "typ": "JWT"}),
            ] {
                let named = if header.get("kid").is_some() {
                    "with kid"
                } else {
                    "no kid"
                };
                let token = hs256_with(&header, &claims, &key);
                cases.push((
                    format!("{kid}: HS256 keyed with the {form}, {named}"),
                    format!("Bearer {token}"),
                ));
            }
        }
    }
    // The other key's algorithm under this kid, and a kid swap.
    let swapped = sign(
        &json!({"alg": "EdDSA", "typ": "JWT", "kid": "rsa-1"}),
        &claims,
        &EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap(),
        Algorithm::EdDSA,
    );
    cases.push((
        "EdDSA token naming the RSA kid".into(),
        format!("Bearer {swapped}"),
    ));
    let unsigned_rs = {
        let mut it = rs.split('.');
        format!("{}.{}.", it.next().unwrap(), it.next().unwrap())
    };
    cases.push((
        "RS256 with the signature stripped".into(),
        format!("Bearer {unsigned_rs}"),
    ));
    expect_all_rejected(&client, &url, &cases).await;
    s.stop().await;
}
