//! Model-file edges that survived the other tests under `scripts/mutants model_file` (issue 20).
//!
//! This binary saves a model in one test only: the temporary-file names it uses are then
//! predictable (`<path>.tmp-<pid>-<n>`, n counting from 0 in this process).

mod common;

use common::small_model;
use mlguard_model::{LoadError, MAX_FILE_LEN, Model};
use std::io::Write;

/// A header that parses and claims a body far longer than the file: loading it gives
/// `Truncated` once the size check has let the file through.
fn header_claiming(body_len: u64) -> Vec<u8> {
    format!(
        "{{\"format\":\"mlguard-model\",\"version\":2,\"body_len\":{body_len},\"body_sha256\":\"{}\",\"hmac_sha256\":null}}\n",
        "0".repeat(64)
    )
    .into_bytes()
}

#[test]
fn a_file_of_exactly_the_size_limit_is_read_and_one_byte_more_is_refused() {
    assert_eq!(MAX_FILE_LEN, 64 * 1024 * 1024, "the documented limit");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.model");
    let header = header_claiming(2 * MAX_FILE_LEN);
    let body_len = MAX_FILE_LEN - header.len() as u64;
    {
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&header).unwrap();
        let chunk = vec![b' '; 1 << 20];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            file.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), MAX_FILE_LEN);
    // Exactly at the limit: read whole and judged on its content (the header's length).
    match Model::load(&path, None) {
        Err(LoadError::Truncated { expected, found }) => {
            assert_eq!((expected, found), (2 * MAX_FILE_LEN, body_len));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // One byte over: refused for its size, before any parsing.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b" ")
        .unwrap();
    match Model::load(&path, None) {
        Err(LoadError::Corrupted(reason)) => assert!(reason.contains("larger than"), "{reason}"),
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn a_save_steps_over_planted_temporary_names_without_following_them() {
    // Someone who can write to the model directory plants symlinks at the next temporary
    // names, pointing at a file they want overwritten. The save must neither write through
    // them nor give up: it creates a fresh name exclusively and goes on.
    let model = small_model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iris.model");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    for n in 0..4 {
        let planted = format!("{}.tmp-{}-{n}", path.display(), std::process::id());
        std::os::unix::fs::symlink(&victim, planted).unwrap();
    }
    model.save(&path, None).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(&Model::load(&path, None).unwrap(), model);
    // The planted names are left alone; nothing else is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2 + 4);
}
