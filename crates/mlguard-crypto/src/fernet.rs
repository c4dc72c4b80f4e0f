//! Fernet: the token format of Python's `cryptography.fernet`.
//!
//! Token layout (all of it urlsafe base64 with padding):
//!
//! ```text
//! 0x80 | timestamp (u64, big-endian seconds) | IV (16) | AES-128-CBC-PKCS7 ciphertext | HMAC-SHA256 (32)
//! ```
//!
//! The HMAC covers everything before it and is keyed with the first 16 bytes
//! of the 32-byte key; AES uses the last 16.

use std::fmt;
use std::time::Duration;

use aes::Aes128;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{DecryptError, KeyError};
use crate::pybase64::urlsafe_b64decode;
use crate::{clock, random};

type HmacSha256 = Hmac<Sha256>;
type Aes128CbcEnc = cbc::Encryptor<Aes128>;
type Aes128CbcDec = cbc::Decryptor<Aes128>;

const VERSION: u8 = 0x80;
const TIMESTAMP_END: usize = 9;
const IV_END: usize = TIMESTAMP_END + 16;
const MAC_LEN: usize = 32;
const BLOCK: usize = 16;
/// Version, timestamp, IV, one ciphertext block, MAC.
const MIN_TOKEN_LEN: usize = IV_END + BLOCK + MAC_LEN;

/// How far in the future a token's timestamp may be, when a TTL is checked
/// (`_MAX_CLOCK_SKEW` in Python's `cryptography`).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// A Fernet key: encrypts and decrypts tokens that Python's
/// `cryptography.fernet.Fernet` reads and writes.
///
/// The key bytes are zeroized on drop and never printed by `Debug`.
///
/// ```
/// use mlguard_crypto::Fernet;
///
/// // A key in the format of Python's `Fernet.generate_key()`.
/// let fernet = Fernet::new("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")?;
/// let token = fernet.encrypt(b"secret message");
/// assert_eq!(fernet.decrypt(&token)?, b"secret message");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Fernet {
    /// HMAC-SHA256 keyed with the signing half (zeroized on drop).
    mac: HmacSha256,
    /// AES-128 keyed with the encryption half (zeroized on drop).
    cipher: Aes128,
}

// Both fields wipe themselves on drop (the `zeroize` features of `hmac`
// and `aes` are on); the raw key bytes are never stored.
impl ZeroizeOnDrop for Fernet {}

impl fmt::Debug for Fernet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fernet").field("key", &"<redacted>").finish()
    }
}

/// What a token decoded to, before any time check.
struct Verified {
    timestamp: u64,
    /// The decoded token, MAC already checked.
    data: Vec<u8>,
}

impl Fernet {
    /// Build from a key in Python's format: 32 bytes, urlsafe base64.
    ///
    /// The key is decoded exactly as Python's `cryptography` decodes it
    /// (`base64.urlsafe_b64decode`), so any key Python accepts works here.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidBase64`] or [`KeyError::WrongLength`].
    pub fn new(key_b64: &str) -> Result<Self, KeyError> {
        let mut bytes = urlsafe_b64decode(key_b64).map_err(|_| KeyError::InvalidBase64)?;
        let result = Self::from_bytes(&bytes);
        bytes.zeroize();
        result
    }

    /// Build from the 32 raw key bytes (signing half, then encryption half).
    ///
    /// # Errors
    ///
    /// [`KeyError::WrongLength`] unless `key` is 32 bytes.
    ///
    /// ```
    /// # use mlguard_crypto::Fernet;
    /// assert!(Fernet::from_bytes(&[7u8; 32]).is_ok());
    /// assert!(Fernet::from_bytes(&[7u8; 16]).is_err());
    /// ```
    pub fn from_bytes(key: &[u8]) -> Result<Self, KeyError> {
        if key.len() != 32 {
            return Err(KeyError::WrongLength {
                expected: 32,
                actual: key.len(),
            });
        }
        let (signing, encryption) = key.split_at(16);
        let mac = <HmacSha256 as KeyInit>::new_from_slice(signing).map_err(|_| KeyError::WrongLength {
            expected: 32,
            actual: key.len(),
        })?;
        let cipher = <Aes128 as KeyInit>::new_from_slice(encryption).map_err(|_| KeyError::WrongLength {
            expected: 32,
            actual: key.len(),
        })?;
        Ok(Self { mac, cipher })
    }

    /// A fresh random key, in the format of Python's `Fernet.generate_key()`.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    ///
    /// ```
    /// # use mlguard_crypto::Fernet;
    /// let key = Fernet::generate_key();
    /// assert_eq!(key.len(), 44);
    /// assert!(Fernet::new(&key).is_ok());
    /// ```
    #[must_use]
    pub fn generate_key() -> String {
        let mut key = random::array::<32>();
        let encoded = URL_SAFE.encode(key);
        key.zeroize();
        encoded
    }

