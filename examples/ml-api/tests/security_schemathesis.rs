//! Schemathesis against the running server's own `/openapi.json`, with a valid admin token:
//! no response may be a 5xx (`not_a_server_error`) and every documented response must match
//! its schema (`response_schema_conformance`).
//!
//! Needs the `schemathesis` command (`pip install schemathesis`; written against 4.x). Without
//! it the test prints why and passes, except in CI, where a missing tool is a failure (`.ci/run`
//! installs it; `mlguard_testkit::missing_dependency` is the rule). `SCHEMATHESIS_MAX_EXAMPLES` (default 20)
//! bounds the examples per operation.
//!
//! The server runs over plain HTTP (Python's TLS stack would have to trust the generated
//! self-signed certificate; TLS itself is covered by the end-to-end tests) with quotas raised,
//! so the fuzzer's hundreds of requests measure the API, not the rate limiter.

mod common;

use common::*;
use std::process::Command;

fn schemathesis_available() -> bool {
    Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_and_no_schema_violations() {
    if !schemathesis_available() {
        mlguard_testkit::missing_dependency(
            "schemathesis_finds_no_server_errors_and_no_schema_violations",
            "schemathesis is not installed (pip install schemathesis)",
        );
        return;
    }
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.token_rate = Some("1000000/minute".into());
        c.predict_rate = Some("1000000/minute".into());
    })
    .await;
    let spec = s.get("/openapi.json").await;
    assert_eq!(spec.status(), 200, "the server must serve /openapi.json");
    let r = s.login("admin", &s.admin_password).await;
    assert_eq!(r.status(), 200);
    let token = json(r).await["access_token"].as_str().unwrap().to_owned();
    let max_examples = std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| "20".into());
    let url = s.url("/openapi.json");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .args(["run", &url])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--max-examples", &max_examples])
            .args(["--seed", "20240611"])
            .args(["--request-timeout", "20"])
            .args(["--generation-database", "none"])
            .args(["--workers", "1"])
            .arg("--no-color")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(
        out.status.success(),
        "schemathesis found problems (exit {:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    s.stop().await;
}
