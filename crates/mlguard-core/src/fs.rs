//! Atomic, durable, private file writes: the one implementation the mlguard crates (key and
//! user stores, model files) and servers (their data directory) share.
//!
//! A write goes to a new temporary file in the same directory (created exclusively, so never
//! through a planted symlink, and mode `0600` on Unix: the umask cannot widen it), is synced,
//! then renamed (or, for [`create_new_atomic`], hard-linked) onto its name, and the directory is
//! synced so that the new name itself survives a power failure. A reader never sees a
//! half-written file, an acknowledged write (a revoked key) is not lost, and a failed write
//! leaves no temporary file behind.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join(format!("mlguard-core-fs-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("keys.json");
//! mlguard_core::fs::write_atomic(&path, b"[]")?;
//! assert_eq!(std::fs::read(&path)?, b"[]");
//! // Created once: a second creation leaves the first content alone.
//! assert!(!mlguard_core::fs::create_new_atomic(&path, b"other")?);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of every file written here (Unix).
pub const FILE_MODE: u32 = 0o600;

/// Replaces (or creates) `path` with `bytes`, atomically and durably, mode `0600`.
///
/// # Errors
/// I/O errors; the temporary file is removed first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, bytes)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    sync_dir(parent_dir(path))
}

/// Creates `path` holding `bytes`, atomically and durably, mode `0600`, unless it exists.
/// Returns `true` when this call created it, `false` when it already existed (its content is
/// left alone): two processes racing through a first run never overwrite each other's secrets.
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
        Ok(()) => sync_dir(parent_dir(path)).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Temporary-file names taken by this process (with the process id, unique on the host).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a new `.<name>.tmp-<pid>-<n>` beside `path`, synced and closed.
fn write_temp(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))?
        .to_string_lossy()
        .into_owned();
    let (tmp, mut file) = create_temp(path, &name)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    // Closed before the rename (Windows refuses to rename an open file).
    drop(file);
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Creates the temporary file exclusively; a name left by a crashed process that had the same
/// id is skipped.
fn create_temp(path: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for _ in 0..16 {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Syncs directory `dir`, making the names created or renamed in it durable (a file's own
/// `sync_all` does not cover its directory entry). A no-op where a directory cannot be opened
/// as a file (Windows).
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(test)]
    DIR_SYNCS.with(|n| n.set(n.get() + 1));
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Mode of a private directory (Unix).
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and parents) with mode `0700` (the umask cannot widen it), or tightens an
/// existing one that others can read to `0700` (with a warning). Returns whether it was
/// created now. For the directory that holds a server's secrets and stores.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = std::env::temp_dir().join(format!("mlguard-core-dir-doc-{}", std::process::id()));
/// assert!(mlguard_core::fs::ensure_private_dir(&dir.join("data"))?);
/// assert!(!mlguard_core::fs::ensure_private_dir(&dir.join("data"))?);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// I/O errors.
pub fn ensure_private_dir(dir: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
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

#[cfg(test)]
thread_local! {
    /// Directory syncs done by this thread, for the tests.
    static DIR_SYNCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn syncs() -> usize {
        DIR_SYNCS.with(std::cell::Cell::get)
    }

    #[test]
    fn writes_are_private_durable_and_leave_no_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("keys.json");
        let before = syncs();
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // One directory sync per write: the rename survives a power failure.
        assert_eq!(syncs(), before + 2);
        assert_eq!(names(root.path()), ["keys.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                FILE_MODE
            );
        }
    }

    #[test]
    fn a_file_is_created_once_privately() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("secret");
        let before = syncs();
        assert!(create_new_atomic(&path, b"one").unwrap());
        assert!(!create_new_atomic(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"one");
        // Nothing written the second time, nothing synced.
        assert_eq!(syncs(), before + 1);
        assert_eq!(names(root.path()), ["secret"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                FILE_MODE
            );
        }
    }

    #[test]
    fn a_failed_rename_removes_the_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails.
        let busy = root.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("x"), b"").unwrap();
        assert!(write_atomic(&busy, b"y").is_err());
        assert_eq!(names(root.path()), ["busy"]);
    }

    #[test]
    fn a_relative_bare_file_name_syncs_the_current_directory() {
        // `Path::parent` of "m.model" is "", which is not a directory to open.
        assert_eq!(parent_dir(Path::new("m.model")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/m.model")), Path::new("a"));
    }

    #[cfg(unix)]
    fn dir_mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn dir_is_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        assert!(ensure_private_dir(&dir).unwrap());
        assert_eq!(dir_mode(&dir), 0o700);
        assert!(!ensure_private_dir(&dir).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn loose_dir_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(dir_mode(&dir), 0o700);
    }
}
