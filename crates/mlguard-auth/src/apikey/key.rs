//! API key format, generation, parsing and hashing.

use crate::AuthError;
use crate::error::random_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The fixed prefix of every key, so secret scanners (and people) recognise a leaked key.
pub const API_KEY_PREFIX: &str = "mlg_";
/// Length of the public key id: 16 lowercase hex characters (8 random bytes).
pub const KEY_ID_LEN: usize = 16;
/// Random bytes in the secret part (encoded as 43 base64url characters).
pub const SECRET_BYTES: usize = 32;
const SECRET_LEN: usize = 43;
/// Length of a complete key: `mlg_` + id + `_` + secret.
pub const API_KEY_LEN: usize = API_KEY_PREFIX.len() + KEY_ID_LEN + 1 + SECRET_LEN;

/// A complete API key as handed to its owner once, at creation. Never stored by the library.
///
/// Its `Debug` shows only the key id; the memory is zeroized on drop.
///
/// ```
/// let (key, record) = mlguard_auth::apikey::generate("ci-bot", ["user"]).unwrap();
/// assert!(key.expose_secret().starts_with("mlg_"));
/// assert!(!format!("{key:?}").contains(key.expose_secret()));
/// assert!(record.verify(key.expose_secret()));
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ApiKeySecret {
    key: String,
}

impl ApiKeySecret {
    /// The full key, to show to its owner once.
    pub fn expose_secret(&self) -> &str {
        &self.key
    }

    /// The public key id part.
    pub fn key_id(&self) -> &str {
        self.key
            .get(API_KEY_PREFIX.len()..API_KEY_PREFIX.len() + KEY_ID_LEN)
            .unwrap_or("")
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeySecret")
            .field("key_id", &self.key_id())
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What the server stores about a key: no secret, only its SHA-256.
///
/// SHA-256 is the right hash here (not a password hash): the secret has 256 bits of entropy, so
/// there is nothing to brute-force, and verification must be fast.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The public key id (also written in the key itself).
    pub key_id: String,
    /// A human-readable name; becomes the principal's subject.
    pub name: String,
    /// Roles granted to callers using this key.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Expiry in seconds since the Unix epoch; `None` for no expiry.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// A revoked key is refused from the next request on.
    #[serde(default)]
    pub revoked: bool,
    /// Lowercase hex SHA-256 of the complete key string.
    pub sha256: String,
}

impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("key_id", &self.key_id)
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("expires_at", &self.expires_at)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl ApiKeyRecord {
    /// Whether `key` is this record's key, compared in constant time (the time does not depend
    /// on how much of a guess matches). Revocation and expiry are not checked here.
    pub fn verify(&self, key: &str) -> bool {
        let mut expected = [0u8; 32];
        if hex_decode(&self.sha256, &mut expected).is_err() {
            return false;
        }
        let actual = sha256(key);
        bool::from(actual.ct_eq(&expected))
    }

    /// Whether the key has expired at `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires_at
            .is_some_and(|exp| now >= UNIX_EPOCH + Duration::from_secs(exp))
    }

    /// Sets an expiry.
    #[must_use]
    pub fn with_expiry(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
        self
    }
}

/// Generates a new key `mlg_<16 hex id>_<43 base64url chars = 32 random bytes>` and its record.
pub fn generate<I, R>(name: &str, roles: I) -> Result<(ApiKeySecret, ApiKeyRecord), AuthError>
where
    I: IntoIterator<Item = R>,
    R: Into<String>,
{
    let mut id = [0u8; KEY_ID_LEN / 2];
    random_bytes(&mut id)?;
    let mut secret = [0u8; SECRET_BYTES];
    random_bytes(&mut secret)?;
    let key_id = hex_encode(&id);
    let mut encoded = URL_SAFE_NO_PAD.encode(secret);
    secret.zeroize();
    let key = format!("{API_KEY_PREFIX}{key_id}_{encoded}");
    encoded.zeroize();
    let record = ApiKeyRecord {
        key_id,
        name: name.to_owned(),
        roles: roles.into_iter().map(Into::into).collect(),
        expires_at: None,
        revoked: false,
        sha256: hex_encode(&sha256(&key)),
    };
    Ok((ApiKeySecret { key }, record))
}

