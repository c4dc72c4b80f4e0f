//! JWT verification: one test per attack named in the issue, claim checks, the layer.

mod common;

use common::*;
use http::{Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use mlguard_auth::jwt::{
    BearerAuth, BearerAuthLayer, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, TokenError, VerifyingKey,
};
use mlguard_auth::revocation::{MemoryRevocationStore, RevocationStore};
use mlguard_core::{Clock, ManualClock, SharedClock};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tower::{Layer, ServiceExt};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;

fn clock() -> ManualClock {
    ManualClock::at_unix(NOW)
}

fn hs_verifier(clock: &ManualClock) -> JwtVerifier {
    JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET)
                .unwrap()
                .with_kid("hs"),
        )
        .clock(Arc::new(clock.clone()))
        .accept_any_audience()
        .build()
        .unwrap()
}

fn rs_verifier(clock: &ManualClock) -> JwtVerifier {
    JwtVerifier::builder()
        .key(
            VerifyingKey::from_pem(JwtAlgorithm::RS256, RSA_PUBLIC)
                .unwrap()
                .with_kid("rs"),
        )
        .key(
            VerifyingKey::from_pem(JwtAlgorithm::ES256, EC_PUBLIC)
                .unwrap()
                .with_kid("ec"),
        )
        .clock(Arc::new(clock.clone()))
        .accept_any_audience()
        .build()
        .unwrap()
}

fn claims() -> Value {
    json!({"sub": "alice", "exp": NOW + 600, "iat": NOW, "roles": ["user"], "jti": "j1"})
}

fn hs_header() -> Value {
    json!({"alg": "HS256", "kid": "hs", "typ": "JWT"})
}

#[test]
fn valid_hs256_token_verifies() {
    let c = clock();
    let v = hs_verifier(&c)
        .verify(&hs256(&hs_header(), &claims(), SECRET))
        .unwrap();
    assert_eq!(v.subject, "alice");
    assert_eq!(v.jti.as_deref(), Some("j1"));
    let p = v.to_principal();
    assert_eq!(p.token_id(), Some("j1"));
    assert!(p.has_role("user"));
    assert_eq!(p.expires_at(), Some(UNIX_EPOCH + Duration::from_secs(NOW + 600)));
}

