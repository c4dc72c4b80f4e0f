//! `shutdown_signal` completes on SIGTERM, and not before. Its own test binary: the test sends
//! SIGTERM to this process (handled by then, tokio keeps the handler installed).

use std::time::Duration;

#[tokio::test]
async fn sigterm_completes_the_shutdown_signal() {
    let signal = tokio::spawn(mlguard_http::server::shutdown_signal());
    // Polled by now (its handlers are installed on the first poll), and not complete.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!signal.is_finished(), "completed without a signal");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(10), signal)
        .await
        .expect("SIGTERM completes it")
        .unwrap();
}
