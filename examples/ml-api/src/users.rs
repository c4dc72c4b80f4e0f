//! Users in the data directory (`users.json`, argon2id PHC hashes), through mlguard-auth's
//! file-backed store. A running server re-reads the file when it changes.

use crate::config::Secret;
use crate::datadir::{DataDir, files, random_b64};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::users::{FileUserStore, UserFile, UserRecord};
use std::path::Path;

/// Creates `users.json` with an `admin` user (role `admin`, a random 24-character password)
/// when the file does not exist yet; returns the password when it did so. Later runs leave the
/// file alone and return `None`.
///
/// # Errors
/// A message naming the file.
pub fn ensure_admin(dir: &DataDir) -> Result<Option<Secret>, String> {
    let path = dir.file(files::USERS);
    if path.exists() {
        return Ok(None);
    }
    let password = random_b64(18).map_err(|e| e.to_string())?;
    let hash = PasswordHasher::new()
        .hash_blocking(&password)
        .map_err(|e| e.to_string())?;
    let admin = UserRecord {
        username: "admin".into(),
        password_hash: hash,
        roles: vec!["admin".into()],
        disabled: false,
    };
    let doc = serde_json::to_vec_pretty(&UserFile { users: vec![admin] }).map_err(|e| e.to_string())?;
    // Atomic and exclusive: when two first runs race, one file wins and only its creator
    // prints a password.
    match mlguard_core::fs::create_new_atomic(&path, &doc) {
        Ok(true) => Ok(Some(Secret::new(password.as_str()))),
        Ok(false) => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Opens (or creates, empty) the user store.
///
/// # Errors
/// A message naming the file.
pub fn open(dir: &DataDir) -> Result<FileUserStore, String> {
    let path = dir.file(files::USERS);
    FileUserStore::open_or_create(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Removes `username` from the users file; `false` when there was no such user.
///
/// # Errors
/// A message naming the file.
pub fn remove(path: &Path, username: &str) -> Result<bool, String> {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let text = std::fs::read(path).map_err(|e| err(&e))?;
    let mut doc: UserFile = serde_json::from_slice(&text).map_err(|e| err(&e))?;
    let before = doc.users.len();
    doc.users.retain(|u| u.username != username);
    if doc.users.len() == before {
        return Ok(false);
    }
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| err(&e))?;
    mlguard_core::fs::write_atomic(path, &bytes).map_err(|e| err(&e))?;
    Ok(true)
}
