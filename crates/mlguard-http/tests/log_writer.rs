//! The non-blocking log writer in a real process: every line queued before the end of `main`
//! reaches stderr (the guard's drop writes them out), none is lost at exit.
#![cfg(feature = "subscriber")]

use mlguard_http::log_format::EscapedFields;
use mlguard_http::log_writer::LogWriterBuilder;
use std::process::Command;

/// Set in the child process.
const CHILD: &str = "MLGUARD_LOG_WRITER_CHILD";
const LINES: usize = 5_000;

/// In the child: logs `LINES` events through the writer to stderr and returns, dropping the
/// guard as a program's `main` would. In the parent (a normal test run): does nothing.
#[test]
fn child_logs_then_exits() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (writer, guard) = LogWriterBuilder::new().build(std::io::stderr()).unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .fmt_fields(EscapedFields)
        .with_writer(writer)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..LINES {
            tracing::info!(i, "child line");
        }
    });
    drop(guard);
}

#[test]
fn every_line_queued_before_exit_is_written() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_logs_then_exits",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("child line i=")).collect();
    assert_eq!(lines.len(), LINES, "lines lost at exit:\n{stderr}");
    for (i, line) in lines.iter().enumerate() {
        assert!(line.ends_with(&format!("child line i={i}")), "{line}");
    }
}
