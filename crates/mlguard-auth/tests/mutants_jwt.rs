//! What the mutation run of `jwt/` (issue 20; `scripts/mutants jwt`, see docs/testing.md)
//! found no test pinning down: each test below fails with the mutant named in its comment
//! (checked by applying it by hand).

mod common;

use mlguard_auth::AuthError;
use mlguard_auth::jwt::{BearerAuth, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
use mlguard_core::ManualClock;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;

fn issuer() -> JwtIssuer {
    JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", SECRET).unwrap())
        .issuer("https://auth.example")
        .audience("ml-api")
        .clock(Arc::new(ManualClock::at_unix(NOW)))
}

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .issuer("https://auth.example")
        .audience("ml-api")
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .build()
        .unwrap()
}

/// Mutant: `<impl PartialEq for Claims>::eq` into `true`. Two tokens' claims are equal
/// exactly when their payloads are.
#[test]
fn claims_of_two_tokens_differ_and_of_one_token_are_equal() {
    let (issuer, verifier) = (issuer(), verifier());
    let first = issuer.issue("alice", &["user".to_owned()], None).unwrap();
    let second = issuer.issue("alice", &["user".to_owned()], None).unwrap();
    let a = verifier.verify(first.access_token()).unwrap();
    let again = verifier.verify(first.access_token()).unwrap();
    let b = verifier.verify(second.access_token()).unwrap();
    assert_eq!(a.claims, again.claims);
    assert_ne!(a.claims, b.claims, "two tokens with their own jti");
    assert_ne!(a, b);
}

/// Mutant: `<impl Debug for BearerAuth>::fmt` into `Ok(())`. It names its realm, the
/// issuers with their own verifier and whether a denylist is on, and never prints a key.
#[test]
fn debug_of_bearer_auth_names_realm_and_issuers_and_no_key() {
    let auth = BearerAuth::new(verifier())
        .realm("ml-api")
        .issuer_verifier("https://idp.example", verifier());
    let debug = format!("{auth:?}");
    for part in [
        "BearerAuth",
        "realm",
        "\"ml-api\"",
        "by_issuer",
        "https://idp.example",
        "revocation: None",
    ] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
    assert!(!debug.contains("48, 49, 50"), "{debug}");
}

/// Mutant: `<impl Debug for IssuedToken>::fmt` into `Ok(())`. It shows the `jti` and the
/// lifetime a log reader needs, never the token.
#[test]
fn debug_of_an_issued_token_shows_its_jti_and_lifetime_and_not_the_token() {
    let token = issuer().issue("alice", &[], None).unwrap();
    let debug = format!("{token:?}");
    assert!(debug.starts_with("IssuedToken"), "{debug}");
    assert!(debug.contains(token.jti()), "{debug}");
    assert!(
        debug.contains(&format!("expires_in: {}", token.expires_in())),
        "{debug}"
    );
    let signature = token.access_token().rsplit('.').next().unwrap();
    assert!(!debug.contains(signature), "{debug}");
    assert!(
        !debug.contains(token.access_token().split('.').nth(1).unwrap()),
        "{debug}"
    );
}

/// Mutant: `<impl Debug for JwtIssuer>::fmt` into `Ok(())`. It names the key's id and
/// algorithm, `iss`, `aud` and the lifetime, never the key's bytes.
#[test]
fn debug_of_an_issuer_names_its_settings_and_not_its_key() {
    let debug = format!("{:?}", issuer());
    for part in [
        "JwtIssuer",
        "k1",
        "HS256",
        "https://auth.example",
        "ml-api",
        "900s",
    ] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
    assert!(!debug.contains("48, 49, 50"), "{debug}");
}

/// Mutant: `24 * 3600` into `24 + 3600` in `JwtIssuer::ttl`. The lifetime is clamped to
/// 1 s ..= 24 h: a 2-hour lifetime is kept, a 2-day one becomes 24 h, 0 becomes 1 s.
#[test]
fn an_issuer_lifetime_is_clamped_to_one_second_through_one_day() {
    let hour = Duration::from_secs(3600);
    assert_eq!(issuer().ttl(2 * hour).lifetime(), 2 * hour);
    assert_eq!(issuer().ttl(24 * hour).lifetime(), 24 * hour);
    assert_eq!(issuer().ttl(48 * hour).lifetime(), 24 * hour);
    assert_eq!(issuer().ttl(Duration::ZERO).lifetime(), Duration::from_secs(1));
    let token = issuer().ttl(48 * hour).issue("alice", &[], None).unwrap();
    assert_eq!(token.expires_in(), 24 * 3600);
}

