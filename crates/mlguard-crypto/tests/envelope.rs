//! The AEAD envelope: round trips for both algorithms, associated data,
//! rotation by key id, and one error for every failure.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_crypto::{AeadKey, Algorithm, KeyError, Keyring};

fn keyring(algorithm: Algorithm) -> Keyring {
    Keyring::new(AeadKey::generate("k1", algorithm).unwrap())
}

const ALGORITHMS: [Algorithm; 2] = [Algorithm::XChaCha20Poly1305, Algorithm::Aes256Gcm];

#[test]
fn round_trips_with_associated_data() {
    for algorithm in ALGORITHMS {
        let keyring = keyring(algorithm);
        for message in [&b""[..], b"x", &[0xff; 1000]] {
            let token = keyring.encrypt(message, b"ctx").unwrap();
            assert_eq!(keyring.decrypt(&token, b"ctx").unwrap(), message);
        }
    }
}

#[test]
fn token_names_version_algorithm_and_key_id_with_a_fresh_nonce() {
    for algorithm in ALGORITHMS {
        let keyring = keyring(algorithm);
        let a = keyring.encrypt(b"same", b"").unwrap();
        let b = keyring.encrypt(b"same", b"").unwrap();
        assert_ne!(a, b, "nonces must be random");
        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], algorithm.token_name());
        assert_eq!(parts[2], "k1");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[3]).unwrap().len(),
            algorithm.nonce_len()
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[4]).unwrap().len(), 4 + 16);
    }
}

#[test]
fn xchacha_is_the_default() {
    assert_eq!(Algorithm::default(), Algorithm::XChaCha20Poly1305);
}

#[test]
fn wrong_key_wrong_ad_and_tampering_are_one_error() {
    for algorithm in ALGORITHMS {
        let keyring = keyring(algorithm);
        let token = keyring.encrypt(b"secret", b"ad").unwrap();
        // Same key id, different key material.
        let impostor = Keyring::new(AeadKey::generate("k1", algorithm).unwrap());
        let mut errors = vec![
            impostor.decrypt(&token, b"ad").unwrap_err(),
            keyring.decrypt(&token, b"ae").unwrap_err(),
            keyring.decrypt(&token, b"").unwrap_err(),
            keyring.decrypt("", b"ad").unwrap_err(),
            keyring
                .decrypt(&token.replacen("k1", "k2", 1), b"ad")
                .unwrap_err(),
        ];
        // Flip every bit of the sealed part, one at a time.
        let (head, sealed) = token.rsplit_once('.').unwrap();
        let sealed = URL_SAFE_NO_PAD.decode(sealed).unwrap();
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            let bad = format!("{head}.{}", URL_SAFE_NO_PAD.encode(bad));
            errors.push(keyring.decrypt(&bad, b"ad").unwrap_err());
        }
        // And the nonce.
        let parts: Vec<&str> = token.split('.').collect();
        let mut nonce = URL_SAFE_NO_PAD.decode(parts[3]).unwrap();
        nonce[0] ^= 1;
        let bad = format!(
            "{}.{}.{}.{}.{}",
            parts[0],
            parts[1],
            parts[2],
            URL_SAFE_NO_PAD.encode(nonce),
            parts[4]
        );
        errors.push(keyring.decrypt(&bad, b"ad").unwrap_err());
        for error in &errors {
            assert_eq!(error, &errors[0]);
        }
        assert_eq!(errors[0].to_string(), "invalid token");
    }
}

/// Seal `plaintext` outside the crate, with the RustCrypto ciphers directly,
/// authenticating `aad_header` but writing `token_header` into the token. The
/// token is otherwise well formed: right nonce length, right key, right tag.
fn forge(
    algorithm: Algorithm,
    key: &[u8; 32],
    token_header: &str,
    aad_header: &str,
    associated_data: &[u8],
) -> String {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    let nonce = vec![7u8; algorithm.nonce_len()];
    let aad = [aad_header.as_bytes(), associated_data].concat();
    let payload = Payload {
        msg: b"forged",
        aad: &aad,
    };
    let sealed = match algorithm {
        Algorithm::Aes256Gcm => aes_gcm::Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt(nonce.as_slice().try_into().unwrap(), payload)
            .unwrap(),
        _ => chacha20poly1305::XChaCha20Poly1305::new_from_slice(key)
            .unwrap()
            .encrypt(nonce.as_slice().try_into().unwrap(), payload)
            .unwrap(),
    };
    format!(
        "{token_header}{}.{}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(sealed)
    )
}

#[test]
fn key_id_in_the_header_is_authenticated() {
    // One keyring, the same key bytes and algorithm under two ids: a token
    // relabelled from one id to the other passes every check before the AEAD
    // (parse, key lookup, algorithm match) and opens with the very same key,
    // so only the header in the associated data can refuse it.
    let bytes = [9u8; 32];
    for algorithm in ALGORITHMS {
        let keyring = Keyring::new(AeadKey::from_bytes("a", algorithm, &bytes).unwrap())
            .with_key(AeadKey::from_bytes("b", algorithm, &bytes).unwrap())
            .unwrap();
        let token = keyring.encrypt(b"m", b"ad").unwrap();
        assert_eq!(keyring.decrypt(&token, b"ad").unwrap(), b"m", "control");
        let relabelled = token.replacen(".a.", ".b.", 1);
        assert_ne!(relabelled, token);
        assert!(
            keyring.decrypt(&relabelled, b"ad").is_err(),
            "{algorithm:?}: a token relabelled to another key id holding the same key opened"
        );
    }
}