#[test]
fn every_supported_algorithm_round_trips_with_its_own_key_only() {
    let c = clock();
    let cases: Vec<(JwtAlgorithm, SigningKey, VerifyingKey)> = vec![
        (
            JwtAlgorithm::HS256,
            SigningKey::hmac(JwtAlgorithm::HS256, "k", &[1; 64]).unwrap(),
            VerifyingKey::hmac(JwtAlgorithm::HS256, &[1; 64]).unwrap(),
        ),
        (
            JwtAlgorithm::HS384,
            SigningKey::hmac(JwtAlgorithm::HS384, "k", &[1; 64]).unwrap(),
            VerifyingKey::hmac(JwtAlgorithm::HS384, &[1; 64]).unwrap(),
        ),
        (
            JwtAlgorithm::HS512,
            SigningKey::hmac(JwtAlgorithm::HS512, "k", &[1; 64]).unwrap(),
            VerifyingKey::hmac(JwtAlgorithm::HS512, &[1; 64]).unwrap(),
        ),
        (
            JwtAlgorithm::RS256,
            SigningKey::from_pem(JwtAlgorithm::RS256, "k", RSA_PRIVATE).unwrap(),
            VerifyingKey::from_pem(JwtAlgorithm::RS256, RSA_PUBLIC).unwrap(),
        ),
        (
            JwtAlgorithm::PS256,
            SigningKey::from_pem(JwtAlgorithm::PS256, "k", RSA_PRIVATE).unwrap(),
            VerifyingKey::from_pem(JwtAlgorithm::PS256, RSA_PUBLIC).unwrap(),
        ),
        (
            JwtAlgorithm::ES256,
            SigningKey::from_pem(JwtAlgorithm::ES256, "k", EC_PRIVATE).unwrap(),
            VerifyingKey::from_pem(JwtAlgorithm::ES256, EC_PUBLIC).unwrap(),
        ),
        (
            JwtAlgorithm::EdDSA,
            SigningKey::from_pem(JwtAlgorithm::EdDSA, "k", ED_PRIVATE).unwrap(),
            VerifyingKey::from_pem(JwtAlgorithm::EdDSA, ED_PUBLIC).unwrap(),
        ),
    ];
    // The same key material pinned to a sibling algorithm: one 64-byte secret
    // for the three HMAC algorithms, one RSA key pair for RS256 and PS256.
    // Without the algorithm check these would verify the token's signature.
    let same_material = |from: JwtAlgorithm, to: JwtAlgorithm| -> Option<VerifyingKey> {
        let hmac = [JwtAlgorithm::HS256, JwtAlgorithm::HS384, JwtAlgorithm::HS512];
        let rsa = [JwtAlgorithm::RS256, JwtAlgorithm::PS256];
        if hmac.contains(&from) && hmac.contains(&to) {
            Some(VerifyingKey::hmac(to, &[1; 64]).unwrap())
        } else if rsa.contains(&from) && rsa.contains(&to) {
            Some(VerifyingKey::from_pem(to, RSA_PUBLIC).unwrap())
        } else {
            None
        }
    };
    let verifier_for = |vk: VerifyingKey| {
        JwtVerifier::builder()
            .key(vk.with_kid("k"))
            .clock(Arc::new(c.clone()))
            .accept_any_audience()
            .build()
            .unwrap()
    };
    let tokens: Vec<(JwtAlgorithm, String)> = cases
        .iter()
        .map(|(alg, sk, _)| {
            let issuer = JwtIssuer::new(sk.clone()).clock(Arc::new(c.clone()));
            let token = issuer.issue("bob", &[], None).unwrap();
            let header = mlguard_auth::jwt::parse_header(token.access_token(), 8192).unwrap();
            assert_eq!(header.0, *alg);
            (*alg, token.access_token().to_owned())
        })
        .collect();
    let mut same_material_pairs = 0;
    for (alg, token) in &tokens {
        for (other, _, vk) in &cases {
            let verified = verifier_for(vk.clone()).verify(token);
            if other == alg {
                assert_eq!(verified.unwrap().subject, "bob", "{alg}");
                continue;
            }
            // Every sibling's own key refuses the token...
            assert!(verified.is_err(), "{alg} token verified by the {other} key");
            // ...and so does this token's key pinned to the sibling algorithm.
            if let Some(pinned) = same_material(*alg, *other) {
                same_material_pairs += 1;
                assert_eq!(
                    verifier_for(pinned).verify(token).unwrap_err(),
                    TokenError::AlgorithmMismatch,
                    "{alg} token, its own key pinned to {other}"
                );
            }
        }
    }
    assert_eq!(same_material_pairs, 3 * 2 + 2, "HS* x HS*, RS256 x PS256");
    // PS256 key does not verify an RS256 token made with the same RSA key pair.
    let rs = JwtIssuer::new(SigningKey::from_pem(JwtAlgorithm::RS256, "k", RSA_PRIVATE).unwrap())
        .clock(Arc::new(c.clone()));
    let ps_only = JwtVerifier::builder()
        .key(
            VerifyingKey::from_pem(JwtAlgorithm::PS256, RSA_PUBLIC)
                .unwrap()
                .with_kid("k"),
        )
        .clock(Arc::new(c.clone()))
        .accept_any_audience()
        .build()
        .unwrap();
    assert_eq!(
        ps_only
            .verify(rs.issue("x", &[], None).unwrap().access_token())
            .unwrap_err(),
        TokenError::AlgorithmMismatch
    );
}