/// Mutant: `now + ttl` into `now * ttl` for `IssuedToken::expires_at`. The expiry is the
/// issue time plus the lifetime, as in the token's `exp`.
#[test]
fn an_issued_token_expires_its_lifetime_after_the_issue_time() {
    let token = issuer().issue("alice", &[], None).unwrap();
    assert_eq!(token.expires_in(), 900);
    assert_eq!(token.expires_at(), UNIX_EPOCH + Duration::from_secs(NOW + 900));
    assert_eq!(
        verifier().verify(token.access_token()).unwrap().expires_at,
        token.expires_at()
    );
}

/// Mutants: `JwtAlgorithm::as_str` into `""` or `"xyzzy"`. Each algorithm's name is its
/// RFC 7518 `alg` value, which `from_name` and `Display` agree with.
#[test]
fn each_algorithm_is_named_by_its_rfc_7518_alg_value() {
    use JwtAlgorithm::*;
    for (alg, name) in [
        (HS256, "HS256"),
        (HS384, "HS384"),
        (HS512, "HS512"),
        (RS256, "RS256"),
        (PS256, "PS256"),
        (ES256, "ES256"),
        (EdDSA, "EdDSA"),
    ] {
        assert_eq!(alg.as_str(), name);
        assert_eq!(alg.to_string(), name);
        assert_eq!(JwtAlgorithm::from_name(name), Some(alg));
    }
}

/// Mutant: `JwtAlgorithm::is_hmac` into `true`. Only HS256/384/512 take a shared secret: an
/// HMAC key for a public-key algorithm is refused, for signing and for verifying.
#[test]
fn only_hmac_algorithms_take_a_shared_secret() {
    use JwtAlgorithm::*;
    for alg in [HS256, HS384, HS512] {
        assert!(alg.is_hmac(), "{alg}");
        assert!(SigningKey::hmac(alg, "k", &[7; 64]).is_ok(), "{alg}");
    }
    for alg in [RS256, PS256, ES256, EdDSA] {
        assert!(!alg.is_hmac(), "{alg}");
        let signing = SigningKey::hmac(alg, "k", &[7; 64]).unwrap_err();
        assert!(
            matches!(signing, AuthError::InvalidKey { alg: a } if a == alg.as_str()),
            "{signing:?}"
        );
        let verifying = VerifyingKey::hmac(alg, &[7; 64]).unwrap_err();
        assert!(
            matches!(verifying, AuthError::InvalidKey { alg: a } if a == alg.as_str()),
            "{verifying:?}"
        );
    }
}

/// Mutant: the `HS384` arm of `min_secret_len` deleted (it would take 32 bytes). An HMAC
/// secret must be at least as long as the hash output: 32, 48 and 64 bytes.
#[test]
fn an_hmac_secret_is_at_least_as_long_as_its_hash() {
    use JwtAlgorithm::*;
    for (alg, min) in [(HS256, 32), (HS384, 48), (HS512, 64)] {
        let short = vec![7u8; min - 1];
        let weak = SigningKey::hmac(alg, "k", &short).unwrap_err();
        assert!(
            matches!(weak, AuthError::WeakSecret { alg: a, min: m } if a == alg.as_str() && m == min),
            "{weak:?}"
        );
        assert!(VerifyingKey::hmac(alg, &short).is_err(), "{alg}");
        assert!(SigningKey::hmac(alg, "k", &vec![7u8; min]).is_ok(), "{alg}");
        assert!(VerifyingKey::hmac(alg, &vec![7u8; min]).is_ok(), "{alg}");
    }
}

/// Mutant: `<impl Debug for VerifyingKey>::fmt` into `Ok(())`. It names the algorithm and
/// the `kid`, never the secret.
#[test]
fn debug_of_a_verifying_key_names_algorithm_and_kid_and_not_the_secret() {
    let key = VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET)
        .unwrap()
        .with_kid("2024-06");
    let debug = format!("{key:?}");
    for part in ["VerifyingKey", "HS256", "2024-06"] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
    assert!(
        !debug.contains("0123456789abcdef") && !debug.contains("48, 49"),
        "{debug}"
    );
}

