//! The data directory on disk: owner-only permissions and atomic file creation.
//!
//! The directory is created `0700` and every file `0600` (the umask cannot widen them: the mode
//! is given at `open`). A file is written to a temporary name, synced, then hard-linked to its
//! final name, which fails if the name exists: two processes racing through a first run never
//! overwrite each other's secrets, and a crash never leaves a half-written key behind. After
//! the link (or the rename of a replacement) the directory is synced, so the new name survives
//! a power failure too.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

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

/// Writes `bytes` to a new file `path` (mode `0600`) atomically, unless `path` exists.
/// Returns `true` when this call created it, `false` when it already existed (its content is
/// left alone).
///
/// # Errors
/// I/O errors other than "already exists".
pub fn create_new_atomic(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    let tmp = write_temp(path, bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_parent(path)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Replaces `path` with `bytes` atomically (temporary file, then rename), mode `0600`.
///
/// # Errors
/// I/O errors.
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, bytes)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    sync_parent(path)
}

/// Syncs the directory holding `path`: a file's own `sync_all` does not make its name
/// durable, so without this a rename or link (a revocation written by the CLI) can be lost on
/// power failure although the write was acknowledged. A no-op where a directory cannot be
/// opened as a file (Windows).
fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    #[cfg(test)]
    DIR_SYNCS.with(|n| n.set(n.get() + 1));
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Directory syncs done by this thread, for the tests.
    static DIR_SYNCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
fn dir_syncs() -> usize {
    DIR_SYNCS.with(std::cell::Cell::get)
}

fn write_temp(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "file name"))?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", u64::from_le_bytes(nonce)));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let mut file = options.open(&tmp)?;
    let result = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn dir_is_private_and_files_are_created_once() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        assert!(ensure_private_dir(&dir).unwrap());
        assert_eq!(mode(&dir), 0o700);
        assert!(!ensure_private_dir(&dir).unwrap());

        let f = dir.join("secret");
        assert!(create_new_atomic(&f, b"one").unwrap());
        assert!(!create_new_atomic(&f, b"two").unwrap());
        assert_eq!(fs::read(&f).unwrap(), b"one");
        assert_eq!(mode(&f), 0o600);
        replace_atomic(&f, b"three").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"three");
        assert_eq!(mode(&f), 0o600);
        // No temporary files left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn temp_file_is_private_and_removed_when_the_rename_fails() {
        let root = tempfile::tempdir().unwrap();
        let tmp = write_temp(&root.path().join("f"), b"secret").unwrap();
        assert_eq!(mode(&tmp), 0o600);
        assert_eq!(fs::read(&tmp).unwrap(), b"secret");
        fs::remove_file(&tmp).unwrap();
        // A rename onto a non-empty directory fails: no temporary file stays behind.
        let busy = root.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("x"), b"").unwrap();
        assert!(replace_atomic(&busy, b"y").is_err());
        let names: Vec<_> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["busy"]);
    }

    #[test]
    fn the_directory_is_synced_after_each_rename_and_link() {
        // Without it a power failure can lose the new name (a revocation written by the CLI).
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("revoked.json");
        let before = dir_syncs();
        assert!(create_new_atomic(&f, b"one").unwrap());
        assert_eq!(dir_syncs(), before + 1);
        replace_atomic(&f, b"two").unwrap();
        assert_eq!(dir_syncs(), before + 2);
        // Nothing written, nothing synced.
        assert!(!create_new_atomic(&f, b"three").unwrap());
        assert_eq!(dir_syncs(), before + 2);
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
