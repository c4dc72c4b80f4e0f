//! Pre-keyed HMAC for `HS256`, `HS384` and `HS512` verification.
//!
//! HMAC's key schedule (hashing the padded key into the inner and outer states, two hash
//! blocks) depends only on the secret, so it runs once, when the [`VerifyingKey`] is built;
//! each verification clones the keyed state and hashes only the token. jsonwebtoken's
//! `crypto::verify` redoes the key schedule, boxes a verifier and base64-decodes the
//! signature again on every call.
//!
//! Tags are compared in constant time and must have the hash's full length (RFC 7518 section
//! 3.2: a truncated tag is not an HS256 signature).
//!
//! [`VerifyingKey`]: super::VerifyingKey

use super::key::JwtAlgorithm;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384, Sha512};
use std::fmt;

/// A keyed HMAC state for one of the three HMAC algorithms. The state is derived from the
/// secret (it is as good as the secret for forging tags), so it is zeroized when dropped and
/// never shown by `Debug`.
#[derive(Clone)]
pub(super) enum HmacKey {
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
    Sha512(Hmac<Sha512>),
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self {
            Self::Sha256(_) => "HS256",
            Self::Sha384(_) => "HS384",
            Self::Sha512(_) => "HS512",
        };
        write!(f, "HmacKey({alg})")
    }
}

impl HmacKey {
    /// The keyed state for `alg` and `secret`; `None` when `alg` is not an HMAC algorithm.
    /// (Secret length rules are the caller's: HMAC itself takes a key of any length.)
    pub(super) fn new(alg: JwtAlgorithm, secret: &[u8]) -> Option<Self> {
        Some(match alg {
            JwtAlgorithm::HS256 => Self::Sha256(Hmac::new_from_slice(secret).ok()?),
            JwtAlgorithm::HS384 => Self::Sha384(Hmac::new_from_slice(secret).ok()?),
            JwtAlgorithm::HS512 => Self::Sha512(Hmac::new_from_slice(secret).ok()?),
            _ => return None,
        })
    }

    /// Whether `tag` is this key's HMAC of `message`: full length, compared in constant time.
    pub(super) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        match self {
            Self::Sha256(keyed) => check(keyed, message, tag),
            Self::Sha384(keyed) => check(keyed, message, tag),
            Self::Sha512(keyed) => check(keyed, message, tag),
        }
    }
}

fn check<M: Mac + Clone>(keyed: &M, message: &[u8], tag: &[u8]) -> bool {
    let mut mac = keyed.clone();
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2 ("Jefe"), HMAC-SHA-256.
    const KEY: &[u8] = b"Jefe";
    const DATA: &[u8] = b"what do ya want for nothing?";
    const TAG: [u8; 32] = [
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a,
        0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
    ];

    #[test]
    fn known_answer_and_reuse_of_the_keyed_state() {
        let key = HmacKey::new(JwtAlgorithm::HS256, KEY).unwrap();
        // Twice: the keyed state is cloned, never consumed or left mid-message.
        assert!(key.verify(DATA, &TAG));
        assert!(key.verify(DATA, &TAG));
        let mut wrong = TAG;
        wrong[31] ^= 1;
        assert!(!key.verify(DATA, &wrong));
        assert!(!key.verify(b"what do ya want for nothing!", &TAG));
    }

    #[test]
    fn truncated_and_extended_tags_are_refused() {
        let key = HmacKey::new(JwtAlgorithm::HS256, KEY).unwrap();
        assert!(!key.verify(DATA, &TAG[..16]));
        assert!(!key.verify(DATA, &TAG[..31]));
        assert!(!key.verify(DATA, &[]));
        let mut longer = TAG.to_vec();
        longer.push(0);
        assert!(!key.verify(DATA, &longer));
    }

    #[test]
    fn only_hmac_algorithms_and_no_secret_in_debug() {
        assert!(HmacKey::new(JwtAlgorithm::RS256, KEY).is_none());
        assert!(HmacKey::new(JwtAlgorithm::EdDSA, KEY).is_none());
        let key = HmacKey::new(JwtAlgorithm::HS512, KEY).unwrap();
        assert_eq!(format!("{key:?}"), "HmacKey(HS512)");
    }
}
