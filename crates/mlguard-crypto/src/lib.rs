//! Encryption for data at rest and in transit between services: Fernet,
//! byte-compatible with Python's `cryptography.fernet`, and an AEAD envelope
//! for new data.
//!
//! # What it protects against
//!
//! - **Reading or changing protected data without the key.** Fernet is
//!   AES-128-CBC with HMAC-SHA256 (encrypt-then-MAC); the envelope is
//!   XChaCha20-Poly1305 or AES-256-GCM. Any change to a token is detected.
//! - **Padding and error oracles.** The MAC is checked, in constant time,
//!   before anything is decrypted, and every failure (bad MAC, padding,
//!   base64, version, length, expiry, wrong key, wrong associated data) is
//!   the same opaque [`DecryptError`]. The reason only goes to a
//!   `tracing::debug!` event.
//! - **Replay of old Fernet tokens**, with [`Fernet::decrypt_with_ttl`]:
//!   tokens older than the TTL, or stamped more than 60 s in the future, are
//!   rejected. Timestamp arithmetic is checked, so a forged `u64::MAX`
//!   timestamp is just an invalid token.
//! - **Cut-and-paste between contexts** (envelope): associated data, such
//!   as a user id or a column name, is bound to the ciphertext.
//! - **Key leaks through logs and memory.** Keys are zeroized on drop and
//!   `Debug` never shows them.
//!
//! It does not protect keys stored next to the data, nor hide message
//! lengths or (for Fernet) creation times, which are in the token in clear.
//!
//! # Compatibility with Python
//!
//! Tokens and keys are read exactly as Python's `cryptography` reads them:
//! keys from `Fernet.generate_key()` work unchanged, and tokens are decoded
//! with the rules of `base64.urlsafe_b64decode` (both `-_` and `+/` accepted,
//! characters outside the alphabet skipped, missing `=` padding rejected).
//! [`Fernet::decrypt`] without a TTL ignores the timestamp, as Python's
//! `Fernet.decrypt(token)` does. The test suite round-trips messages with the
//! real `cryptography` package in both directions.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use mlguard_crypto::{AeadKey, Algorithm, Fernet, Keyring, MultiFernet};
//!
//! // Fernet, with a key as Python's `Fernet.generate_key()` prints it.
//! let fernet = Fernet::new("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")?;
//! let token = fernet.encrypt(b"petal length 1.4");
//! assert_eq!(fernet.decrypt(&token)?, b"petal length 1.4");
//! assert_eq!(fernet.decrypt_with_ttl(&token, Duration::from_secs(300))?, b"petal length 1.4");
//! assert!(fernet.decrypt(&token.replace('g', "h")).is_err());
//!
//! // Key rotation: the new key encrypts, both decrypt, `rotate` re-encrypts.
//! let new = Fernet::new(&Fernet::generate_key())?;
//! let both = MultiFernet::new(vec![new.clone(), fernet])?;
//! let rotated = both.rotate(&token)?;
//! assert_eq!(new.decrypt(&rotated)?, b"petal length 1.4");
//!
//! // AEAD envelope for new data, with associated data and key ids.
//! let keyring = Keyring::new(AeadKey::generate("2025-01", Algorithm::XChaCha20Poly1305)?);
//! let sealed = keyring.encrypt(b"api key of user 42", b"users/42/api_key")?;
//! assert!(sealed.starts_with("v1.xchacha20poly1305.2025-01."));
//! assert_eq!(keyring.decrypt(&sealed, b"users/42/api_key")?, b"api key of user 42");
//! assert!(keyring.decrypt(&sealed, b"users/43/api_key").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
mod envelope;
mod error;
mod fernet;
mod multi_fernet;
mod pybase64;
mod random;

pub use envelope::{AeadKey, Algorithm, Keyring};
pub use error::{DecryptError, EncryptError, KeyError};
pub use fernet::{Fernet, MAX_CLOCK_SKEW};
pub use multi_fernet::MultiFernet;
