//! `MultiFernet`: key rotation for Fernet.

use std::time::Duration;

use crate::clock;
use crate::error::{DecryptError, KeyError};
use crate::fernet::Fernet;

/// Several Fernet keys: encrypts with the first, decrypts with any, and
/// re-encrypts old tokens under the first key with [`rotate`](Self::rotate).
/// Behaves like Python's `cryptography.fernet.MultiFernet`.
///
/// To rotate a key: put the new key first and keep the old one after it,
/// rotate stored tokens, then drop the old key.
///
/// ```
/// use mlguard_crypto::{Fernet, MultiFernet};
///
/// let old = Fernet::new(&Fernet::generate_key())?;
/// let token = old.encrypt(b"stored long ago");
///
/// let new = Fernet::new(&Fernet::generate_key())?;
/// let keys = MultiFernet::new(vec![new.clone(), old])?;
/// assert_eq!(keys.decrypt(&token)?, b"stored long ago");
///
/// let rotated = keys.rotate(&token)?;
/// assert_eq!(new.decrypt(&rotated)?, b"stored long ago");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct MultiFernet {
    /// Never empty: checked in `new`.
    fernets: Vec<Fernet>,
}

impl MultiFernet {
    /// Keys in order of preference: the first one encrypts.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoKeys`] if `fernets` is empty.
    pub fn new(fernets: Vec<Fernet>) -> Result<Self, KeyError> {
        if fernets.is_empty() {
            return Err(KeyError::NoKeys);
        }
        Ok(Self { fernets })
    }

    fn primary(&self) -> &Fernet {
        // Non-empty by construction; `new` is the only constructor.
        &self.fernets[0]
    }

    /// Encrypt with the first key.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    #[must_use]
    pub fn encrypt(&self, data: &[u8]) -> String {
        self.primary().encrypt(data)
    }

    /// Encrypt with the first key, stamped with `current_time`. For tests.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    #[must_use]
    pub fn encrypt_at_time(&self, data: &[u8], current_time: u64) -> String {
        self.primary().encrypt_at_time(data, current_time)
    }

    /// Decrypt with whichever key fits, without a time check.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] if no key decrypts the token.
    pub fn decrypt(&self, token: &str) -> Result<Vec<u8>, DecryptError> {
        self.first_ok(|fernet| fernet.decrypt(token))
    }

    /// Decrypt with whichever key fits, with Fernet's TTL rules against the
    /// system clock.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] if no key decrypts the token, or it is expired.
    pub fn decrypt_with_ttl(&self, token: &str, ttl: Duration) -> Result<Vec<u8>, DecryptError> {
        self.decrypt_at_time(token, ttl, clock::unix_now())
    }

    /// [`decrypt_with_ttl`](Self::decrypt_with_ttl) at a caller-given time.
    /// For tests.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] if no key decrypts the token, or it is expired.
    pub fn decrypt_at_time(
        &self,
        token: &str,
        ttl: Duration,
        current_time: u64,
    ) -> Result<Vec<u8>, DecryptError> {
        self.first_ok(|fernet| fernet.decrypt_at_time(token, ttl, current_time))
    }

    /// The timestamp of a token authentic under any of the keys.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] if no key authenticates the token.
    pub fn extract_timestamp(&self, token: &str) -> Result<u64, DecryptError> {
        self.first_ok(|fernet| fernet.extract_timestamp(token))
    }

    /// Decrypt with any key and re-encrypt under the first key, keeping the
    /// token's original timestamp (as Python does), so a TTL still counts
    /// from when the data was first encrypted. No TTL is checked.
    ///
    /// # Errors
    ///
    /// [`DecryptError`] if no key decrypts the token.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub fn rotate(&self, token: &str) -> Result<String, DecryptError> {
        let (timestamp, plaintext) = self.first_ok(|fernet| fernet.decrypt_keeping_timestamp(token))?;
        let mut plaintext = zeroize::Zeroizing::new(plaintext);
        let rotated = self.primary().encrypt_at_time(&plaintext, timestamp);
        zeroize::Zeroize::zeroize(&mut *plaintext);
        Ok(rotated)
    }

    fn first_ok<T>(
        &self,
        mut attempt: impl FnMut(&Fernet) -> Result<T, DecryptError>,
    ) -> Result<T, DecryptError> {
        for fernet in &self.fernets {
            if let Ok(value) = attempt(fernet) {
                return Ok(value);
            }
        }
        Err(DecryptError::logged(
            "no key in the MultiFernet accepted the token",
        ))
    }
}
