//! The HMAC key that signs and verifies model files.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::KeyError;

type HmacSha256 = Hmac<Sha256>;

/// A secret key for HMAC-SHA256 model signatures. Zeroized on drop; never printed.
///
/// ```
/// use mlguard_model::ModelKey;
/// let key = ModelKey::new(vec![7u8; 32]).unwrap();
/// assert_eq!(format!("{key:?}"), "ModelKey(<redacted>)");
/// assert!(ModelKey::new(b"short".to_vec()).is_err());
/// ```
#[derive(Clone)]
pub struct ModelKey(Zeroizing<Vec<u8>>);

impl ModelKey {
    /// Minimum key length in bytes (the HMAC-SHA256 output size).
    pub const MIN_LEN: usize = 32;

    /// Wraps key bytes.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] below [`Self::MIN_LEN`] bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(bytes);
        if bytes.len() < Self::MIN_LEN {
            return Err(KeyError::TooShort {
                len: bytes.len(),
                min: Self::MIN_LEN,
            });
        }
        Ok(Self(bytes))
    }

    fn mac(&self, version: u32, body: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail; fall back to an empty-keyed
        // MAC would be wrong, hence the explicit match.
        let mut mac = match <HmacSha256 as KeyInit>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac(),
        };
        mac.update(b"mlguard-model\0");
        mac.update(&version.to_be_bytes());
        mac.update(body);
        mac
    }

    /// The signature of `body` under format `version`.
    pub(crate) fn sign(&self, version: u32, body: &[u8]) -> [u8; 32] {
        self.mac(version, body).finalize().into_bytes().into()
    }

    /// Constant-time check of `tag` against `body`.
    pub(crate) fn verify(&self, version: u32, body: &[u8], tag: &[u8]) -> bool {
        self.mac(version, body).verify_slice(tag).is_ok()
    }
}

#[cold]
fn unreachable_hmac() -> ! {
    // HMAC's key length is unbounded; `new_from_slice` never errors for it.
    unreachable!("HMAC-SHA256 accepts keys of any length")
}

impl fmt::Debug for ModelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ModelKey(<redacted>)")
    }
}
