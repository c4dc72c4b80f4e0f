//! The Fernet spec's conformance vectors (`tests/data/*.json`, copied from
//! fernet/spec: see tests/data/PROVENANCE.md) and extra negative cases.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, KeyInit, Mac};
use mlguard_crypto::{Fernet, KeyError};
use serde::Deserialize;
use sha2::Sha256;

#[derive(Deserialize)]
struct Generate {
    token: String,
    now: String,
    iv: Vec<u8>,
    src: String,
    secret: String,
}

#[derive(Deserialize)]
struct Verify {
    token: String,
    now: String,
    ttl_sec: u64,
    src: String,
    secret: String,
}

#[derive(Deserialize)]
struct Invalid {
    desc: String,
    token: String,
    now: String,
    ttl_sec: u64,
    secret: String,
}

fn load<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let text = std::fs::read_to_string(common::data_path(name)).unwrap();
    let cases: Vec<T> = serde_json::from_str(&text).unwrap();
    assert!(!cases.is_empty(), "{name} has no cases");
    cases
}

#[test]
fn generate_json_tokens_are_reproduced_byte_for_byte() {
    for case in load::<Generate>("generate.json") {
        let fernet = Fernet::new(&case.secret).unwrap();
        let iv: [u8; 16] = case.iv.as_slice().try_into().unwrap();
        let now = common::rfc3339_to_unix(&case.now);
        let token = fernet.encrypt_at_time_with_iv_danger(case.src.as_bytes(), now, iv);
        assert_eq!(token, case.token);
    }
}

#[test]
fn verify_json_tokens_decrypt_to_their_source() {
    for case in load::<Verify>("verify.json") {
        let fernet = Fernet::new(&case.secret).unwrap();
        let now = common::rfc3339_to_unix(&case.now);
        let ttl = Duration::from_secs(case.ttl_sec);
        let plaintext = fernet.decrypt_at_time(&case.token, ttl, now).unwrap();
        assert_eq!(plaintext, case.src.as_bytes());
        assert_eq!(fernet.decrypt(&case.token).unwrap(), case.src.as_bytes());
        assert_eq!(fernet.extract_timestamp(&case.token).unwrap(), now - 1);
    }
}

#[test]
fn invalid_json_tokens_are_all_rejected() {
    let cases = load::<Invalid>("invalid.json");
    assert_eq!(cases.len(), 8);
    for case in cases {
        let fernet = Fernet::new(&case.secret).unwrap();
        let now = common::rfc3339_to_unix(&case.now);
        let ttl = Duration::from_secs(case.ttl_sec);
        assert!(
            fernet.decrypt_at_time(&case.token, ttl, now).is_err(),
            "accepted: {}",
            case.desc
        );
    }
}

// ---- extra negative cases -------------------------------------------------

const SECRET: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const NOW: u64 = 499_162_800;
const TTL: Duration = Duration::from_secs(60);

fn key_bytes() -> Vec<u8> {
    URL_SAFE.decode(SECRET).unwrap()
}

/// Sign arbitrary token bytes with the vectors' key, so a case fails for
/// its own reason and not because of the MAC.
fn sign(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key_bytes()[..16]).unwrap();
    mac.update(body);
    let mut token = body.to_vec();
    token.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE.encode(token)
}

fn fernet() -> Fernet {
    Fernet::new(SECRET).unwrap()
}

/// A genuine token's decoded bytes (without MAC), to mutate.
fn genuine_body(message: &[u8]) -> Vec<u8> {
    let token = fernet().encrypt_at_time_with_iv_danger(message, NOW, [7; 16]);
    let mut bytes = URL_SAFE.decode(token).unwrap();
    bytes.truncate(bytes.len() - 32);
    bytes
}

#[test]
fn signed_helper_reproduces_genuine_tokens() {
    // The mutation cases below are only meaningful if `sign` is right.
    let token = fernet().encrypt_at_time_with_iv_danger(b"abc", NOW, [7; 16]);
    assert_eq!(sign(&genuine_body(b"abc")), token);
    assert_eq!(fernet().decrypt(&token).unwrap(), b"abc");
}

#[test]
fn version_0x81_is_rejected_even_with_a_valid_mac() {
    let mut body = genuine_body(b"abc");
    body[0] = 0x81;
    assert!(fernet().decrypt(&sign(&body)).is_err());
    assert!(fernet().decrypt_at_time(&sign(&body), TTL, NOW).is_err());
}

#[test]
fn empty_token_is_rejected() {
    assert!(fernet().decrypt("").is_err());
    assert!(fernet().extract_timestamp("").is_err());
}

#[test]
fn token_without_ciphertext_is_rejected_even_with_a_valid_mac() {
    let body = genuine_body(b"abc");
    // version + timestamp + IV, no ciphertext block, then a valid MAC
    assert!(fernet().decrypt(&sign(&body[..25])).is_err());
    // version + timestamp only
    assert!(fernet().decrypt(&sign(&body[..9])).is_err());
    // version only
    assert!(fernet().decrypt(&sign(&body[..1])).is_err());
}

