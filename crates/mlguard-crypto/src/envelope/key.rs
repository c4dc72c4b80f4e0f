//! One AEAD key with its id, and the primitive layer (seal/open) under it.

use std::fmt;

use aes_gcm::Aes256Gcm;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use zeroize::Zeroize;

use super::algorithm::Algorithm;
use crate::error::KeyError;
use crate::random;

/// The keyed primitive. Both ciphers wipe their key on drop (`zeroize`
/// features on).
#[derive(Clone)]
enum Cipher {
    XChaCha20Poly1305(Box<XChaCha20Poly1305>),
    Aes256Gcm(Box<Aes256Gcm>),
}

/// An AEAD key with an id. The id goes into tokens so a [`Keyring`](crate::Keyring)
/// can pick the key to decrypt with; it must be 1 to 64 characters from
/// `A-Z a-z 0-9 _ -` (for example `2025-01` or `primary`).
///
/// The key is zeroized on drop; `Debug` shows the id and algorithm only.
///
/// ```
/// use mlguard_crypto::{AeadKey, Algorithm};
///
/// let key = AeadKey::generate("2025-01", Algorithm::default())?;
/// assert_eq!(key.id(), "2025-01");
/// assert!(!format!("{key:?}").contains("key: ["));
/// # Ok::<(), mlguard_crypto::KeyError>(())
/// ```
#[derive(Clone)]
pub struct AeadKey {
    id: String,
    algorithm: Algorithm,
    cipher: Cipher,
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AeadKey")
            .field("id", &self.id)
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Whether `id` is a valid key id.
pub(crate) fn valid_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl AeadKey {
    /// A fresh random key from the operating system's CSPRNG.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKeyId`].
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub fn generate(id: &str, algorithm: Algorithm) -> Result<Self, KeyError> {
        let mut bytes = random::array::<{ Algorithm::KEY_LEN }>();
        let key = Self::from_bytes(id, algorithm, &bytes);
        bytes.zeroize();
        key
    }

    /// A key from its 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidKeyId`] or [`KeyError::WrongLength`].
    pub fn from_bytes(id: &str, algorithm: Algorithm, key: &[u8]) -> Result<Self, KeyError> {
        if !valid_key_id(id) {
            return Err(KeyError::InvalidKeyId);
        }
        let wrong_length = |_| KeyError::WrongLength {
            expected: Algorithm::KEY_LEN,
            actual: key.len(),
        };
        let cipher = match algorithm {
            Algorithm::XChaCha20Poly1305 => Cipher::XChaCha20Poly1305(Box::new(
                XChaCha20Poly1305::new_from_slice(key).map_err(wrong_length)?,
            )),
            Algorithm::Aes256Gcm => {
                Cipher::Aes256Gcm(Box::new(Aes256Gcm::new_from_slice(key).map_err(wrong_length)?))
            }
        };
        Ok(Self {
            id: id.to_owned(),
            algorithm,
            cipher,
        })
    }

    /// A key from urlsafe base64 (padding optional), e.g. from configuration.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidBase64`], [`KeyError::InvalidKeyId`] or
    /// [`KeyError::WrongLength`].
    ///
    /// ```
    /// # use mlguard_crypto::{AeadKey, Algorithm};
    /// let key = AeadKey::from_base64("k1", Algorithm::Aes256Gcm,
    ///     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")?;
    /// assert_eq!(key.algorithm(), Algorithm::Aes256Gcm);
    /// # Ok::<(), mlguard_crypto::KeyError>(())
    /// ```
    pub fn from_base64(id: &str, algorithm: Algorithm, key_b64: &str) -> Result<Self, KeyError> {
        let mut bytes = URL_SAFE_NO_PAD
            .decode(key_b64.trim_end_matches('='))
            .map_err(|_| KeyError::InvalidBase64)?;
        let key = Self::from_bytes(id, algorithm, &bytes);
        bytes.zeroize();
        key
    }

    /// The key id written into tokens.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The algorithm this key is for.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Encrypt: ciphertext followed by the 16-byte tag. `nonce` must be
    /// `algorithm().nonce_len()` bytes.
    pub(crate) fn seal(&self, nonce: &[u8], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, ()> {
        let payload = Payload { msg, aad };
        match &self.cipher {
            Cipher::XChaCha20Poly1305(cipher) => {
                let nonce = nonce.try_into().map_err(|_| ())?;
                cipher.encrypt(nonce, payload).map_err(|_| ())
            }
            Cipher::Aes256Gcm(cipher) => {
                let nonce = nonce.try_into().map_err(|_| ())?;
                cipher.encrypt(nonce, payload).map_err(|_| ())
            }
        }
    }

    /// Decrypt and verify ciphertext-with-tag.
    pub(crate) fn open(&self, nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, ()> {
        let payload = Payload { msg: sealed, aad };
        match &self.cipher {
            Cipher::XChaCha20Poly1305(cipher) => {
                let nonce = nonce.try_into().map_err(|_| ())?;
                cipher.decrypt(nonce, payload).map_err(|_| ())
            }
            Cipher::Aes256Gcm(cipher) => {
                let nonce = nonce.try_into().map_err(|_| ())?;
                cipher.decrypt(nonce, payload).map_err(|_| ())
            }
        }
    }
}