/// Mutants: the curve guards of `VerifyingKey::from_jwk` (`p.curve == P256`,
/// `p.curve == Ed25519`) into `true`. An EC key is ES256 only on P-256 and an OKP key EdDSA
/// only on Ed25519: the same coordinates labelled with another curve are refused, not used
/// as if they were on the supported one.
#[test]
fn a_jwk_on_another_curve_is_refused() {
    let set: serde_json::Value = serde_json::from_str(include_str!("data/jwks.json")).unwrap();
    let key = |kid: &str| {
        let keys = set["keys"].as_array().unwrap();
        keys.iter().find(|k| k["kid"] == kid).unwrap().clone()
    };
    let from_jwk =
        |jwk: &serde_json::Value| VerifyingKey::from_jwk(&serde_json::from_value(jwk.clone()).unwrap());

    let ec = key("ec-remote");
    assert_eq!(from_jwk(&ec).unwrap().algorithm(), JwtAlgorithm::ES256);
    let mut p384 = ec.clone();
    p384["crv"] = "P-384".into();
    p384.as_object_mut().unwrap().remove("alg");
    assert!(from_jwk(&p384).is_err(), "EC coordinates labelled P-384");

    let ed = key("ed-remote");
    assert_eq!(from_jwk(&ed).unwrap().algorithm(), JwtAlgorithm::EdDSA);
    let mut other = ed.clone();
    other["crv"] = "P-256".into();
    assert!(
        from_jwk(&other).is_err(),
        "an OKP key on a curve other than Ed25519"
    );
}

/// Mutant: `<impl Debug for SigningKey>::fmt` into `Ok(())`. It names the algorithm and the
/// `kid`, never the secret.
#[test]
fn debug_of_a_signing_key_names_algorithm_and_kid_and_not_the_secret() {
    let key = SigningKey::hmac(JwtAlgorithm::HS384, "2024-07", &[0x41; 48]).unwrap();
    let debug = format!("{key:?}");
    for part in ["SigningKey", "HS384", "2024-07"] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
    assert!(!debug.contains("AAAA") && !debug.contains("65, 65"), "{debug}");
}

/// Mutants: `<impl Debug for RemoteJwks>::fmt` and `<impl Debug for RemoteJwksBuilder>::fmt`
/// into `Ok(())`. They name the URL, and the set how many keys it holds and how often it may
/// be refreshed.
#[cfg(feature = "jwks")]
#[test]
fn debug_of_a_remote_jwks_names_its_url_keys_and_interval() {
    use mlguard_auth::jwt::RemoteJwks;
    let builder = RemoteJwks::builder("http://idp.internal/jwks.json");
    let debug = format!("{builder:?}");
    assert!(
        debug.contains("RemoteJwksBuilder") && debug.contains("http://idp.internal/jwks.json"),
        "{debug}"
    );
    let jwks = builder
        .min_refresh_interval(Duration::from_secs(42))
        .build()
        .unwrap();
    let debug = format!("{jwks:?}");
    for part in ["RemoteJwks", "http://idp.internal/jwks.json", "keys: 0", "42s"] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
}

/// Mutants: either `||` of `RemoteJwksBuilder::build`'s bound check into `&&`. Each bound
/// too small on its own is refused: a refresh interval under 1 s, a zero timeout, a body
/// bound under 64 bytes; the smallest allowed values are accepted.
#[cfg(feature = "jwks")]
#[test]
fn each_remote_jwks_bound_too_small_on_its_own_is_refused() {
    use mlguard_auth::jwt::RemoteJwks;
    let builder = || RemoteJwks::builder("http://idp.internal/jwks.json");
    assert!(
        builder()
            .min_refresh_interval(Duration::from_millis(999))
            .build()
            .is_err()
    );
    assert!(builder().timeout(Duration::ZERO).build().is_err());
    assert!(builder().max_body_bytes(63).build().is_err());
    let smallest = builder()
        .min_refresh_interval(Duration::from_secs(1))
        .timeout(Duration::from_millis(1))
        .max_body_bytes(64)
        .build();
    assert!(smallest.is_ok(), "{smallest:?}");
}