#[test]
fn attack_alg_none_in_any_casing() {
    let c = clock();
    let v = hs_verifier(&c);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "kid": "hs"});
        let unsigned = format!("{}.{}.", b64(&header), b64(&claims()));
        assert_eq!(v.verify(&unsigned).unwrap_err(), TokenError::AlgNone, "{alg}");
        let with_sig = format!("{}.{}.c2ln", b64(&header), b64(&claims()));
        assert_eq!(v.verify(&with_sig).unwrap_err(), TokenError::AlgNone, "{alg}");
    }
}

#[test]
fn attack_rs_hs_confusion_public_key_as_hmac_secret() {
    let c = clock();
    let v = rs_verifier(&c);
    // The attacker signs HS256 using the server's RSA *public* key bytes as the HMAC secret.
    let forged = hs256(&json!({"alg": "HS256", "kid": "rs"}), &claims(), RSA_PUBLIC);
    assert_eq!(v.verify(&forged).unwrap_err(), TokenError::AlgorithmMismatch);
    // And with no kid at all, against a single RSA key.
    let single = JwtVerifier::builder()
        .key(VerifyingKey::from_pem(JwtAlgorithm::RS256, RSA_PUBLIC).unwrap())
        .clock(Arc::new(c.clone()))
        .accept_any_audience()
        .build()
        .unwrap();
    let forged = hs256(&json!({"alg": "HS256"}), &claims(), RSA_PUBLIC);
    assert_eq!(single.verify(&forged).unwrap_err(), TokenError::AlgorithmMismatch);
}

#[test]
fn attack_empty_signature() {
    let c = clock();
    let token = hs256(&hs_header(), &claims(), SECRET);
    let stripped = format!("{}.", token.rsplit_once('.').unwrap().0);
    assert_eq!(
        hs_verifier(&c).verify(&stripped).unwrap_err(),
        TokenError::EmptySignature
    );
}

#[test]
fn attack_ecdsa_all_zero_signature() {
    let c = clock();
    let v = rs_verifier(&c);
    let message = format!(
        "{}.{}",
        b64(&json!({"alg": "ES256", "kid": "ec"})),
        b64(&claims())
    );
    let zeros = base64_url(&[0u8; 64]);
    assert_eq!(
        v.verify(&format!("{message}.{zeros}")).unwrap_err(),
        TokenError::ZeroSignature
    );
    // r = 0 with a non-zero s, and s = 0 with a non-zero r (CVE-2022-21449 variants).
    let mut r_zero = [0u8; 64];
    r_zero[40] = 1;
    assert_eq!(
        v.verify(&format!("{message}.{}", base64_url(&r_zero)))
            .unwrap_err(),
        TokenError::ZeroSignature
    );
    let mut s_zero = [0u8; 64];
    s_zero[3] = 1;
    assert_eq!(
        v.verify(&format!("{message}.{}", base64_url(&s_zero)))
            .unwrap_err(),
        TokenError::ZeroSignature
    );
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn attack_jku_x5u_jwk_x5c_headers_are_refused() {
    let c = clock();
    let v = hs_verifier(&c);
    let values = [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", json!({"kty": "oct", "k": "c2VjcmV0"})),
        ("x5c", json!(["MIIB"])),
    ];
    for (name, value) in values {
        let mut header = hs_header();
        header[name] = value;
        // Correctly signed with the real key: still refused, because of the header alone.
        let token = hs256(&header, &claims(), SECRET);
        assert_eq!(
            v.verify(&token).unwrap_err(),
            TokenError::ForbiddenHeader(name),
            "{name}"
        );
    }
}

#[test]
fn attack_crit_header_is_refused() {
    let c = clock();
    let mut header = hs_header();
    header["crit"] = json!(["exp"]);
    assert_eq!(
        hs_verifier(&c)
            .verify(&hs256(&header, &claims(), SECRET))
            .unwrap_err(),
        TokenError::CriticalHeader
    );
}

#[test]
fn attack_oversized_token_refused_before_parsing() {
    let c = clock();
    let v = hs_verifier(&c);
    let junk = "!".repeat(8 * 1024 + 1); // not even base64: size is checked first
    assert_eq!(v.verify(&junk).unwrap_err(), TokenError::TooLarge);
    let mut big = claims();
    big["pad"] = json!("a".repeat(8 * 1024));
    assert_eq!(
        v.verify(&hs256(&hs_header(), &big, SECRET)).unwrap_err(),
        TokenError::TooLarge
    );
}

#[test]
fn attack_wrong_key_and_tampered_payload() {
    let c = clock();
    let v = rs_verifier(&c);
    let other = EncodingKey::from_rsa_pem(RSA2_PRIVATE).unwrap();
    let forged = sign(
        &json!({"alg": "RS256", "kid": "rs"}),
        &claims(),
        &other,
        Algorithm::RS256,
    );
    assert_eq!(v.verify(&forged).unwrap_err(), TokenError::BadSignature);

    let good = hs256(&hs_header(), &claims(), SECRET);
    let (_, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut admin = claims();
    admin["roles"] = json!(["admin"]);
    let tampered = format!("{}.{}.{sig}", b64(&hs_header()), b64(&admin));
    assert_eq!(
        hs_verifier(&c).verify(&tampered).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn attack_unknown_kid_and_unsupported_alg() {
    let c = clock();
    let v = rs_verifier(&c);
    let token = hs256(&json!({"alg": "HS256", "kid": "nope"}), &claims(), SECRET);
    assert_eq!(v.verify(&token).unwrap_err(), TokenError::UnknownKey);
    let no_kid = hs256(&json!({"alg": "HS256"}), &claims(), SECRET);
    assert_eq!(
        v.verify(&no_kid).unwrap_err(),
        TokenError::UnknownKey,
        "several keys: kid required"
    );
    let rs384 = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "RS384", "kid": "rs"})),
        b64(&claims())
    );
    assert_eq!(v.verify(&rs384).unwrap_err(), TokenError::UnsupportedAlgorithm);
}

