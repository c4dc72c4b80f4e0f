//! Property tests: token parsing and decryption never panic, whatever the
//! input, and never accept what was not made with the key.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use mlguard_crypto::{AeadKey, Algorithm, Fernet, Keyring, MultiFernet};
use proptest::prelude::*;
use std::time::Duration;

const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

fn fernet() -> Fernet {
    Fernet::new(KEY).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn fernet_decrypt_never_panics_on_strings(token in any::<String>()) {
        let f = fernet();
        let _ = f.extract_timestamp(&token);
        let _ = f.decrypt_at_time(&token, Duration::from_secs(60), 0);
        prop_assert!(f.decrypt(&token).is_err());
    }

    #[test]
    fn fernet_decrypt_never_panics_on_token_shaped_strings(
        token in "[A-Za-z0-9_=+/-]{0,200}"
    ) {
        prop_assert!(fernet().decrypt(&token).is_err());
    }

    #[test]
    fn fernet_decrypt_never_panics_on_arbitrary_bytes(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..300),
        versioned in any::<bool>(),
        ttl in any::<u64>(),
        now in any::<u64>(),
    ) {
        if versioned && !bytes.is_empty() {
            bytes[0] = 0x80;
        }
        let token = URL_SAFE.encode(&bytes);
        let f = fernet();
        prop_assert!(f.decrypt(&token).is_err());
        prop_assert!(f.decrypt_at_time(&token, Duration::from_secs(ttl), now).is_err());
        let multi = MultiFernet::new(vec![f]).unwrap();
        prop_assert!(multi.rotate(&token).is_err());
    }

    #[test]
    fn fernet_new_never_panics(key in any::<String>()) {
        let _ = Fernet::new(&key);
    }

    #[test]
    fn fernet_round_trips_any_bytes(message in proptest::collection::vec(any::<u8>(), 0..600), now in any::<u64>()) {
        let f = fernet();
        let token = f.encrypt_at_time(&message, now);
        prop_assert_eq!(f.decrypt(&token).unwrap(), message);
        prop_assert_eq!(f.extract_timestamp(&token).unwrap(), now);
    }

    #[test]
    fn aead_decrypt_never_panics_on_strings(token in any::<String>()) {
        let keyring = Keyring::new(AeadKey::from_bytes("k", Algorithm::default(), &[1; 32]).unwrap());
        prop_assert!(keyring.decrypt(&token, b"").is_err());
    }

    /// Structured tokens, biased so that most pass every check before the
    /// AEAD (version, algorithm, key id naming a key of that algorithm, nonce
    /// length, room for a tag) and are refused only by authentication. Measured
    /// once with a counter over 512 cases: 41% (212) reach decryption; the
    /// previous generator (random key id and nonce length) almost never did.
    #[test]
    fn aead_decrypt_never_panics_on_structured_tokens(
        version in prop_oneof![4 => Just("v1"), 1 => prop::sample::select(vec!["v0", "v2", ""])],
        (algorithm, key_id) in prop_oneof![
            4 => prop::sample::select(vec![("aes256gcm", "k"), ("xchacha20poly1305", "kk")]),
            1 => (prop::sample::select(vec!["xchacha20poly1305", "aes256gcm", "x"]), prop::sample::select(vec!["k", "kk", "", "k.k", "z"])),
        ],
        nonce_len in prop_oneof![4 => Just(None), 1 => (0usize..30).prop_map(Some)],
        nonce_bytes in any::<[u8; 30]>(),
        sealed in prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 16..64),
            1 => proptest::collection::vec(any::<u8>(), 0..16),
        ],
    ) {
        // The right nonce length for the algorithm named, unless drawn otherwise.
        let nonce_len = nonce_len.unwrap_or(if algorithm == "aes256gcm" { 12 } else { 24 });
        let nonce = &nonce_bytes[..nonce_len];
        let token = format!(
            "{version}.{algorithm}.{key_id}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(&sealed)
        );
        let keyring = Keyring::new(AeadKey::from_bytes("k", Algorithm::Aes256Gcm, &[1; 32]).unwrap())
            .with_key(AeadKey::from_bytes("kk", Algorithm::XChaCha20Poly1305, &[2; 32]).unwrap())
            .unwrap();
        prop_assert!(keyring.decrypt(&token, b"").is_err());
    }

    #[test]
    fn aead_round_trips_any_bytes(
        message in proptest::collection::vec(any::<u8>(), 0..600),
        ad in proptest::collection::vec(any::<u8>(), 0..40),
        gcm in any::<bool>(),
    ) {
        let algorithm = if gcm { Algorithm::Aes256Gcm } else { Algorithm::XChaCha20Poly1305 };
        let keyring = Keyring::new(AeadKey::from_bytes("k", algorithm, &[3; 32]).unwrap());
        let token = keyring.encrypt(&message, &ad).unwrap();
        prop_assert_eq!(keyring.decrypt(&token, &ad).unwrap(), message);
    }
}