/// A one-request HTTP/1.1 server on 127.0.0.1 that answers `body`, with `content-length` or
/// chunked, and closes.
#[cfg(feature = "jwks")]
async fn serve_once(body: String, chunked: bool) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "request head cut short");
            request.extend_from_slice(&buf[..n]);
        }
        let response = if chunked {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                body.len()
            )
        } else {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        };
        // The client may hang up once it has seen enough (a refused size): not an error here.
        let _ = conn.write_all(response.as_bytes()).await;
    });
    (addr, server)
}

const JWKS: &str = include_str!("data/jwks.json");

/// Mutants: `RemoteJwks::is_empty` into `true` or `false`, and its `==` into `!=`. A set is
/// empty until a fetch brings keys, and not empty after.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn a_remote_jwks_is_empty_until_a_fetch_brings_keys() {
    use mlguard_auth::jwt::RemoteJwks;
    let (addr, server) = serve_once(JWKS.to_owned(), false).await;
    let jwks = RemoteJwks::builder(format!("http://{addr}/jwks.json"))
        .build()
        .unwrap();
    assert!(jwks.is_empty());
    assert_eq!(jwks.len(), 0);
    let usable = jwks.refresh().await.unwrap();
    server.await.unwrap();
    assert_eq!(usable, 3, "EC, RSA and OKP; the oct and enc keys are refused");
    assert_eq!(jwks.len(), 3);
    assert!(!jwks.is_empty());
}

/// Mutants: `>` into `>=` or `==` in both body-size checks of `RemoteJwks::fetch` (the
/// announced `content-length` and the bytes received). A key set of exactly the bound is
/// fetched, with a length and chunked; one byte more is refused, either way.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn a_key_set_of_exactly_the_body_bound_is_fetched_and_one_byte_more_is_not() {
    use mlguard_auth::jwt::RemoteJwks;
    let bound = JWKS.len() + 10;
    for chunked in [false, true] {
        for (len, fits) in [(bound, true), (bound + 1, false)] {
            let body = format!("{JWKS}{}", " ".repeat(len - JWKS.len()));
            let (addr, server) = serve_once(body, chunked).await;
            let jwks = RemoteJwks::builder(format!("http://{addr}/jwks.json"))
                .max_body_bytes(bound)
                .build()
                .unwrap();
            let fetched = jwks.refresh().await;
            server.await.unwrap();
            assert_eq!(
                fetched.is_ok(),
                fits,
                "{len} bytes of {bound}, chunked: {chunked}: {fetched:?}"
            );
            assert_eq!(jwks.len(), if fits { 3 } else { 0 });
        }
    }
}

/// Mutants: `<impl Display for JsonPointer>::fmt` and `<impl Debug for JsonPointer>::fmt`
/// into `Ok(())`. A pointer shows as the text it was parsed from (escapes kept).
#[test]
fn a_json_pointer_shows_as_its_text() {
    use mlguard_auth::jwt::JsonPointer;
    let pointer = JsonPointer::parse("/https:~1~1example.com~1roles/0").unwrap();
    assert_eq!(pointer.to_string(), "/https:~1~1example.com~1roles/0");
    assert_eq!(
        format!("{pointer:?}"),
        r#"JsonPointer("/https:~1~1example.com~1roles/0")"#
    );
    assert_eq!(JsonPointer::parse("").unwrap().to_string(), "");
}

/// A verifier's token signed by `issuer()` with a `pad` claim that makes it exactly `len`
/// bytes long.
fn token_of_len(len: usize) -> String {
    let token_with = |pad: usize| {
        let mut extra = serde_json::Map::new();
        extra.insert("pad".into(), "x".repeat(pad).into());
        let token = issuer().issue_with("alice", &[], None, extra).unwrap();
        token.access_token().to_owned()
    };
    // The random jti has a fixed length, so the length grows with the pad alone, by 4 base64
    // characters per 3 bytes: find the pad that gives exactly `len`.
    let base = token_with(0).len();
    let estimate = (len.saturating_sub(base) * 3 / 4).saturating_sub(4);
    (estimate..estimate + 16)
        .map(token_with)
        .find(|t| t.len() >= len)
        .filter(|t| t.len() == len)
        .unwrap_or_else(|| panic!("no pad gives a token of exactly {len} bytes"))
}