    /// Encrypt `data` with the current time and a random IV.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    #[must_use]
    pub fn encrypt(&self, data: &[u8]) -> String {
        self.encrypt_at_time(data, clock::unix_now())
    }

    /// Encrypt `data` stamped with `current_time` (seconds since the Unix
    /// epoch) and a random IV. For tests and for re-encryption that keeps an
    /// original timestamp.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    #[must_use]
    pub fn encrypt_at_time(&self, data: &[u8], current_time: u64) -> String {
        self.encrypt_at_time_with_iv_danger(data, current_time, random::array())
    }

    /// Encrypt with a caller-chosen IV. **Never use this outside tests**: an
    /// IV must be fresh and random for every token. It exists to reproduce
    /// the spec's `generate.json` vectors byte for byte.
    ///
    /// ```
    /// # use mlguard_crypto::Fernet;
    /// let fernet = Fernet::new("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")?;
    /// let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
    /// let token = fernet.encrypt_at_time_with_iv_danger(b"hello", 499162800, iv);
    /// assert_eq!(
    ///     token,
    ///     "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn encrypt_at_time_with_iv_danger(&self, data: &[u8], current_time: u64, iv: [u8; 16]) -> String {
        let padded_len = (data.len() / BLOCK + 1) * BLOCK;
        let mut token = Vec::with_capacity(IV_END + padded_len + MAC_LEN);
        token.push(VERSION);
        token.extend_from_slice(&current_time.to_be_bytes());
        token.extend_from_slice(&iv);
        token.extend_from_slice(data);
        token.resize(IV_END + padded_len, 0);
        let encrypted_len = Aes128CbcEnc::inner_iv_init(self.cipher.clone(), &iv.into())
            .encrypt_padded::<Pkcs7>(&mut token[IV_END..], data.len())
            .map(<[u8]>::len);
        // The buffer is always exactly one padded length long, so padding
        // cannot fail; keep the check rather than an unwrap all the same.
        debug_assert_eq!(encrypted_len.ok(), Some(padded_len));
        let tag = self.mac(&token);
        token.extend_from_slice(&tag);
        URL_SAFE.encode(&token)
    }

    /// Decrypt a token of any age.
    ///
    /// Like Python's `Fernet.decrypt(token)` without a `ttl`, the timestamp is
    /// not looked at (a token stamped in the future is accepted too); use
    /// [`decrypt_with_ttl`](Self::decrypt_with_ttl) to bound a token's age.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] for every kind of invalid token.
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, DecryptError> {
        let verified = self.verify(token)?;
        self.decrypt_verified(verified)
    }

    /// Decrypt a token no older than `ttl` and stamped at most 60 seconds
    /// ([`MAX_CLOCK_SKEW`]) in the future, measured against the system clock.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] for every kind of invalid token, expired ones included.
    ///
    /// ```
    /// # use mlguard_crypto::Fernet;
    /// # use std::time::Duration;
    /// let fernet = Fernet::new(&Fernet::generate_key())?;
    /// let token = fernet.encrypt(b"fresh");
    /// assert_eq!(fernet.decrypt_with_ttl(&token, Duration::from_secs(60))?, b"fresh");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decrypt_with_ttl(&self, token: &str, ttl: Duration) -> Result<Vec<u8>, DecryptError> {
        self.decrypt_at_time(token, ttl, clock::unix_now())
    }

    /// [`decrypt_with_ttl`](Self::decrypt_with_ttl) with the current time
    /// (seconds since the Unix epoch) given by the caller. For tests.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] for every kind of invalid token, expired ones included.
    ///
    /// ```
    /// # use mlguard_crypto::Fernet;
    /// # use std::time::Duration;
    /// let fernet = Fernet::new(&Fernet::generate_key())?;
    /// let token = fernet.encrypt_at_time(b"data", 1_000);
    /// let ttl = Duration::from_secs(10);
    /// assert!(fernet.decrypt_at_time(&token, ttl, 1_010).is_ok());
    /// assert!(fernet.decrypt_at_time(&token, ttl, 1_011).is_err()); // expired
    /// assert!(fernet.decrypt_at_time(&token, ttl, 939).is_err()); // 61 s in the future
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decrypt_at_time(
        &self,
        token: &str,
        ttl: Duration,
        current_time: u64,
    ) -> Result<Vec<u8>, DecryptError> {
        let verified = self.verify(token)?;
        check_time(verified.timestamp, ttl, current_time)?;
        self.decrypt_verified(verified)
    }

    /// The timestamp (seconds since the Unix epoch) of an authentic token.
    ///
    /// The MAC is verified first; nothing is decrypted.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] if the token is not authentic under this key.
    ///
    /// ```
    /// # use mlguard_crypto::Fernet;
    /// let fernet = Fernet::new(&Fernet::generate_key())?;
    /// let token = fernet.encrypt_at_time(b"data", 1_700_000_000);
    /// assert_eq!(fernet.extract_timestamp(&token)?, 1_700_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn extract_timestamp(&self, token: &str) -> Result<u64, DecryptError> {
        Ok(self.verify(token)?.timestamp)
    }

    /// Decrypt without a time check and return the timestamp with the
    /// plaintext (what `MultiFernet::rotate` needs).
    pub(crate) fn decrypt_keeping_timestamp(&self, token: &str) -> Result<(u64, Vec<u8>), DecryptError> {
        let verified = self.verify(token)?;
        let timestamp = verified.timestamp;
        Ok((timestamp, self.decrypt_verified(verified)?))
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Decode, check the layout and the MAC (in constant time). Nothing is
    /// decrypted here.
    fn verify(&self, token: &str) -> Result<Verified, DecryptError> {
        let data = urlsafe_b64decode(token).map_err(|e| DecryptError::logged(e.reason()))?;
        if data.first() != Some(&VERSION) {
            return Err(DecryptError::logged("missing or unknown version byte"));
        }
        if data.len() < MIN_TOKEN_LEN {
            return Err(DecryptError::logged("token too short"));
        }
        if !(data.len() - IV_END - MAC_LEN).is_multiple_of(BLOCK) {
            return Err(DecryptError::logged(
                "ciphertext is not a multiple of the block size",
            ));
        }
        let (signed, tag) = data.split_at(data.len() - MAC_LEN);
        let mut mac = self.mac.clone();
        mac.update(signed);
        // `verify_slice` compares in constant time (subtle).
        mac.verify_slice(tag)
            .map_err(|_| DecryptError::logged("MAC mismatch"))?;
        let mut timestamp = [0u8; 8];
        timestamp.copy_from_slice(&data[1..TIMESTAMP_END]);
        Ok(Verified {
            timestamp: u64::from_be_bytes(timestamp),
            data,
        })
    }

    fn decrypt_verified(&self, verified: Verified) -> Result<Vec<u8>, DecryptError> {
        let mut data = verified.data;
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&data[TIMESTAMP_END..IV_END]);
        let end = data.len() - MAC_LEN;
        let plaintext_len = Aes128CbcDec::inner_iv_init(self.cipher.clone(), &iv.into())
            .decrypt_padded::<Pkcs7>(&mut data[IV_END..end])
            .map(<[u8]>::len);
        match plaintext_len {
            Ok(len) => {
                data.copy_within(IV_END..IV_END + len, 0);
                // Wipe the plaintext copy left behind the kept prefix.
                data[len..].zeroize();
                data.truncate(len);
                Ok(data)
            }
            Err(_) => {
                data.zeroize();
                Err(DecryptError::logged("bad padding"))
            }
        }
    }
}