#[test]
fn attack_jwe_and_malformed_shapes() {
    let c = clock();
    let v = hs_verifier(&c);
    for bad in [
        "a.b.c.d.e",
        "a.b",
        "abc",
        "",
        "..",
        "e30.e30.c2ln=",
        "e30.e30.c2ln",
        "W10.e30.c2ln",
    ] {
        assert_eq!(v.verify(bad).unwrap_err(), TokenError::Malformed, "{bad:?}");
    }
}

#[test]
fn kid_rotation_selects_the_named_key() {
    let c = clock();
    let old = [1u8; 32];
    let new = [2u8; 32];
    let v = JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &old)
                .unwrap()
                .with_kid("2024"),
        )
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &new)
                .unwrap()
                .with_kid("2025"),
        )
        .clock(Arc::new(c.clone()))
        .accept_any_audience()
        .build()
        .unwrap();
    assert!(
        v.verify(&hs256(&json!({"alg": "HS256", "kid": "2024"}), &claims(), &old))
            .is_ok()
    );
    assert!(
        v.verify(&hs256(&json!({"alg": "HS256", "kid": "2025"}), &claims(), &new))
            .is_ok()
    );
    assert_eq!(
        v.verify(&hs256(&json!({"alg": "HS256", "kid": "2025"}), &claims(), &old))
            .unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn configuration_is_validated_at_build() {
    assert!(JwtVerifier::builder().accept_any_audience().build().is_err());
    let k = || VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap();
    assert!(
        JwtVerifier::builder()
            .key(k())
            .key(k())
            .accept_any_audience()
            .build()
            .is_err(),
        "several keys without kid"
    );
    assert!(
        JwtVerifier::builder()
            .key(k().with_kid("a"))
            .key(k().with_kid("a"))
            .accept_any_audience()
            .build()
            .is_err()
    );
    assert!(
        JwtVerifier::builder()
            .key(k())
            .leeway(Duration::from_secs(3600))
            .accept_any_audience()
            .build()
            .is_err()
    );
    assert!(VerifyingKey::hmac(JwtAlgorithm::HS512, &[0; 63]).is_err());
    assert!(VerifyingKey::from_pem(JwtAlgorithm::RS256, EC_PUBLIC).is_err());
    assert!(VerifyingKey::hmac(JwtAlgorithm::RS256, SECRET).is_err());
}

// ---- claims ----

#[test]
fn exp_is_required() {
    let c = clock();
    let mut cl = claims();
    cl.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        hs_verifier(&c)
            .verify(&hs256(&hs_header(), &cl, SECRET))
            .unwrap_err(),
        TokenError::MissingClaim("exp")
    );
}