/// Mutant: `8 * 1024` into `8 + 1024` in `DEFAULT_MAX_TOKEN_LEN`. By default a token of
/// 8 KiB is verified and one byte more is refused as too large.
#[test]
fn by_default_a_token_of_8_kib_is_verified_and_one_byte_more_is_too_large() {
    use mlguard_auth::jwt::{DEFAULT_MAX_TOKEN_LEN, TokenError};
    assert_eq!(DEFAULT_MAX_TOKEN_LEN, 8192);
    let verifier = verifier();
    assert_eq!(verifier.max_token_len(), 8192);
    let fits = token_of_len(8192);
    assert!(verifier.verify(&fits).is_ok());
    let over = format!("{fits}A");
    assert_eq!(verifier.verify(&over).unwrap_err(), TokenError::TooLarge);
}

/// Mutants: `JwtVerifierBuilder::max_token_len` into `Default::default()` (the setting and
/// everything before it lost), `JwtVerifier::leeway` into `Duration::ZERO`, and
/// `leeway > MAX_LEEWAY` into `>=` in `build`. Both settings reach the verifier; the largest
/// leeway, exactly 5 minutes, is accepted and a second more is not.
#[test]
fn the_size_bound_and_leeway_reach_the_verifier_up_to_five_minutes() {
    use mlguard_auth::jwt::MAX_LEEWAY;
    let builder = || {
        JwtVerifier::builder()
            .key(VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap())
            .audience("ml-api")
    };
    let v = builder().max_token_len(1000).leeway(MAX_LEEWAY).build().unwrap();
    assert_eq!(v.max_token_len(), 1000);
    assert_eq!(v.leeway(), Duration::from_secs(300));
    assert!(
        builder()
            .leeway(MAX_LEEWAY + Duration::from_secs(1))
            .build()
            .is_err()
    );
    assert_eq!(verifier().leeway(), Duration::from_secs(30), "the default");
}

/// Mutant: `<impl Debug for JwtVerifierBuilder>::fmt` into `Ok(())`. It shows the keys (by
/// algorithm and kid), never their secrets.
#[test]
fn debug_of_a_verifier_builder_shows_its_keys_and_no_secret() {
    let builder = JwtVerifier::builder().key(
        VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET)
            .unwrap()
            .with_kid("k1"),
    );
    let debug = format!("{builder:?}");
    for part in ["JwtVerifierBuilder", "keys", "HS256", "k1"] {
        assert!(debug.contains(part), "{part} in {debug}");
    }
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
}

/// Mutant: the guard `!s.is_empty()` on `sub` into `true`. A token whose `sub` is the empty
/// string names nobody: refused as missing `sub`, like a token without one.
#[test]
fn an_empty_subject_is_a_missing_subject() {
    use mlguard_auth::jwt::TokenError;
    use serde_json::json;
    let header = json!({"alg": "HS256", "kid": "k1"});
    let claims =
        |sub: &str| json!({"sub": sub, "aud": "ml-api", "iss": "https://auth.example", "exp": NOW + 60});
    let verifier = verifier();
    assert!(
        verifier
            .verify(&common::hs256(&header, &claims("alice"), SECRET))
            .is_ok()
    );
    let nobody = common::hs256(&header, &claims(""), SECRET);
    assert_eq!(
        verifier.verify(&nobody).unwrap_err(),
        TokenError::MissingClaim("sub")
    );
}

/// Mutant: `header.is_empty() || payload.is_empty()` into `&&` in `split`. `parse_header`,
/// which reads only the header, still refuses a token with an empty payload.
#[test]
fn parse_header_refuses_an_empty_payload() {
    use mlguard_auth::jwt::{TokenError, parse_header};
    // {"alg":"HS256"}
    assert!(parse_header("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", 8192).is_ok());
    assert_eq!(
        parse_header("eyJhbGciOiJIUzI1NiJ9..c2ln", 8192),
        Err(TokenError::Malformed)
    );
    assert_eq!(parse_header(".e30.c2ln", 8192), Err(TokenError::Malformed));
}
