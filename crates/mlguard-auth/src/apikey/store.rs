//! Where key records live: the [`KeyStore`] trait, [`MemoryKeyStore`] and [`FileKeyStore`].

use super::key::ApiKeyRecord;
use crate::AuthError;
use crate::json_file::JsonFile;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::RwLock;

/// A source of API key records, looked up by public key id.
///
/// Lookups are synchronous and must be cheap (an in-memory map, a cached file); they run on
/// every request. Revocation must take effect on the next lookup.
pub trait KeyStore: Send + Sync + fmt::Debug + 'static {
    /// The record for `key_id`, if any.
    fn get(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError>;

    /// Calls `read` once with the record for `key_id` (`None` when there is none), as
    /// [`get`](Self::get) finds it. [`ApiKeyAuth`](super::ApiKeyAuth) checks keys through
    /// this method on every request. The default calls `get`; a store that holds its records
    /// should lend them instead, so that a request does not copy its key's record
    /// ([`MemoryKeyStore`] and [`FileKeyStore`] do).
    ///
    /// ```
    /// use mlguard_auth::apikey::{generate, KeyStore, MemoryKeyStore};
    /// let store = MemoryKeyStore::new();
    /// let (key, record) = generate("ci", ["user"]).unwrap();
    /// store.insert(record);
    /// let mut name = None;
    /// store.with_record(key.key_id(), &mut |r| name = r.map(|r| r.name.clone())).unwrap();
    /// assert_eq!(name.as_deref(), Some("ci"));
    /// ```
    ///
    /// # Errors
    /// Those of `get`; `read` is then not called.
    fn with_record(
        &self,
        key_id: &str,
        read: &mut dyn FnMut(Option<&ApiKeyRecord>),
    ) -> Result<(), AuthError> {
        read(self.get(key_id)?.as_ref());
        Ok(())
    }
}

/// Keys held in memory; clones of an `Arc<MemoryKeyStore>` share them.
///
/// ```
/// use mlguard_auth::apikey::{generate, KeyStore, MemoryKeyStore};
/// let store = MemoryKeyStore::new();
/// let (key, record) = generate("ci", ["user"]).unwrap();
/// store.insert(record);
/// assert!(store.get(key.key_id()).unwrap().is_some());
/// assert!(store.revoke(key.key_id()));
/// assert!(store.get(key.key_id()).unwrap().unwrap().revoked);
/// ```
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    keys: RwLock<HashMap<String, ApiKeyRecord>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a record.
    pub fn insert(&self, record: ApiKeyRecord) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(record.key_id.clone(), record);
    }

    /// Marks a key revoked; `false` when there is no such key.
    pub fn revoke(&self, key_id: &str) -> bool {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.get_mut(key_id).map(|r| r.revoked = true).is_some()
    }

    /// All records.
    pub fn list(&self) -> Vec<ApiKeyRecord> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Removes a key; `false` when there is no such key.
    pub fn remove(&self, key_id: &str) -> bool {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key_id)
            .is_some()
    }
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        Ok(self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key_id)
            .cloned())
    }

    fn with_record(
        &self,
        key_id: &str,
        read: &mut dyn FnMut(Option<&ApiKeyRecord>),
    ) -> Result<(), AuthError> {
        read(self.keys.read().unwrap_or_else(|e| e.into_inner()).get(key_id));
        Ok(())
    }
}

/// The JSON document of a [`FileKeyStore`]: `{"keys": [record, ...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyFile {
    /// The records.
    pub keys: Vec<ApiKeyRecord>,
}

/// Keys in a JSON file (`{"keys": [...]}`), re-read whenever the file's modification time or
/// length changes, so revoking a key (by [`FileKeyStore::revoke`], another process, or an
/// editor) takes effect on the next request without a restart. Writes go to a temporary file
/// that is renamed over the original (mode 0600 on Unix). The file holds only hashes.
///
/// ```
/// use mlguard_auth::apikey::{generate, FileKeyStore, KeyStore};
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileKeyStore::open_or_create(dir.path().join("keys.json")).unwrap();
/// let (key, record) = generate("ci", ["user"]).unwrap();
/// store.insert(record).unwrap();
/// store.revoke(key.key_id()).unwrap();
/// assert!(store.get(key.key_id()).unwrap().unwrap().revoked);
/// ```
pub struct FileKeyStore {
    file: JsonFile<KeyFile>,
}

impl fmt::Debug for FileKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKeyStore")
            .field("path", &self.file.path())
            .finish()
    }
}

impl FileKeyStore {
    /// Opens an existing key file.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, AuthError> {
        Ok(Self {
            file: JsonFile::open(path)?,
        })
    }

    /// Opens a key file, creating an empty one when it does not exist.
    pub fn open_or_create(path: impl Into<PathBuf>) -> Result<Self, AuthError> {
        Ok(Self {
            file: JsonFile::open_or_create(path, &KeyFile::default())?,
        })
    }

    /// Adds or replaces a record and writes the file.
    pub fn insert(&self, record: ApiKeyRecord) -> Result<(), AuthError> {
        self.file.update(|doc| {
            doc.keys.retain(|r| r.key_id != record.key_id);
            doc.keys.push(record);
        })
    }

    /// Marks a key revoked and writes the file; `false` when there is no such key.
    pub fn revoke(&self, key_id: &str) -> Result<bool, AuthError> {
        self.file.update(|doc| {
            doc.keys
                .iter_mut()
                .find(|r| r.key_id == key_id)
                .map(|r| r.revoked = true)
                .is_some()
        })
    }

    /// All records, as currently on disk.
    pub fn list(&self) -> Vec<ApiKeyRecord> {
        self.file.current().keys.clone()
    }
}

impl KeyStore for FileKeyStore {
    fn get(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        Ok(self
            .file
            .current()
            .keys
            .iter()
            .find(|r| r.key_id == key_id)
            .cloned())
    }

    fn with_record(
        &self,
        key_id: &str,
        read: &mut dyn FnMut(Option<&ApiKeyRecord>),
    ) -> Result<(), AuthError> {
        read(self.file.current().keys.iter().find(|r| r.key_id == key_id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::generate;

    /// A store that implements only `get`, as a user's own store may.
    #[derive(Debug)]
    struct GetOnly(MemoryKeyStore);

    impl KeyStore for GetOnly {
        fn get(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
            self.0.get(key_id)
        }
    }

    #[test]
    fn the_default_with_record_lends_what_get_finds() {
        let store = GetOnly(MemoryKeyStore::new());
        let (key, record) = generate("ci", ["user"]).unwrap();
        store.0.insert(record);
        let mut seen = Vec::new();
        store
            .with_record(key.key_id(), &mut |r| seen.push(r.map(|r| r.name.clone())))
            .unwrap();
        store
            .with_record("no-such-key", &mut |r| seen.push(r.map(|r| r.name.clone())))
            .unwrap();
        assert_eq!(
            seen,
            [Some("ci".to_owned()), None],
            "called once each, with get's answer"
        );
    }
}
