//! The first user of a fresh installation: written once as a [`UserFile`] (the format of
//! [`FileUserStore`](crate::users::FileUserStore), which `sql::SqlStore::import_json_dir`
//! imports), with a random password returned to be shown once.
//!
//! **What it protects against:** a default password (every installation gets its own, 144
//! random bits), a password that outlives the first start in plain text (only its Argon2id
//! hash is written; the caller prints the password once and drops it), a world-readable user
//! file (mode `0600`, written atomically and durably), and two first starts racing each other:
//! the file is created exclusively, so only the start whose file won gets a password back, and
//! a password that was never stored is never shown.
//!
//! ```
//! use mlguard_auth::first_user::create_first_user_file;
//! use mlguard_auth::password::{PasswordCheck, PasswordHasher};
//! use mlguard_auth::users::{FileUserStore, UserStore};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("users.json");
//! let password = create_first_user_file(&path, "admin", &["admin"])?.expect("created now");
//! assert_eq!(password.len(), 24);
//! assert!(create_first_user_file(&path, "admin", &["admin"])?.is_none(), "only once");
//!
//! let admin = FileUserStore::open_or_create(&path)?.get("admin")?.unwrap();
//! assert_eq!(admin.roles, ["admin"]);
//! let check = PasswordHasher::new().verify_blocking(&password, Some(&admin.password_hash));
//! assert!(matches!(check, PasswordCheck::Valid { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::AuthError;
use crate::error::random_bytes;
use crate::password::PasswordHasher;
use crate::users::{UserFile, UserRecord};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::path::Path;
use zeroize::Zeroizing;

/// Random bytes in a first user's password (24 characters of base64url).
pub const PASSWORD_BYTES: usize = 18;

/// Creates the user file `path` holding one enabled user, `username` with `roles` and a random
/// password, unless `path` exists. Returns the password when this call created the file (show
/// it once, then drop it), `None` when the file was already there (it is left alone).
///
/// # Errors
/// [`AuthError::Rng`], [`AuthError::PasswordHash`], or [`AuthError::Io`] naming the file.
pub fn create_first_user_file(
    path: &Path,
    username: &str,
    roles: &[&str],
) -> Result<Option<Zeroizing<String>>, AuthError> {
    if path.exists() {
        return Ok(None);
    }
    let mut bytes = Zeroizing::new([0u8; PASSWORD_BYTES]);
    random_bytes(&mut *bytes)?;
    let password = Zeroizing::new(URL_SAFE_NO_PAD.encode(*bytes));
    let user = UserRecord {
        username: username.to_owned(),
        password_hash: PasswordHasher::new().hash_blocking(&password)?,
        roles: roles.iter().map(|&r| r.to_owned()).collect(),
        disabled: false,
    };
    let doc = serde_json::to_vec_pretty(&UserFile { users: vec![user] })
        .map_err(|e| AuthError::Format(e.to_string()))?;
    let named =
        |e: std::io::Error| AuthError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display())));
    // Exclusive: when two first starts race, one file wins and only its creator gets a password.
    match mlguard_core::fs::create_new_atomic(path, &doc).map_err(named)? {
        true => Ok(Some(password)),
        false => Ok(None),
    }
}