#[test]
fn version_and_algorithm_in_the_header_are_authenticated() {
    // Tokens forged with the ciphers directly. The control proves the exact
    // associated data is `v1.<algorithm>.<key id>.` followed by the caller's
    // data; then each forgery authenticates a header that differs from the
    // one written in the token only in its version or algorithm field, with
    // the right key, nonce length and tag, and must be refused.
    let bytes = [9u8; 32];
    for algorithm in ALGORITHMS {
        let keyring = Keyring::new(AeadKey::from_bytes("k", algorithm, &bytes).unwrap());
        let header = format!("v1.{}.k.", algorithm.token_name());
        let genuine = forge(algorithm, &bytes, &header, &header, b"ad");
        assert_eq!(
            keyring.decrypt(&genuine, b"ad").unwrap(),
            b"forged",
            "{algorithm:?}: control: the header is the associated data's prefix"
        );
        let other = ALGORITHMS.into_iter().find(|a| *a != algorithm).unwrap();
        for aad_header in [
            format!("v2.{}.k.", algorithm.token_name()),
            format!("v0.{}.k.", algorithm.token_name()),
            format!("v1.{}.k.", other.token_name()),
            "k.".to_owned(),
            String::new(),
        ] {
            let forged = forge(algorithm, &bytes, &header, &aad_header, b"ad");
            assert!(
                keyring.decrypt(&forged, b"ad").is_err(),
                "{algorithm:?}: a token sealed under header {aad_header:?} opened as {header:?}"
            );
        }
    }
}

#[test]
fn algorithm_mismatch_is_refused() {
    // A keyring holding the same bytes under both algorithms cannot be
    // tricked into reading one algorithm's token as the other's.
    let bytes = [9u8; 32];
    let gcm = Keyring::new(AeadKey::from_bytes("k", Algorithm::Aes256Gcm, &bytes).unwrap());
    let token = gcm.encrypt(b"m", b"").unwrap();
    let relabelled = token.replacen("aes256gcm", "xchacha20poly1305", 1);
    let xchacha = Keyring::new(AeadKey::from_bytes("k", Algorithm::XChaCha20Poly1305, &bytes).unwrap());
    assert!(xchacha.decrypt(&relabelled, b"").is_err());
    assert!(xchacha.decrypt(&token, b"").is_err());
}

#[test]
fn rotation_by_key_id() {
    let old = AeadKey::generate("2024", Algorithm::Aes256Gcm).unwrap();
    let keyring = Keyring::new(old.clone());
    let token = keyring.encrypt(b"data", b"ad").unwrap();

    let keyring = keyring
        .with_key(AeadKey::generate("2025", Algorithm::XChaCha20Poly1305).unwrap())
        .unwrap()
        .with_primary("2025")
        .unwrap();
    assert_eq!(keyring.primary_id(), "2025");
    assert_eq!(keyring.decrypt(&token, b"ad").unwrap(), b"data");
    let fresh = keyring.encrypt(b"new", b"").unwrap();
    assert!(fresh.starts_with("v1.xchacha20poly1305.2025."));

    let rotated = keyring.rotate(&token, b"ad").unwrap();
    assert!(rotated.starts_with("v1.xchacha20poly1305.2025."));
    assert_eq!(keyring.decrypt(&rotated, b"ad").unwrap(), b"data");
    // The old key alone cannot read the rotated token; a keyring without
    // the old key cannot read the old token.
    assert!(Keyring::new(old).decrypt(&rotated, b"ad").is_err());
    let new_only = Keyring::new(AeadKey::generate("2025", Algorithm::XChaCha20Poly1305).unwrap());
    assert!(new_only.decrypt(&token, b"ad").is_err());
    assert!(keyring.rotate(&token, b"other ad").is_err());
}

#[test]
fn key_construction_errors_say_why() {
    assert_eq!(
        AeadKey::from_bytes("k", Algorithm::Aes256Gcm, &[0; 16]).unwrap_err(),
        KeyError::WrongLength {
            expected: 32,
            actual: 16
        }
    );
    for bad_id in ["", "has.dot", "spa ce", "ünï", &"x".repeat(65)] {
        assert_eq!(
            AeadKey::generate(bad_id, Algorithm::default()).unwrap_err(),
            KeyError::InvalidKeyId,
            "{bad_id:?}"
        );
    }
    assert_eq!(
        AeadKey::from_base64("k", Algorithm::default(), "not base64!").unwrap_err(),
        KeyError::InvalidBase64
    );
    let keyring = keyring(Algorithm::default());
    assert_eq!(
        keyring
            .clone()
            .with_key(AeadKey::generate("k1", Algorithm::Aes256Gcm).unwrap())
            .unwrap_err(),
        KeyError::DuplicateKeyId("k1".into())
    );
    assert_eq!(
        keyring.with_primary("nope").unwrap_err(),
        KeyError::UnknownKeyId("nope".into())
    );
}

#[test]
fn debug_never_shows_key_bytes() {
    let key = AeadKey::from_bytes("k", Algorithm::Aes256Gcm, &[0x41; 32]).unwrap();
    let keyring = Keyring::new(key.clone());
    for shown in [format!("{key:?}"), format!("{keyring:?}")] {
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("65"), "{shown}");
        assert!(!shown.contains("0x41") && !shown.contains("AAAA"), "{shown}");
    }
}
