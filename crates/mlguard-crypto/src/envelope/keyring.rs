//! A set of AEAD keys addressed by id, one of them primary.

use super::key::AeadKey;
use super::token;
use crate::error::{DecryptError, EncryptError, KeyError};
use crate::random;

/// AEAD keys by id. Encrypts with the primary key; decrypts with whichever
/// key the token names; [`rotate`](Self::rotate) re-encrypts under the
/// primary.
///
/// Rotation: add the new key, make it primary, keep old keys for as long as
/// tokens made with them must stay readable (or rotate those tokens).
///
/// ```
/// use mlguard_crypto::{AeadKey, Algorithm, Keyring};
///
/// let old = AeadKey::generate("2024", Algorithm::Aes256Gcm)?;
/// let keyring = Keyring::new(old);
/// let token = keyring.encrypt(b"card 4111", b"user:42")?;
///
/// let keyring = keyring
///     .with_key(AeadKey::generate("2025", Algorithm::XChaCha20Poly1305)?)?
///     .with_primary("2025")?;
/// assert_eq!(keyring.decrypt(&token, b"user:42")?, b"card 4111");
/// assert!(keyring.decrypt(&token, b"user:43").is_err());
///
/// let rotated = keyring.rotate(&token, b"user:42")?;
/// assert!(rotated.starts_with("v1.xchacha20poly1305.2025."));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<AeadKey>,
    /// Index into `keys`; always valid.
    primary: usize,
}

impl Keyring {
    /// A keyring whose only key, `primary`, encrypts.
    #[must_use]
    pub fn new(primary: AeadKey) -> Self {
        Self {
            keys: vec![primary],
            primary: 0,
        }
    }

    /// Add a key (decrypt-only unless made primary).
    ///
    /// # Errors
    ///
    /// [`KeyError::DuplicateKeyId`] if a key with that id is already there.
    pub fn with_key(mut self, key: AeadKey) -> Result<Self, KeyError> {
        if self.find(key.id()).is_some() {
            return Err(KeyError::DuplicateKeyId(key.id().to_owned()));
        }
        self.keys.push(key);
        Ok(self)
    }

    /// Make the key with id `id` the one that encrypts.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnknownKeyId`] if no key has that id.
    pub fn with_primary(mut self, id: &str) -> Result<Self, KeyError> {
        self.primary = self
            .keys
            .iter()
            .position(|key| key.id() == id)
            .ok_or_else(|| KeyError::UnknownKeyId(id.to_owned()))?;
        Ok(self)
    }

    /// The id of the key that encrypts.
    #[must_use]
    pub fn primary_id(&self) -> &str {
        self.primary_key().id()
    }

    fn primary_key(&self) -> &AeadKey {
        &self.keys[self.primary]
    }

    fn find(&self, id: &str) -> Option<&AeadKey> {
        self.keys.iter().find(|key| key.id() == id)
    }

    /// Encrypt `plaintext` under the primary key with a fresh random nonce,
    /// binding `associated_data` (which is not stored in the token: the
    /// same bytes must be given to decrypt).
    ///
    /// # Errors
    ///
    /// [`EncryptError`] if the message is longer than the algorithm allows.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub fn encrypt(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<String, EncryptError> {
        let key = self.primary_key();
        let header = token::header(key.algorithm(), key.id());
        let mut nonce = [0u8; 24];
        let nonce = &mut nonce[..key.algorithm().nonce_len()];
        random::fill(nonce);
        let sealed = key
            .seal(nonce, &token::aad(&header, associated_data), plaintext)
            .map_err(|()| EncryptError::new())?;
        Ok(token::build(&header, nonce, &sealed))
    }

    /// Decrypt a token made by [`encrypt`](Self::encrypt) with any key in
    /// this keyring and the same associated data.
    ///
    /// # Errors
    ///
    /// One [`DecryptError`] for everything: malformed token, unknown key id,
    /// wrong key, wrong associated data, tampering.
    pub fn decrypt(&self, token: &str, associated_data: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let parsed = token::parse(token).map_err(DecryptError::logged)?;
        let key = self
            .find(parsed.key_id)
            .ok_or_else(|| DecryptError::logged("unknown key id"))?;
        if key.algorithm() != parsed.algorithm {
            return Err(DecryptError::logged("algorithm does not match the key"));
        }
        let header = token::header(parsed.algorithm, parsed.key_id);
        key.open(
            &parsed.nonce,
            &token::aad(&header, associated_data),
            &parsed.sealed,
        )
        .map_err(|()| DecryptError::logged("AEAD authentication failed"))
    }

    /// Decrypt with any key and re-encrypt under the primary key.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] if the token does not decrypt (or, in theory, the
    /// message is too long for the primary key's algorithm).
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub fn rotate(&self, token: &str, associated_data: &[u8]) -> Result<String, DecryptError> {
        let plaintext = zeroize::Zeroizing::new(self.decrypt(token, associated_data)?);
        self.encrypt(&plaintext, associated_data)
            .map_err(|_| DecryptError::logged("re-encryption failed: message too long"))
    }
}
