//! The one-time upgrade from JSON files to the database.

use super::db::Db;
use crate::AuthError;
use crate::apikey::KeyFile;
use crate::users::UserFile;
use std::path::{Path, PathBuf};

/// The user file a data directory held before the database: `users.json`.
pub const USERS_FILE: &str = "users.json";
/// The API key file a data directory held before the database: `apikeys.json`.
pub const KEYS_FILE: &str = "apikeys.json";

/// What [`SqlStore::import_json_dir`](super::SqlStore::import_json_dir) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Users added to the database (already present ones are kept as they are).
    pub users: usize,
    /// API keys added to the database (already present ones are kept as they are).
    pub keys: usize,
    /// The files imported, as renamed (`*.imported`).
    pub renamed: Vec<PathBuf>,
}

pub(super) async fn import_dir(db: &Db, dir: &Path) -> Result<ImportReport, AuthError> {
    let mut report = ImportReport::default();
    let users_path = dir.join(USERS_FILE);
    if let Some(doc) = read::<UserFile>(&users_path)? {
        report.users = db.insert_new_users(&doc.users).await?;
        report.renamed.push(mark_imported(&users_path)?);
        tracing::warn!(users = report.users, path = %users_path.display(), "imported users into the database");
    }
    let keys_path = dir.join(KEYS_FILE);
    if let Some(doc) = read::<KeyFile>(&keys_path)? {
        report.keys = db.insert_new_keys(&doc.keys).await?;
        report.renamed.push(mark_imported(&keys_path)?);
        tracing::warn!(keys = report.keys, path = %keys_path.display(), "imported API keys into the database");
    }
    Ok(report)
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, AuthError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AuthError::Format(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AuthError::Io(e)),
    }
}

/// Renames `path` to `path.imported` (after the database committed: a crash in between means
/// the next start imports again, which adds nothing twice).
fn mark_imported(path: &Path) -> Result<PathBuf, AuthError> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".imported");
    let to = path.with_file_name(name);
    std::fs::rename(path, &to)?;
    Ok(to)
}