#[test]
fn numeric_dates_of_the_wrong_json_type_are_rejected() {
    let c = clock();
    let v = hs_verifier(&c);
    let wrong = [
        json!(format!("{}", NOW + 600)),
        Value::Null,
        json!([NOW + 600]),
        json!(true),
        json!({"t": 1}),
        json!(-5),
    ];
    for claim in ["exp", "nbf", "iat"] {
        for value in &wrong {
            let mut cl = claims();
            cl[claim] = value.clone();
            assert_eq!(
                v.verify(&hs256(&hs_header(), &cl, SECRET)).unwrap_err(),
                TokenError::InvalidClaimType(claim),
                "{claim} = {value}"
            );
        }
    }
}

#[test]
fn float_exp_is_a_valid_numeric_date_and_compared_exactly() {
    let c = clock();
    let v = JwtVerifier::builder()
        .key(VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap())
        .leeway(Duration::ZERO)
        .clock(Arc::new(c.clone()))
        .accept_any_audience()
        .build()
        .unwrap();
    let mut cl = claims();
    cl["exp"] = json!(NOW as f64 + 0.5);
    let token = hs256(&json!({"alg": "HS256"}), &cl, SECRET);
    assert!(v.verify(&token).is_ok());
    c.advance(Duration::from_millis(500));
    assert_eq!(v.verify(&token).unwrap_err(), TokenError::Expired);
}

#[test]
fn expiry_respects_leeway_to_the_second() {
    let c = clock();
    let v = hs_verifier(&c); // default leeway 30 s
    let token = hs256(&hs_header(), &claims(), SECRET); // exp = NOW + 600
    c.advance(Duration::from_secs(600 + 29));
    assert!(v.verify(&token).is_ok());
    c.advance(Duration::from_secs(1));
    assert_eq!(v.verify(&token).unwrap_err(), TokenError::Expired);
    assert_eq!(mlguard_auth::jwt::DEFAULT_LEEWAY, Duration::from_secs(30));
}

#[test]
fn nbf_in_the_future_is_rejected_beyond_leeway() {
    let c = clock();
    let v = hs_verifier(&c);
    let mut cl = claims();
    cl["nbf"] = json!(NOW + 31);
    let token = hs256(&hs_header(), &cl, SECRET);
    assert_eq!(v.verify(&token).unwrap_err(), TokenError::NotYetValid);
    c.advance(Duration::from_secs(1));
    assert!(v.verify(&token).is_ok());
}

#[test]
fn iat_in_the_future_is_rejected_beyond_leeway() {
    let c = clock();
    let v = hs_verifier(&c);
    let mut cl = claims();
    cl["iat"] = json!(NOW + 3600);
    assert_eq!(
        v.verify(&hs256(&hs_header(), &cl, SECRET)).unwrap_err(),
        TokenError::IssuedInFuture
    );
    cl["iat"] = json!(NOW + 30);
    assert!(v.verify(&hs256(&hs_header(), &cl, SECRET)).is_ok());
}

