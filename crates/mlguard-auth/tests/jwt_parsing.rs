//! The typed header and claims parsers: escapes, duplicate members, trailing data, the lazily
//! built claims map, and a differential property test against the map-based reference checks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_auth::jwt::{JwtAlgorithm, JwtVerifier, TokenError, VerifyingKey, parse_header};
use mlguard_core::ManualClock;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;
const CLAIMS: &str = r#"{"sub":"alice","exp":1700000600,"iat":1700000000,"roles":["user"],"jti":"j1"}"#;

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap())
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .accept_any_audience()
        .build()
        .unwrap()
}

fn checking_verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap())
        .issuer("ml-api")
        .audience("ml-api")
        .audience("other")
        .leeway(Duration::from_secs(10))
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .build()
        .unwrap()
}

/// Signs the exact JSON texts given (so they may hold duplicates and escapes).
fn raw(header: &str, claims: &str) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET);
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{message}.{sig}")
}

#[test]
fn escaped_header_names_and_values_are_decoded_before_the_checks() {
    let v = verifier();
    let cases = [
        (
            r#"{"alg":"HS256","j\u006bu":"https://a.example"}"#,
            TokenError::ForbiddenHeader("jku"),
        ),
        (
            r#"{"alg":"HS256","\u00785c":["MIIB"]}"#,
            TokenError::ForbiddenHeader("x5c"),
        ),
        (r#"{"alg":"\u006eOnE"}"#, TokenError::AlgNone),
        (
            r#"{"alg":"HS256","c\u0072it":["exp"]}"#,
            TokenError::CriticalHeader,
        ),
    ];
    for (header, expected) in cases {
        assert_eq!(v.verify(&raw(header, CLAIMS)).unwrap_err(), expected, "{header}");
    }
    let ok = v
        .verify(&raw(
            r#"{"alg":"HS\u0032\u00356"}"#,
            r#"{"s\u0075b":"\u0061lice","exp":1700000600,"roles":["a\"b"]}"#,
        ))
        .unwrap();
    assert_eq!(ok.subject, "alice");
    assert_eq!(ok.roles, ["a\"b"]);
}

#[test]
fn duplicate_checked_members_are_malformed() {
    let v = verifier();
    for header in [
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","alg":"none"}"#,
        r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
        r#"{"alg":"HS256","a\u006cg":"HS256"}"#,
    ] {
        assert_eq!(
            v.verify(&raw(header, CLAIMS)).unwrap_err(),
            TokenError::Malformed,
            "{header}"
        );
    }
    for claim in [
        r#""exp":1700000600"#,
        r#""exp":1"#,
        r#""nbf":1"#,
        r#""iat":1"#,
        r#""sub":"mallory""#,
        r#""jti":"j2""#,
        r#""roles":["admin"]"#,
        r#""scope":"a""#,
        r#""iss":"x""#,
        r#""aud":"x""#,
    ] {
        let claims = format!(
            r#"{{"sub":"alice","exp":1700000600,"iat":1700000000,"roles":["user"],"jti":"j1","scope":"s","iss":"i","aud":"a","nbf":0,{claim}}}"#
        );
        assert_eq!(
            v.verify(&raw(r#"{"alg":"HS256"}"#, &claims)).unwrap_err(),
            TokenError::Malformed,
            "{claim}"
        );
    }
    // Members nobody checks may repeat, as before.
    let claims = r#"{"sub":"alice","exp":1700000600,"x":1,"x":[2]}"#;
    let header = r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#;
    assert!(v.verify(&raw(header, claims)).is_ok());
}

#[test]
fn trailing_data_and_non_objects_are_malformed() {
    let v = verifier();
    for (header, claims) in [
        (r#"{"alg":"HS256"} x"#, CLAIMS),
        (r#"{"alg":"HS256"}{}"#, CLAIMS),
        (r#"["alg","HS256"]"#, CLAIMS),
        (r#""HS256""#, CLAIMS),
        (r#"{"alg":"HS256"}"#, r#"{"sub":"alice","exp":1700000600} 1"#),
        (r#"{"alg":"HS256"}"#, r#"[{"sub":"alice","exp":1700000600}]"#),
        (r#"{"alg":"HS256"}"#, r#"{"sub":"alice","exp":1700000600"#),
        (r#"{"alg":"HS256"}"#, "null"),
    ] {
        assert_eq!(
            v.verify(&raw(header, claims)).unwrap_err(),
            TokenError::Malformed,
            "{header} {claims}"
        );
    }
    // Surrounding whitespace is still fine.
    assert!(
        v.verify(&raw(" {\"alg\":\"HS256\"}\n", &format!("\t{CLAIMS} ")))
            .is_ok()
    );
    // A kid that is not a string is malformed, also via `parse_header`.
    let token = raw(r#"{"alg":"HS256","kid":null}"#, CLAIMS);
    assert_eq!(parse_header(&token, 8192).unwrap_err(), TokenError::Malformed);
    let token = raw(r#"{"alg":"HS256","kid":"k\u0031"}"#, CLAIMS);
    assert_eq!(parse_header(&token, 8192).unwrap().1.as_deref(), Some("k1"));
}

#[test]
fn headers_of_every_length_around_the_stack_buffer_verify() {
    // The decoded header stays on the stack up to 256 bytes and moves to the heap beyond.
    let v = verifier();
    for pad in 200..300 {
        let header = format!(r#"{{"alg":"HS256","x":"{}"}}"#, "a".repeat(pad));
        assert!(v.verify(&raw(&header, CLAIMS)).is_ok(), "{}", header.len());
        let forbidden = format!(r#"{{"alg":"HS256","x":"{}","jwk":{{}}}}"#, "a".repeat(pad));
        assert_eq!(
            v.verify(&raw(&forbidden, CLAIMS)).unwrap_err(),
            TokenError::ForbiddenHeader("jwk")
        );
    }
}

#[test]
fn aud_arrays_are_checked_element_by_element() {
    let v = checking_verifier();
    let claims = |aud: &str| format!(r#"{{"sub":"a","exp":1700000600,"iss":"ml-api","aud":{aud}}}"#);
    let h = r#"{"alg":"HS256"}"#;
    assert!(v.verify(&raw(h, &claims(r#"["x","other"]"#))).is_ok());
    assert!(v.verify(&raw(h, &claims(r#""ml-api""#))).is_ok());
    for (aud, expected) in [
        (r#"["ml-api",1]"#, TokenError::InvalidClaimType("aud")),
        (r#"[1,"ml-api"]"#, TokenError::InvalidClaimType("aud")),
        (r#"["ml-api",["ml-api"]]"#, TokenError::InvalidClaimType("aud")),
        (r#"{"ml-api":true}"#, TokenError::InvalidClaimType("aud")),
        ("null", TokenError::InvalidClaimType("aud")),
        ("[]", TokenError::WrongAudience),
        (r#"["x","y"]"#, TokenError::WrongAudience),
    ] {
        assert_eq!(v.verify(&raw(h, &claims(aud))).unwrap_err(), expected, "{aud}");
    }
}

#[test]
fn claims_map_is_built_from_the_signed_payload() {
    let v = verifier().verify(&raw(r#"{"alg":"HS256"}"#, CLAIMS)).unwrap();
    assert_eq!(v.claims.json(), CLAIMS);
    let expected: Map<String, Value> = serde_json::from_str(CLAIMS).unwrap();
    assert_eq!(*v.claims, expected);
    assert_eq!(v.claims["roles"], json!(["user"]));
    assert!(format!("{v:?}").contains("\"jti\""));
    let principal = v.to_principal();
    assert_eq!(v.clone().into_principal(), principal);
    assert_eq!(principal.subject(), "alice");
}

/// Subject, roles, scopes, jti.
type Checked = (String, Vec<String>, Option<Vec<String>>, Option<String>);

/// The claim checks as they were written against a `serde_json` map, kept as the oracle.
fn reference(claims: &Map<String, Value>, now: f64, leeway: f64) -> Result<Checked, TokenError> {
    let date = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if f.is_finite() && f >= 0.0 => Ok(Some(f)),
            _ => Err(TokenError::InvalidClaimType(name)),
        },
        Some(_) => Err(TokenError::InvalidClaimType(name)),
    };
    let exp = date("exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    let nbf = date("nbf")?;
    let iat = date("iat")?;
    if now >= exp + leeway {
        return Err(TokenError::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > now + leeway) {
        return Err(TokenError::NotYetValid);
    }
    if iat.is_some_and(|iat| iat > now + leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    match claims.get("iss") {
        None => return Err(TokenError::MissingClaim("iss")),
        Some(Value::String(iss)) if iss == "ml-api" => {}
        Some(Value::String(_)) => return Err(TokenError::WrongIssuer),
        Some(_) => return Err(TokenError::InvalidClaimType("iss")),
    }
    let accepted = |a: &str| a == "ml-api" || a == "other";
    let ok = match claims.get("aud") {
        None => return Err(TokenError::MissingClaim("aud")),
        Some(Value::String(aud)) => accepted(aud),
        Some(Value::Array(list)) => {
            let mut any = false;
            for v in list {
                let Value::String(aud) = v else {
                    return Err(TokenError::InvalidClaimType("aud"));
                };
                any |= accepted(aud);
            }
            any
        }
        Some(_) => return Err(TokenError::InvalidClaimType("aud")),
    };
    if !ok {
        return Err(TokenError::WrongAudience);
    }
    let subject = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => return Err(TokenError::MissingClaim("sub")),
        Some(_) => return Err(TokenError::InvalidClaimType("sub")),
    };
    let jti = match claims.get("jti") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(TokenError::InvalidClaimType("jti")),
    };
    let scopes = match claims.get("scope") {
        None => None,
        Some(Value::String(s)) => Some(
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Some(_) => return Err(TokenError::InvalidClaimType("scope")),
    };
    // Roles last: they come from the configured claim or mapper, after the standard claims.
    let roles = match claims.get("roles") {
        None => Vec::new(),
        Some(Value::String(role)) => vec![role.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(TokenError::InvalidClaimType("roles"))?,
        Some(_) => return Err(TokenError::InvalidClaimType("roles")),
    };
    Ok((subject, roles, scopes, jti))
}

fn claim_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        2 => (NOW - 100..NOW + 100).prop_map(Value::from),
        1 => (-5i64..5).prop_map(Value::from),
        2 => (-10.0f64..10.0).prop_map(|f| json!(NOW as f64 + f)),
        4 => prop_oneof![Just("ml-api"), Just("other"), Just("x"), Just(""), Just("a b  c"), Just("\u{e9}\"\\")].prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claims_object() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        Just("exp"),
        Just("nbf"),
        Just("iat"),
        Just("iss"),
        Just("aud"),
        Just("sub"),
        Just("jti"),
        Just("roles"),
        Just("scope"),
        Just("other"),
    ];
    prop::collection::btree_map(name, claim_value(), 0..10).prop_map(|m| {
        let mut claims: Map<String, Value> = m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        // Mostly well-formed, so that later checks are reached too.
        claims.entry("exp").or_insert(json!(NOW + 60));
        claims.entry("iss").or_insert(json!("ml-api"));
        claims.entry("aud").or_insert(json!(["x", "other"]));
        claims.entry("sub").or_insert(json!("alice"));
        claims
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn typed_claim_checks_agree_with_the_map_based_reference(claims in claims_object()) {
        let text = serde_json::to_string(&claims).unwrap();
        // What the reference sees: the same text parsed into a map (floats need not survive
        // a serde_json round trip bit for bit).
        let claims: Map<String, Value> = serde_json::from_str(&text).unwrap();
        let token = raw(r#"{"alg":"HS256","typ":"JWT"}"#, &text);
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let got = checking_verifier().verify_at(&token, now).map(|v| {
            prop_assert_eq!(&*v.claims, &claims);
            let exp = claims["exp"].as_f64().unwrap();
            prop_assert_eq!(v.expires_at, UNIX_EPOCH + Duration::from_secs_f64(exp));
            Ok((v.subject, v.roles, v.scopes, v.jti))
        });
        let got = match got {
            Ok(inner) => Ok(inner?),
            Err(e) => Err(e),
        };
        let secs = now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
        prop_assert_eq!(got, reference(&claims, secs, 10.0));
    }
}
