//! An AEAD envelope for new data: XChaCha20-Poly1305 (default) or
//! AES-256-GCM, associated data, random nonces, key ids and rotation.
//!
//! Token text (every part is ASCII; base64 is urlsafe without padding):
//!
//! ```text
//! v1.<algorithm>.<key id>.<base64 nonce>.<base64 ciphertext and tag>
//! ```
//!
//! `<algorithm>` is `xchacha20poly1305` or `aes256gcm`. The header
//! `v1.<algorithm>.<key id>.` is authenticated together with the caller's
//! associated data, so neither can be changed without the token failing.

mod algorithm;
mod key;
mod keyring;
mod token;
#[cfg(test)]
mod wycheproof_tests;

pub use algorithm::Algorithm;
pub use key::AeadKey;
pub use keyring::Keyring;