#[test]
fn issuer_and_audience_checked_when_configured() {
    let c = clock();
    let v = JwtVerifier::builder()
        .key(VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap())
        .issuer("https://idp.example")
        .audience("ml-api")
        .clock(Arc::new(c.clone()))
        .build()
        .unwrap();
    let header = json!({"alg": "HS256"});
    let with = |iss: Option<Value>, aud: Option<Value>| {
        let mut cl = claims();
        if let Some(i) = iss {
            cl["iss"] = i;
        }
        if let Some(a) = aud {
            cl["aud"] = a;
        }
        v.verify(&hs256(&header, &cl, SECRET))
    };
    let iss = || Some(json!("https://idp.example"));
    assert!(with(iss(), Some(json!("ml-api"))).is_ok());
    assert!(with(iss(), Some(json!(["other", "ml-api"]))).is_ok());
    assert_eq!(
        with(Some(json!("https://evil.example")), Some(json!("ml-api"))).unwrap_err(),
        TokenError::WrongIssuer
    );
    assert_eq!(
        with(None, Some(json!("ml-api"))).unwrap_err(),
        TokenError::MissingClaim("iss")
    );
    assert_eq!(
        with(iss(), Some(json!("other"))).unwrap_err(),
        TokenError::WrongAudience
    );
    assert_eq!(with(iss(), None).unwrap_err(), TokenError::MissingClaim("aud"));
    assert_eq!(
        with(iss(), Some(json!(["ml-api", 5]))).unwrap_err(),
        TokenError::InvalidClaimType("aud")
    );
    assert_eq!(
        with(Some(json!(["https://idp.example"])), Some(json!("ml-api"))).unwrap_err(),
        TokenError::InvalidClaimType("iss")
    );
}

#[test]
fn sub_roles_and_scope_types_are_checked() {
    let c = clock();
    let v = hs_verifier(&c);
    let mut cl = claims();
    cl.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        v.verify(&hs256(&hs_header(), &cl, SECRET)).unwrap_err(),
        TokenError::MissingClaim("sub")
    );
    // One string is one role (identity providers send a single role that way).
    let mut cl = claims();
    cl["roles"] = json!("admin");
    assert_eq!(
        v.verify(&hs256(&hs_header(), &cl, SECRET)).unwrap().roles,
        ["admin"]
    );
    for bad in [json!(5), json!({"admin": true}), json!(["admin", 1]), json!(null)] {
        let mut cl = claims();
        cl["roles"] = bad;
        assert_eq!(
            v.verify(&hs256(&hs_header(), &cl, SECRET)).unwrap_err(),
            TokenError::InvalidClaimType("roles")
        );
    }
    let mut cl = claims();
    cl["scope"] = json!("model:predict  metrics:read");
    let ok = v.verify(&hs256(&hs_header(), &cl, SECRET)).unwrap();
    assert_eq!(ok.scopes.unwrap(), ["model:predict", "metrics:read"]);
}

// ---- the layer ----

fn bearer(token: &str) -> Request<()> {
    Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
}

#[tokio::test]
async fn layer_writes_principal_and_strips_authorization() {
    let c = clock();
    let (seen, inner) = recorder();
    let svc = BearerAuthLayer::new(BearerAuth::new(hs_verifier(&c))).layer(inner);
    let mut cl = claims();
    cl["scope"] = json!("model:predict");
    let res = svc
        .oneshot(bearer(&hs256(&hs_header(), &cl, SECRET)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.authorization);
    let p = seen.principal.unwrap();
    assert_eq!(p.subject(), "alice");
    assert!(p.is_bearer() && p.token_id() == Some("j1"));
    assert!(p.scopes().unwrap().contains("model:predict"));
}

#[tokio::test]
async fn layer_challenges_follow_rfc6750() {
    let c = clock();
    let (_, inner) = recorder();
    let svc = BearerAuthLayer::new(BearerAuth::new(hs_verifier(&c)).realm("ml-api")).layer(inner);
    // No credentials, or another scheme: no error parameter.
    for r in [
        Request::get("/").body(()).unwrap(),
        Request::get("/")
            .header("authorization", "Basic YTpi")
            .body(())
            .unwrap(),
    ] {
        let res = svc.clone().oneshot(r).await.unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="ml-api""#);
    }
    // A bad token: error="invalid_token", and the body does not echo it.
    let token = hs256(&hs_header(), &claims(), b"wrong-secret-wrong-secret-wrong!");
    let res = svc.clone().oneshot(bearer(&token)).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="ml-api", error="invalid_token""#
    );
    let body = body_string(res).await;
    assert!(!body.contains(&token) && body.contains("Invalid or expired token"));
}

