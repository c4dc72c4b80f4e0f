//! The data directory: its file names ([`files`]), paths ([`DataDir`]), and the directory on
//! disk, created `0700` by [`mlguard_core::fs::ensure_private_dir`]. Its files are written with
//! [`mlguard_core::fs`]: `0600`, atomically and durably, created once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::io;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

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

pub use mlguard_core::fs::{DIR_MODE, ensure_private_dir};