/// Why a string is not a well-formed API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeyParseError {
    /// Not `mlg_...`, or the wrong length.
    Format,
    /// The key id is not 16 lowercase hex characters.
    KeyId,
    /// The secret is not 43 base64url characters.
    Secret,
}

/// Splits a presented key into its public id; the whole string is what gets hashed.
///
/// ```
/// use mlguard_auth::apikey::parse_key_id;
/// let (key, _) = mlguard_auth::apikey::generate("x", ["user"]).unwrap();
/// assert_eq!(parse_key_id(key.expose_secret()), Ok(key.key_id()));
/// assert!(parse_key_id("mlg_short").is_err());
/// ```
pub fn parse_key_id(key: &str) -> Result<&str, ApiKeyParseError> {
    if key.len() != API_KEY_LEN || !key.is_ascii() {
        return Err(ApiKeyParseError::Format);
    }
    let rest = key.strip_prefix(API_KEY_PREFIX).ok_or(ApiKeyParseError::Format)?;
    let (id, secret) = rest.split_at(KEY_ID_LEN);
    let secret = secret.strip_prefix('_').ok_or(ApiKeyParseError::Format)?;
    if !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ApiKeyParseError::KeyId);
    }
    if secret.len() != SECRET_LEN
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiKeyParseError::Secret);
    }
    Ok(id)
}

pub(crate) fn sha256(s: &str) -> [u8; 32] {
    sha256_bytes(s.as_bytes())
}

pub(crate) fn sha256_bytes(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

fn hex_decode(s: &str, out: &mut [u8; 32]) -> Result<(), ()> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return Err(());
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(()),
    };
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_verify_and_differ() {
        let (a, ra) = generate("a", ["user"]).unwrap();
        let (b, _) = generate("b", ["user"]).unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret().len(), API_KEY_LEN);
        assert_eq!(parse_key_id(a.expose_secret()), Ok(ra.key_id.as_str()));
        assert!(ra.verify(a.expose_secret()));
        assert!(!ra.verify(b.expose_secret()));
        // One changed character of the secret fails.
        let mut wrong = a.expose_secret().to_owned();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!ra.verify(&wrong));
    }

    #[test]
    fn record_debug_and_json_hold_no_secret() {
        let (k, r) = generate("a", ["user"]).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains(k.expose_secret()));
        assert!(!format!("{r:?}").contains(&r.sha256));
    }

    #[test]
    fn corrupt_stored_hash_never_verifies() {
        let (k, mut r) = generate("a", ["user"]).unwrap();
        r.sha256 = "zz".repeat(32);
        assert!(!r.verify(k.expose_secret()));
        r.sha256 = String::new();
        assert!(!r.verify(k.expose_secret()));
    }

    #[test]
    fn parse_rejects_each_malformation() {
        let (k, _) = generate("a", ["user"]).unwrap();
        let s = k.expose_secret();
        assert_eq!(
            parse_key_id(&s.replacen("mlg_", "xyz_", 1)),
            Err(ApiKeyParseError::Format)
        );
        assert_eq!(parse_key_id(&s[..s.len() - 1]), Err(ApiKeyParseError::Format));
        let upper = format!(
            "mlg_{}{}",
            s[4..20].to_uppercase().replace(|c: char| c.is_ascii_digit(), "A"),
            &s[20..]
        );
        assert_eq!(parse_key_id(&upper), Err(ApiKeyParseError::KeyId));
        let bad_secret = format!("{}{}", &s[..s.len() - 1], "=");
        assert_eq!(parse_key_id(&bad_secret), Err(ApiKeyParseError::Secret));
    }
}
