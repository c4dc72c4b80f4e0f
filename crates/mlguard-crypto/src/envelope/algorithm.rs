//! The AEAD algorithms the envelope offers.

/// An AEAD algorithm. Both take 32-byte keys and add a 16-byte tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// XChaCha20-Poly1305: 24-byte random nonces, safe for any number of
    /// messages under one key. The default.
    #[default]
    XChaCha20Poly1305,
    /// AES-256-GCM: 12-byte random nonces; keep each key under 2^32
    /// messages (NIST SP 800-38D's bound for random nonces), then rotate.
    Aes256Gcm,
}

impl Algorithm {
    /// Key length in bytes (32 for both).
    pub const KEY_LEN: usize = 32;

    /// The name written in tokens.
    ///
    /// ```
    /// # use mlguard_crypto::Algorithm;
    /// assert_eq!(Algorithm::default().token_name(), "xchacha20poly1305");
    /// assert_eq!(Algorithm::Aes256Gcm.token_name(), "aes256gcm");
    /// ```
    #[must_use]
    pub const fn token_name(self) -> &'static str {
        match self {
            Self::XChaCha20Poly1305 => "xchacha20poly1305",
            Self::Aes256Gcm => "aes256gcm",
        }
    }

    pub(crate) fn from_token_name(name: &str) -> Option<Self> {
        match name {
            "xchacha20poly1305" => Some(Self::XChaCha20Poly1305),
            "aes256gcm" => Some(Self::Aes256Gcm),
            _ => None,
        }
    }

    /// Nonce length in bytes: 24 for XChaCha20-Poly1305, 12 for AES-256-GCM.
    #[must_use]
    pub const fn nonce_len(self) -> usize {
        match self {
            Self::XChaCha20Poly1305 => 24,
            Self::Aes256Gcm => 12,
        }
    }
}