#[test]
fn bad_padding_is_rejected_even_with_a_valid_mac() {
    let mut body = genuine_body(b"abc");
    let last = body.len() - 1;
    body[last] ^= 1; // corrupts the last plaintext block's padding
    assert!(fernet().decrypt(&sign(&body)).is_err());
}

#[test]
fn forged_max_timestamp_is_an_invalid_token_not_an_overflow() {
    let mut body = genuine_body(b"abc");
    body[1..9].copy_from_slice(&u64::MAX.to_be_bytes());
    let token = sign(&body);
    assert!(fernet().decrypt_at_time(&token, TTL, NOW).is_err());
    assert!(
        fernet()
            .decrypt_at_time(&token, Duration::from_secs(u64::MAX), u64::MAX)
            .is_err()
    );
    // Without a TTL the timestamp is not checked (as in Python), and the
    // token is authentic, so it decrypts.
    assert_eq!(fernet().decrypt(&token).unwrap(), b"abc");
}

#[test]
fn far_future_is_rejected_only_beyond_sixty_seconds() {
    let fernet = fernet();
    let token = fernet.encrypt_at_time(b"x", NOW + 60);
    assert!(fernet.decrypt_at_time(&token, TTL, NOW).is_ok());
    let token = fernet.encrypt_at_time(b"x", NOW + 61);
    assert!(fernet.decrypt_at_time(&token, TTL, NOW).is_err());
}

#[test]
fn ttl_boundary_is_inclusive() {
    let fernet = fernet();
    let token = fernet.encrypt_at_time(b"x", NOW);
    assert!(fernet.decrypt_at_time(&token, TTL, NOW + 60).is_ok());
    assert!(fernet.decrypt_at_time(&token, TTL, NOW + 61).is_err());
}

#[test]
fn a_token_under_another_key_is_rejected() {
    let other = Fernet::new(&Fernet::generate_key()).unwrap();
    let token = other.encrypt(b"abc");
    assert!(fernet().decrypt(&token).is_err());
    assert!(fernet().extract_timestamp(&token).is_err());
}

/// Python's `urlsafe_b64decode` leaves `+` and `/` alone after mapping
/// `-_` to `+/`, so Python's Fernet accepts a token written in the standard
/// alphabet; we do too (the interop test checks the same tokens against the
/// real `cryptography` package).
#[test]
fn standard_alphabet_plus_slash_decodes_as_python_does() {
    let fernet = fernet();
    let mut found = false;
    for i in 0u8..=255 {
        let token = fernet.encrypt_at_time_with_iv_danger(b"find - and _", NOW, [i; 16]);
        if token.contains('-') && token.contains('_') {
            let standard = token.replace('-', "+").replace('_', "/");
            assert_eq!(fernet.decrypt(&standard).unwrap(), b"find - and _");
            found = true;
            break;
        }
    }
    assert!(found, "no token with both - and _ in 256 tries");
}

/// Python's `urlsafe_b64decode` raises "Incorrect padding" when the `=`
/// padding is missing, and Python's Fernet then rejects the token. So do we.
#[test]
fn missing_padding_is_rejected_as_python_does() {
    let fernet = fernet();
    let token = fernet.encrypt_at_time_with_iv_danger(b"hello", NOW, [0; 16]);
    assert!(token.ends_with("=="));
    assert!(fernet.decrypt(&token).is_ok());
    assert!(fernet.decrypt(token.trim_end_matches('=')).is_err());
    assert!(fernet.decrypt(&token[..token.len() - 1]).is_err());
}

#[test]
fn non_ascii_token_is_rejected() {
    let token = fernet().encrypt(b"abc");
    assert!(fernet().decrypt(&format!("{token}\u{e9}")).is_err());
}

#[test]
fn key_errors_say_why() {
    assert_eq!(
        Fernet::new("c2hvcnQ=").unwrap_err(),
        KeyError::WrongLength {
            expected: 32,
            actual: 5
        }
    );
    // Missing padding: Python's `Fernet(key)` raises here too.
    assert_eq!(
        Fernet::new(SECRET.trim_end_matches('=')).unwrap_err(),
        KeyError::InvalidBase64
    );
    assert_eq!(
        Fernet::new("").unwrap_err(),
        KeyError::WrongLength {
            expected: 32,
            actual: 0
        }
    );
    let generated = Fernet::generate_key();
    assert_eq!(URL_SAFE.decode(&generated).unwrap().len(), 32);
    assert_ne!(generated, Fernet::generate_key());
}

#[test]
fn every_failure_is_the_same_error() {
    let fernet = fernet();
    let mut body = genuine_body(b"abc");
    let tampered = {
        let mut token = URL_SAFE.decode(sign(&body)).unwrap();
        token[30] ^= 1;
        URL_SAFE.encode(token)
    };
    body[0] = 0x81;
    let errors = [
        fernet.decrypt("").unwrap_err(),
        fernet.decrypt("%%%").unwrap_err(),
        fernet.decrypt(&sign(&body)).unwrap_err(),
        fernet.decrypt(&tampered).unwrap_err(),
        fernet
            .decrypt_at_time(&fernet.encrypt_at_time(b"x", 0), TTL, NOW)
            .unwrap_err(),
    ];
    for error in &errors {
        assert_eq!(error, &errors[0]);
        assert_eq!(error.to_string(), "invalid token");
    }
}
