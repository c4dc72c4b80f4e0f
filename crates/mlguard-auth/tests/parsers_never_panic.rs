//! Property tests: every parser of untrusted input returns instead of panicking.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_auth::apikey::parse_key_id;
use mlguard_auth::credentials::parse_bearer;
use mlguard_auth::jwt::{JwtAlgorithm, JwtVerifier, VerifyingKey, parse_header};
use mlguard_auth::token::parse_form;
use proptest::prelude::*;

fn verifier() -> JwtVerifier {
    JwtVerifier::builder()
        .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &[1; 32]).unwrap())
        .accept_any_audience()
        .build()
        .unwrap()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("none"),
            Just("NoNe"),
            Just("HS256"),
            Just("ES256"),
            Just("RS256")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("alg".to_owned()),
                    Just("kid".to_owned()),
                    Just("exp".to_owned()),
                    Just("jku".to_owned()),
                    "[a-z]{1,4}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn authorization_header_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), max in 0usize..400) {
        let _ = parse_bearer(&bytes, max);
    }

    #[test]
    fn authorization_header_round_trips(token in "[A-Za-z0-9._~+/-]{1,40}=?", scheme in "(?i)bearer", spaces in " {1,3}") {
        let header = format!("{scheme}{spaces}{token}");
        prop_assert_eq!(parse_bearer(header.as_bytes(), 8192), Ok(token.as_str()));
    }

    #[test]
    fn api_key_parsing_never_panics(s in ".{0,80}") {
        let _ = parse_key_id(&s);
    }

    #[test]
    fn api_key_like_strings_never_panic(id in "[0-9a-fA-F_]{0,20}", secret in "[A-Za-z0-9_=-]{0,50}") {
        let _ = parse_key_id(&format!("mlg_{id}_{secret}"));
    }

    #[test]
    fn jwt_parsing_never_panics_on_text(s in ".{0,200}") {
        let _ = parse_header(&s, 8192);
        let _ = verifier().verify(&s);
    }

    #[test]
    fn jwt_parsing_never_panics_on_structured_tokens(header in json_value(), claims in json_value(), sig in prop::collection::vec(any::<u8>(), 0..80)) {
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
            URL_SAFE_NO_PAD.encode(sig),
        );
        let _ = parse_header(&token, 8192);
        prop_assert!(verifier().verify(&token).is_err());
    }

    #[test]
    fn token_form_parsing_never_panics(body in prop::collection::vec(any::<u8>(), 0..200), ct in ".{0,40}") {
        let _ = parse_form(Some(&ct), &body);
        let _ = parse_form(Some("application/x-www-form-urlencoded"), &body);
    }
}
