//! Fernet and MultiFernet behaviour through the public API.

use std::time::Duration;

use mlguard_crypto::{Fernet, KeyError, MultiFernet};

fn key() -> Fernet {
    Fernet::new(&Fernet::generate_key()).unwrap()
}

#[test]
fn round_trip_and_timestamps() {
    let fernet = key();
    let token = fernet.encrypt_at_time(b"payload", 1_000_000);
    assert_eq!(fernet.extract_timestamp(&token).unwrap(), 1_000_000);
    assert_eq!(fernet.decrypt(&token).unwrap(), b"payload");
    let now_token = fernet.encrypt(b"now");
    assert_eq!(
        fernet
            .decrypt_with_ttl(&now_token, Duration::from_secs(5))
            .unwrap(),
        b"now"
    );
    // The old token is far outside a 5 s TTL against the system clock.
    assert!(fernet.decrypt_with_ttl(&token, Duration::from_secs(5)).is_err());
}

#[test]
fn random_ivs_make_distinct_tokens() {
    let fernet = key();
    assert_ne!(fernet.encrypt_at_time(b"m", 1), fernet.encrypt_at_time(b"m", 1));
}

#[test]
fn multifernet_encrypts_with_first_and_decrypts_with_any() {
    let (a, b) = (key(), key());
    let multi = MultiFernet::new(vec![a.clone(), b.clone()]).unwrap();
    let token = multi.encrypt(b"m");
    assert_eq!(a.decrypt(&token).unwrap(), b"m");
    assert!(b.decrypt(&token).is_err());
    assert_eq!(multi.decrypt(&b.encrypt(b"from b")).unwrap(), b"from b");
    assert!(multi.decrypt(&key().encrypt(b"other")).is_err());
    assert_eq!(MultiFernet::new(vec![]).unwrap_err(), KeyError::NoKeys);
}

#[test]
fn multifernet_ttl_and_timestamp() {
    let (a, b) = (key(), key());
    let multi = MultiFernet::new(vec![a, b.clone()]).unwrap();
    let token = b.encrypt_at_time(b"m", 500);
    assert_eq!(multi.extract_timestamp(&token).unwrap(), 500);
    let ttl = Duration::from_secs(10);
    assert!(multi.decrypt_at_time(&token, ttl, 510).is_ok());
    assert!(multi.decrypt_at_time(&token, ttl, 511).is_err());
    assert!(multi.decrypt_with_ttl(&token, ttl).is_err());
    let fresh = multi.encrypt_at_time(b"m", 7);
    assert_eq!(multi.extract_timestamp(&fresh).unwrap(), 7);
}

#[test]
fn rotate_reencrypts_under_first_key_and_keeps_timestamp() {
    let (old, new) = (key(), key());
    let token = old.encrypt_at_time(b"rotate me", 12_345);
    let multi = MultiFernet::new(vec![new.clone(), old.clone()]).unwrap();
    let rotated = multi.rotate(&token).unwrap();
    assert_ne!(rotated, token);
    assert_eq!(new.decrypt(&rotated).unwrap(), b"rotate me");
    assert!(old.decrypt(&rotated).is_err());
    assert_eq!(new.extract_timestamp(&rotated).unwrap(), 12_345);
    assert!(multi.rotate("garbage").is_err());
    assert!(MultiFernet::new(vec![new]).unwrap().rotate(&token).is_err());
}

#[test]
fn debug_never_shows_keys() {
    let fernet = Fernet::from_bytes(&[0x42; 32]).unwrap();
    let multi = MultiFernet::new(vec![fernet.clone()]).unwrap();
    for shown in [format!("{fernet:?}"), format!("{multi:?}")] {
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("66") && !shown.contains("42"), "{shown}");
    }
}
