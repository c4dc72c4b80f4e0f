//! [`ApiKeyManager`]: create, list and revoke keys, so an adopter's CLI or admin endpoint is
//! three calls.
//!
//! The manager writes no audit event itself: the caller knows who asked (ml-api's CLI logs
//! `api_key_created` / `api_key_revoked`, docs/observability.md).

use super::key::{ApiKeyRecord, ApiKeySecret, generate};
use super::store::{FileKeyStore, KeyStore, MemoryKeyStore};
use crate::AuthError;
use mlguard_core::{SharedClock, SystemClock};
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest key name [`ApiKeyManager::create`] accepts.
pub const MAX_KEY_NAME_LEN: usize = 128;

/// A [`KeyStore`] that can also be written: what [`ApiKeyManager`] needs. Implemented by
/// [`MemoryKeyStore`] and [`FileKeyStore`]; implement it for your own (SQL) store.
pub trait ManagedKeyStore: KeyStore {
    /// Adds a record (its `key_id` is new).
    fn store_record(&self, record: ApiKeyRecord) -> Result<(), AuthError>;
    /// Marks a key revoked; `false` when there is no such key.
    fn revoke_record(&self, key_id: &str) -> Result<bool, AuthError>;
    /// All records.
    fn list_records(&self) -> Result<Vec<ApiKeyRecord>, AuthError>;
}

impl ManagedKeyStore for MemoryKeyStore {
    fn store_record(&self, record: ApiKeyRecord) -> Result<(), AuthError> {
        self.insert(record);
        Ok(())
    }

    fn revoke_record(&self, key_id: &str) -> Result<bool, AuthError> {
        Ok(self.revoke(key_id))
    }

    fn list_records(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        Ok(self.list())
    }
}

impl ManagedKeyStore for FileKeyStore {
    fn store_record(&self, record: ApiKeyRecord) -> Result<(), AuthError> {
        self.insert(record)
    }

    fn revoke_record(&self, key_id: &str) -> Result<bool, AuthError> {
        self.revoke(key_id)
    }

    fn list_records(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        Ok(self.list())
    }
}

/// What [`ApiKeyManager::list`] shows of a key: no secret, no hash. Serializes to JSON for an
/// admin endpoint (`expires_at` as seconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ApiKeyInfo {
    /// The public key id.
    pub key_id: String,
    /// The key's name (the principal's subject).
    pub name: String,
    /// Roles granted to callers using the key.
    pub roles: Vec<String>,
    /// Expiry in seconds since the Unix epoch; `None` for no expiry.
    pub expires_at: Option<u64>,
    /// Revoked keys are refused.
    pub revoked: bool,
    /// Whether the key had expired when listed (by the manager's clock).
    pub expired: bool,
}

impl ApiKeyInfo {
    fn new(record: &ApiKeyRecord, now: SystemTime) -> Self {
        Self {
            key_id: record.key_id.clone(),
            name: record.name.clone(),
            roles: record.roles.clone(),
            expires_at: record.expires_at,
            revoked: record.revoked,
            expired: record.is_expired_at(now),
        }
    }

    /// Whether the key is accepted now: neither revoked nor expired.
    pub fn is_active(&self) -> bool {
        !self.revoked && !self.expired
    }
}

/// Creates, lists and revokes API keys in a [`ManagedKeyStore`]: an adopter's CLI or admin
/// endpoint is three calls. It writes no audit event itself (the caller knows who asked).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use mlguard_auth::apikey::{ApiKeyManager, FileKeyStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = Arc::new(FileKeyStore::open_or_create(dir.path().join("keys.json")).unwrap());
/// let manager = ApiKeyManager::new(store);
///
/// // Create: the secret is shown once, only the SHA-256 is stored.
/// let (key, info) = manager.create("ci-bot", ["user"], Some(Duration::from_secs(90 * 86_400))).unwrap();
/// println!("your key (shown once): {}", key.expose_secret());
/// // List: ids, names, roles, expiry, status; never a secret or hash.
/// assert_eq!(manager.list().unwrap(), [info.clone()]);
/// // Revoke: refused from the next request on.
/// assert!(manager.revoke(&info.key_id).unwrap());
/// assert!(manager.list().unwrap()[0].revoked);
/// ```
#[derive(Clone)]
pub struct ApiKeyManager {
    store: Arc<dyn ManagedKeyStore>,
    clock: SharedClock,
}

impl fmt::Debug for ApiKeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyManager")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ApiKeyManager {
    /// A manager of the keys in `store` (pass the same store to [`ApiKeyAuth`](super::ApiKeyAuth)).
    pub fn new(store: Arc<dyn ManagedKeyStore>) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
        }
    }

    /// The clock for expiry times (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Creates a key named `name` with `roles`, valid for `expires_in` (or forever), stores
    /// its record and returns the key, to hand to its owner once (and writes the
    /// `api_key_created` [audit event](crate::audit)). Names are 1 to
    /// [`MAX_KEY_NAME_LEN`] characters without control characters; roles non-empty, without
    /// whitespace or control characters; an expiry at least one second.
    pub fn create<I, R>(
        &self,
        name: &str,
        roles: I,
        expires_in: Option<Duration>,
    ) -> Result<(ApiKeySecret, ApiKeyInfo), AuthError>
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME_LEN || name.chars().any(char::is_control) {
            return Err(AuthError::Config(format!(
                "an API key name must be 1 to {MAX_KEY_NAME_LEN} characters without control characters"
            )));
        }
        let (key, mut record) = generate(name, roles)?;
        if record
            .roles
            .iter()
            .any(|r| r.is_empty() || r.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(AuthError::Config(
                "API key roles must be non-empty, without whitespace or control characters".into(),
            ));
        }
        let now = self.clock.now();
        if let Some(ttl) = expires_in {
            if ttl < Duration::from_secs(1) {
                return Err(AuthError::Config("an API key expiry must be at least 1 s".into()));
            }
            // Whole seconds, rounded up: a key never expires before it was asked to.
            let at = now.duration_since(UNIX_EPOCH).unwrap_or_default() + ttl;
            let secs = at.as_secs() + u64::from(at.subsec_nanos() > 0);
            record.expires_at = Some(secs);
        }
        let info = ApiKeyInfo::new(&record, now);
        self.store.store_record(record)?;
        crate::audit::api_key_created(&info.key_id, &info.name, &info.roles);
        Ok((key, info))
    }

    /// All keys, without secrets, sorted by name then id.
    pub fn list(&self) -> Result<Vec<ApiKeyInfo>, AuthError> {
        let now = self.clock.now();
        let mut keys: Vec<ApiKeyInfo> = self
            .store
            .list_records()?
            .iter()
            .map(|r| ApiKeyInfo::new(r, now))
            .collect();
        keys.sort_by(|a, b| (&a.name, &a.key_id).cmp(&(&b.name, &b.key_id)));
        Ok(keys)
    }

    /// Revokes a key (refused from the next request on); `false` when there is no such key.
    /// A revocation writes the `api_key_revoked` [audit event](crate::audit).
    pub fn revoke(&self, key_id: &str) -> Result<bool, AuthError> {
        let revoked = self.store.revoke_record(key_id)?;
        if revoked {
            crate::audit::api_key_revoked(key_id);
        }
        Ok(revoked)
    }
}
