//! A JSON document on disk, re-read when it changes and written atomically.
//!
//! The file-backed key and user stores use it so that an operator's edit (a revoked key, a
//! disabled user) takes effect on the next request without a restart. Each read stats the file
//! and re-parses it only when its modification time or length changed; a failed re-parse keeps
//! serving the last good copy and logs the error (an editor's half-written file must not lock
//! everyone out or let everyone in).
//!
//! A write goes to a temporary file (mode `0600`), synced, renamed over the document, then the
//! directory is synced, so an acknowledged change (a revoked key) survives a power failure.

use crate::AuthError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

#[derive(Debug)]
pub(crate) struct JsonFile<T> {
    path: PathBuf,
    state: RwLock<(Stamp, Arc<T>)>,
}

impl<T: DeserializeOwned + Serialize> JsonFile<T> {
    /// Opens and parses `path`; a missing or malformed file is an error.
    pub(crate) fn open(path: impl Into<PathBuf>) -> Result<Self, AuthError> {
        let path = path.into();
        let (stamp, value) = read(&path)?;
        Ok(Self {
            path,
            state: RwLock::new((stamp, Arc::new(value))),
        })
    }

    /// Creates `path` holding `initial` when it does not exist, then opens it.
    pub(crate) fn open_or_create(path: impl Into<PathBuf>, initial: &T) -> Result<Self, AuthError> {
        let path = path.into();
        if !path.exists() {
            write_atomic(&path, initial)?;
        }
        Self::open(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The current document, re-read first when the file changed.
    pub(crate) fn current(&self) -> Arc<T> {
        let stamp = stamp(&self.path).ok();
        {
            let guard = self.state.read().unwrap_or_else(|e| e.into_inner());
            if stamp.is_none() || stamp == Some(guard.0) {
                return guard.1.clone();
            }
        }
        match read::<T>(&self.path) {
            Ok((stamp, value)) => {
                let value = Arc::new(value);
                let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
                *guard = (stamp, value.clone());
                value
            }
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "store file unreadable; keeping the last good copy");
                self.state.read().unwrap_or_else(|e| e.into_inner()).1.clone()
            }
        }
    }

    /// Applies `edit` to the current document and writes the result atomically.
    pub(crate) fn update<R>(&self, edit: impl FnOnce(&mut T) -> R) -> Result<R, AuthError>
    where
        T: Clone,
    {
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut doc = match read::<T>(&self.path) {
            Ok((_, doc)) => doc,
            Err(_) => (*guard.1).clone(),
        };
        let result = edit(&mut doc);
        write_atomic(&self.path, &doc)?;
        *guard = (stamp(&self.path)?, Arc::new(doc));
        Ok(result)
    }
}

fn stamp(path: &Path) -> Result<Stamp, AuthError> {
    let meta = fs::metadata(path)?;
    Ok(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

fn read<T: DeserializeOwned>(path: &Path) -> Result<(Stamp, T), AuthError> {
    let before = stamp(path)?;
    let bytes = fs::read(path)?;
    let value = serde_json::from_slice(&bytes).map_err(|e| AuthError::Format(e.to_string()))?;
    Ok((before, value))
}

fn write_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), AuthError> {
    let mut json = serde_json::to_vec_pretty(value).map_err(|e| AuthError::Format(e.to_string()))?;
    json.push(b'\n');
    // Temporary file (0600), synced, renamed, directory synced: an acknowledged revocation
    // survives a power failure.
    mlguard_core::fs::write_atomic(path, &json)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The write itself (0600, fsync, rename, directory fsync, no temporary file left, even on
    // failure) is tested in mlguard_core::fs; this checks the store goes through it.
    #[test]
    fn writes_are_private_and_leave_no_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("keys.json");
        let file = JsonFile::open_or_create(&path, &vec![1u32]).unwrap();
        file.update(|v: &mut Vec<u32>| v.push(2)).unwrap();
        assert_eq!(*file.current(), [1, 2]);
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
