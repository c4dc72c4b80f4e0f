//! Users and API keys in the data directory, through mlguard-auth's file-backed stores.
//!
//! TODO(mlguard-auth): the user store (argon2id hashes) and the API key store come from
//! mlguard-auth, which is being written in parallel. Until it lands, no `admin` user is created
//! and the `user` / `apikey` commands answer "not available yet".

use crate::bootstrap::DataDir;
use crate::config::Secret;

/// Makes sure the users file exists with an `admin` user; returns `admin`'s random password
/// when it was created now.
///
/// # Errors
/// A message naming the file.
pub fn ensure_admin(_dir: &DataDir) -> Result<Option<Secret>, String> {
    // TODO(mlguard-auth): create users.json with `admin` (role admin, random password).
    Ok(None)
}