/// Python's rules, with checked arithmetic: expired when
/// `timestamp + ttl < now`, too far ahead when `now + 60 < timestamp`.
/// A sum that overflows `u64` is an invalid token.
fn check_time(timestamp: u64, ttl: Duration, current_time: u64) -> Result<(), DecryptError> {
    let expires = timestamp
        .checked_add(ttl.as_secs())
        .ok_or_else(|| DecryptError::logged("timestamp + ttl overflows"))?;
    if expires < current_time {
        return Err(DecryptError::logged("token expired"));
    }
    let latest = current_time
        .checked_add(MAX_CLOCK_SKEW.as_secs())
        .ok_or_else(|| DecryptError::logged("current time + clock skew overflows"))?;
    if latest < timestamp {
        return Err(DecryptError::logged("token timestamp too far in the future"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_time_edges() {
        let ttl = Duration::from_secs(10);
        assert!(check_time(100, ttl, 110).is_ok());
        assert!(check_time(100, ttl, 111).is_err());
        assert!(check_time(160, ttl, 100).is_ok());
        assert!(check_time(161, ttl, 100).is_err());
        assert!(check_time(u64::MAX, ttl, 100).is_err());
        assert!(check_time(u64::MAX - 10, ttl, u64::MAX).is_err());
        assert!(check_time(0, Duration::from_secs(u64::MAX), u64::MAX - 60).is_ok());
    }

    #[test]
    fn debug_redacts_key() {
        let fernet = Fernet::from_bytes(&[0xab; 32]).unwrap();
        let shown = format!("{fernet:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.to_lowercase().contains("ab, "));
        assert!(!shown.contains("171"));
    }
}
