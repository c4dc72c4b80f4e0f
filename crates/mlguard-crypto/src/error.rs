//! The crate's error types.
//!
//! Configuration mistakes (a malformed key, a duplicate key id) are reported
//! with their reason, because they happen once, at start-up, under the
//! operator's control. Decryption failures are reported as one opaque
//! [`DecryptError`]: telling a caller *why* a token was rejected (bad MAC,
//! bad padding, expired, ...) would hand an attacker an oracle.

/// A key or keyring could not be built. Returned by constructors only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is not valid base64 (Fernet keys are urlsafe base64).
    #[error("key is not valid urlsafe base64")]
    InvalidBase64,
    /// The decoded key has the wrong length.
    #[error("key must be {expected} bytes, got {actual}")]
    WrongLength {
        /// Bytes the algorithm needs.
        expected: usize,
        /// Bytes that were given.
        actual: usize,
    },
    /// A `MultiFernet` needs at least one key.
    #[error("at least one key is required")]
    NoKeys,
    /// A key id must be 1 to 64 characters from `A-Z a-z 0-9 _ -`.
    #[error("key id must be 1 to 64 characters from A-Z a-z 0-9 _ -")]
    InvalidKeyId,
    /// Two keys in one keyring share an id.
    #[error("duplicate key id {0:?}")]
    DuplicateKeyId(String),
    /// The requested primary key id is not in the keyring.
    #[error("unknown key id {0:?}")]
    UnknownKeyId(String),
}

/// A token could not be decrypted.
///
/// Deliberately opaque: a bad MAC, bad padding, bad base64, a wrong version
/// byte, an expired or far-future timestamp, a wrong key, wrong associated
/// data and a truncated token all produce this same value. The internal
/// reason is logged with `tracing::debug!` (target `mlguard_crypto`) and is
/// never part of the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid token")]
pub struct DecryptError(());

impl DecryptError {
    pub(crate) fn logged(reason: &'static str) -> Self {
        tracing::debug!(reason, "token rejected");
        Self(())
    }
}

/// AEAD encryption failed: the message (or associated data) is longer than
/// the algorithm can encrypt under one nonce (64 GiB for AES-256-GCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("message too long to encrypt")]
pub struct EncryptError(());

impl EncryptError {
    pub(crate) fn new() -> Self {
        Self(())
    }
}
