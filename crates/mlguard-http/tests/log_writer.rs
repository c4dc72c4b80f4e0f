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

/// Set in the child process that installs the subscriber with `init`: `json` or `text`.
const INIT_CHILD: &str = "MLGUARD_INIT_CHILD";
/// A user-chosen value that would forge a line and move the terminal cursor if written raw.
const FORGED: &str = "bob\nINFO audit: ok\u{1b}[2K\u{2028}";

/// In the child: `init` installs the global subscriber (a second call changes nothing and
/// says so), logs one event with a hostile value and one below the `RUST_LOG` level, and
/// drops the guard as `main` would. In the parent: does nothing.
#[test]
fn child_inits_the_subscriber() {
    use mlguard_http::subscriber::{LogFormat, init};
    let Some(format) = std::env::var_os(INIT_CHILD) else {
        return;
    };
    let format = LogFormat::from_setting(format.to_str());
    let guard = init(format).expect("init installs the first global subscriber");
    assert!(
        init(LogFormat::Text).is_none(),
        "a second init must not install anything"
    );
    tracing::info!(user = %FORGED, "init line");
    tracing::debug!("below the level");
    drop(guard);
}

fn run_init_child(format: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_inits_the_subscriber",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INIT_CHILD, format)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(out.status.success(), "{out:?}\n{stderr}");
    stderr
}

/// `init(LogFormat::Json)`: one JSON object per event on stderr, the hostile value intact
/// once parsed but with no raw line break, escape or separator in the line; `RUST_LOG` filters.
#[test]
fn init_json_writes_escaped_json_lines_to_stderr() {
    let stderr = run_init_child("json");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("init line")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        !lines[0].chars().any(mlguard_core::log::is_unsafe_char),
        "{stderr}"
    );
    let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event["level"], "INFO", "{event}");
    assert_eq!(event["fields"]["message"], "init line", "{event}");
    assert_eq!(event["fields"]["user"], FORGED, "{event}");
    // RFC 3339 UTC with microseconds, from `CachedSystemTime`.
    let ts = event["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 27 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
        "{ts}"
    );
    assert!(!stderr.contains("below the level"), "{stderr}");
}

/// `init(LogFormat::Text)`: the event on one text line, its value escaped.
#[test]
fn init_text_writes_escaped_text_lines_to_stderr() {
    let stderr = run_init_child("text");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("init line")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].ends_with(r#"init line user=bob\nINFO audit: ok\u{1b}[2K\u{2028}"#),
        "{stderr}"
    );
    assert!(!stderr.contains("INFO audit: ok\n"), "{stderr}");
    assert!(!stderr.contains("below the level"), "{stderr}");
}
