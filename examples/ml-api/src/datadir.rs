//! The data directory: its file names ([`files`]), paths ([`DataDir`]), and the directory on
//! disk, created `0700` (the umask cannot widen it). Its files are
//! written with [`mlguard_core::fs`]: `0600`, atomically and durably, created once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

/// File names inside the data directory.
pub mod files {
    /// HS256 secret.
    pub const JWT_SECRET: &str = "jwt.secret";
    /// Fernet key.
    pub const FERNET_KEY: &str = "fernet.key";
    /// Model signing key.
    pub const MODEL_KEY: &str = "model.key";
    /// Model file.
    pub const MODEL: &str = "iris.model.json";
    /// Self-signed certificate.
    pub const TLS_CERT: &str = "tls-cert.pem";
    /// Its private key.
    pub const TLS_KEY: &str = "tls-key.pem";
    /// Users.
    pub const USERS: &str = "users.json";
    /// API keys.
    pub const API_KEYS: &str = "apikeys.json";
}

/// Paths of the files in a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (nothing is touched on disk).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file in it.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// Random bytes as base64url, without padding.
///
/// # Errors
/// The OS random source failed.
pub fn random_b64(n: usize) -> io::Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(vec![0u8; n]);
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(&*bytes)))
}

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and parents) with mode `0700`, or tightens an existing one to `0700`.
/// Returns whether it was created now.
///
/// # Errors
/// I/O errors.
pub fn ensure_private_dir(dir: &Path) -> io::Result<bool> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            let mode = fs::metadata(dir)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "data directory was readable by others; setting mode 0700");
                fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
            }
        }
        return Ok(false);
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)?;
    #[cfg(unix)]
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    Ok(true)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn dir_is_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        assert!(ensure_private_dir(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
        assert!(!ensure_private_dir(&dir).unwrap());
    }

    #[test]
    fn loose_dir_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }
}
