//! Users for the password grant: the [`UserStore`] trait, [`MemoryUserStore`] and
//! [`FileUserStore`].

use crate::AuthError;
use crate::json_file::JsonFile;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::RwLock;

/// One user: name, Argon2id PHC hash, roles, disabled flag.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The login name (compared exactly).
    pub username: String,
    /// The PHC string of the password hash.
    pub password_hash: String,
    /// Roles granted to the user.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A disabled user cannot log in (the answer is the same as for a wrong password).
    #[serde(default)]
    pub disabled: bool,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A source of users. Lookups are synchronous and must be cheap.
pub trait UserStore: Send + Sync + fmt::Debug + 'static {
    /// The user named `username`, if any.
    fn get(&self, username: &str) -> Result<Option<UserRecord>, AuthError>;

    /// Replaces a user's password hash (used to upgrade outdated hashes after a login).
    fn set_password_hash(&self, username: &str, password_hash: &str) -> Result<(), AuthError>;
}

/// Users in memory.
///
/// ```
/// use mlguard_auth::users::{MemoryUserStore, UserRecord, UserStore};
/// let store = MemoryUserStore::new();
/// store.insert(UserRecord { username: "alice".into(), password_hash: "$argon2id$...".into(), roles: vec!["user".into()], disabled: false });
/// assert!(store.get("alice").unwrap().is_some());
/// assert!(store.get("Alice").unwrap().is_none());
/// ```
#[derive(Debug, Default)]
pub struct MemoryUserStore {
    users: RwLock<HashMap<String, UserRecord>>,
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a user.
    pub fn insert(&self, user: UserRecord) {
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.username.clone(), user);
    }

    /// Enables or disables a user; `false` when there is no such user.
    pub fn set_disabled(&self, username: &str, disabled: bool) -> bool {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        users.get_mut(username).map(|u| u.disabled = disabled).is_some()
    }
}

impl UserStore for MemoryUserStore {
    fn get(&self, username: &str) -> Result<Option<UserRecord>, AuthError> {
        Ok(self
            .users
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(username)
            .cloned())
    }

    fn set_password_hash(&self, username: &str, password_hash: &str) -> Result<(), AuthError> {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = users.get_mut(username) {
            u.password_hash = password_hash.to_owned();
        }
        Ok(())
    }
}

/// The JSON document of a [`FileUserStore`]: `{"users": [record, ...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserFile {
    /// The users.
    pub users: Vec<UserRecord>,
}

/// Users in a JSON file, re-read when it changes (disabling a user takes effect at the next
/// login without a restart) and written atomically with mode 0600.
///
/// ```
/// use mlguard_auth::users::{FileUserStore, UserRecord, UserStore};
/// let dir = tempfile::tempdir().unwrap();
/// let store = FileUserStore::open_or_create(dir.path().join("users.json")).unwrap();
/// store.insert(UserRecord { username: "alice".into(), password_hash: "$argon2id$...".into(), roles: vec![], disabled: false }).unwrap();
/// assert!(store.get("alice").unwrap().is_some());
/// ```
pub struct FileUserStore {
    file: JsonFile<UserFile>,
}

impl fmt::Debug for FileUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileUserStore")
            .field("path", &self.file.path())
            .finish()
    }
}

impl FileUserStore {
    /// Opens an existing user file.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, AuthError> {
        Ok(Self {
            file: JsonFile::open(path)?,
        })
    }

    /// Opens a user file, creating an empty one when it does not exist.
    pub fn open_or_create(path: impl Into<PathBuf>) -> Result<Self, AuthError> {
        Ok(Self {
            file: JsonFile::open_or_create(path, &UserFile::default())?,
        })
    }

    /// Adds or replaces a user and writes the file.
    pub fn insert(&self, user: UserRecord) -> Result<(), AuthError> {
        self.file.update(|doc| {
            doc.users.retain(|u| u.username != user.username);
            doc.users.push(user);
        })
    }

    /// Enables or disables a user; `false` when there is no such user.
    pub fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, AuthError> {
        self.file.update(|doc| {
            doc.users
                .iter_mut()
                .find(|u| u.username == username)
                .map(|u| u.disabled = disabled)
                .is_some()
        })
    }

    /// All users, as currently on disk.
    pub fn list(&self) -> Vec<UserRecord> {
        self.file.current().users.clone()
    }
}

impl UserStore for FileUserStore {
    fn get(&self, username: &str) -> Result<Option<UserRecord>, AuthError> {
        Ok(self
            .file
            .current()
            .users
            .iter()
            .find(|u| u.username == username)
            .cloned())
    }

    fn set_password_hash(&self, username: &str, password_hash: &str) -> Result<(), AuthError> {
        self.file.update(|doc| {
            if let Some(u) = doc.users.iter_mut().find(|u| u.username == username) {
                u.password_hash = password_hash.to_owned();
            }
        })
    }
}
