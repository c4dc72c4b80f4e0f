//! The first user: `admin`, written as a `users.json` in the data directory that the database
//! then imports (see [`crate::bootstrap::open_database`]). Users live in the database.

use crate::config::Secret;
use crate::datadir::{DataDir, files, random_b64};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::users::{UserFile, UserRecord};

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