#[tokio::test]
async fn layer_rejects_junk_after_token_and_accepts_any_scheme_case() {
    let c = clock();
    let (_, inner) = recorder();
    let svc = BearerAuthLayer::new(BearerAuth::new(hs_verifier(&c))).layer(inner);
    let token = hs256(&hs_header(), &claims(), SECRET);
    let junk = Request::get("/")
        .header("authorization", format!("Bearer {token} junk"))
        .body(())
        .unwrap();
    let res = svc.clone().oneshot(junk).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let lower = Request::get("/")
        .header("authorization", format!("bearer {token}"))
        .body(())
        .unwrap();
    assert_eq!(svc.clone().oneshot(lower).await.unwrap().status(), 200);
    let upper = Request::get("/")
        .header("authorization", format!("BEARER {token}"))
        .body(())
        .unwrap();
    assert_eq!(svc.oneshot(upper).await.unwrap().status(), 200);
}

#[tokio::test]
async fn layer_refuses_revoked_jti() {
    let c = clock();
    let shared: SharedClock = Arc::new(c.clone());
    let store = Arc::new(MemoryRevocationStore::with_clock(shared));
    let (_, inner) = recorder();
    let svc = BearerAuthLayer::new(BearerAuth::new(hs_verifier(&c)).revocation(store.clone())).layer(inner);
    let token = hs256(&hs_header(), &claims(), SECRET);
    assert_eq!(svc.clone().oneshot(bearer(&token)).await.unwrap().status(), 200);
    store
        .revoke("j1", c.now() + Duration::from_secs(600))
        .await
        .unwrap();
    let res = svc.clone().oneshot(bearer(&token)).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // A token without jti cannot be revoked, so it is refused when revocation is on.
    let mut cl = claims();
    cl.as_object_mut().unwrap().remove("jti");
    assert_eq!(
        svc.oneshot(bearer(&hs256(&hs_header(), &cl, SECRET)))
            .await
            .unwrap()
            .status(),
        401
    );
}

#[test]
fn issued_token_has_the_required_claims_and_header() {
    let c = clock();
    let issuer = JwtIssuer::new(SigningKey::from_pem(JwtAlgorithm::ES256, "ec-1", EC_PRIVATE).unwrap())
        .issuer("ml-api")
        .audience("ml-clients")
        .clock(Arc::new(c.clone()));
    let t = issuer
        .issue("alice", &["user".into()], Some(&["model:predict".into()]))
        .unwrap();
    assert!(!format!("{t:?}").contains(t.access_token()));
    let v = JwtVerifier::builder()
        .key(
            VerifyingKey::from_pem(JwtAlgorithm::ES256, EC_PUBLIC)
                .unwrap()
                .with_kid("ec-1"),
        )
        .issuer("ml-api")
        .audience("ml-clients")
        .clock(Arc::new(c.clone()))
        .build()
        .unwrap()
        .verify(t.access_token())
        .unwrap();
    assert_eq!(v.kid.as_deref(), Some("ec-1"));
    for claim in ["sub", "roles", "scope", "iss", "aud", "iat", "exp", "jti"] {
        assert!(v.claims.contains_key(claim), "{claim}");
    }
    assert_eq!(v.claims["exp"], json!(NOW + 900));
    assert_eq!(v.claims["iat"], json!(NOW));
    assert_eq!(v.jti.as_deref(), Some(t.jti()));
}
