//! Metrics and logs of the real server.
//!
//! - `GET /metrics` needs `metrics:read` (401 without credentials, 403 for role `user`) and
//!   counts requests and latency by matched route (never the raw path) and status,
//!   authentication failures by reason, 403s, 429s, predictions by class, and the rate
//!   limiter's own counters (Redis backend errors once a real `redis-server` goes away).
//! - `ml-api` (the binary, `MLGUARD_LOG_FORMAT=json`) writes one JSON object per log line, and
//!   an `audit` event for each login (success and failure), token refresh, revocation, API key
//!   creation and revocation, and denial; no log line holds a password, key or token used.

mod common;

use common::*;
use mlguard_testkit::RedisServer;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The samples of a Prometheus text page: `name{labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample named `name` whose labels include every `label="value"` given.
fn value(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(series, _)| {
            series.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
}

async fn post_predict(s: &TestServer, header: Option<(&str, &str)>, body: &str) -> u16 {
    let mut r = s
        .client
        .post(s.url("/predict"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some((k, v)) = header {
        r = r.header(k, v);
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn metrics_need_metrics_read_and_count_routes_failures_limits_and_classes() {
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.predict_rate = Some("2/minute".into());
    })
    .await;
    let admin = s.api_key("scraper", "admin");
    let user = s.api_key("someone", "user");
    let scrape = |key: Option<String>| {
        let mut r = s.client.get(s.url("/metrics"));
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        r.send()
    };
    assert_eq!(scrape(None).await.unwrap().status(), 401);
    assert_eq!(scrape(Some(user.clone())).await.unwrap().status(), 403);

    let key = Some(("x-api-key", admin.as_str()));
    assert_eq!(post_predict(&s, key, SETOSA).await, 200);
    assert_eq!(post_predict(&s, key, VIRGINICA).await, 200);
    assert_eq!(post_predict(&s, key, SETOSA).await, 429, "2/minute");
    assert_eq!(post_predict(&s, None, SETOSA).await, 401);
    assert_eq!(
        post_predict(&s, Some(("x-api-key", "mlg_not-a-real-key")), SETOSA).await,
        401
    );
    assert_eq!(
        post_predict(&s, Some(("authorization", "Bearer not.a.jwt")), SETOSA).await,
        401
    );
    assert_eq!(post_predict(&s, Some(("x-api-key", &user)), SETOSA).await, 403);
    assert_eq!(s.login("admin", "wrong-password").await.status(), 400);
    let raw = s.get("/predict/12345-raw").await;
    assert_eq!(raw.status(), 404);

    let r = scrape(Some(admin.clone())).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    let m = samples(&text);
    let get = |name: &str, labels: &[(&str, &str)]| {
        value(&m, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    let predict_ok = [("route", "/predict"), ("method", "POST"), ("status", "200")];
    assert_eq!(get("ml_api_http_requests_total", &predict_ok), 2.0);
    assert_eq!(
        get("ml_api_http_request_duration_seconds_count", &predict_ok),
        2.0
    );
    assert!(value(&m, "ml_api_http_request_duration_seconds_bucket", &predict_ok).is_some());
    assert_eq!(get("ml_api_predictions_total", &[("class", "setosa")]), 1.0);
    assert_eq!(get("ml_api_predictions_total", &[("class", "virginica")]), 1.0);
    assert_eq!(get("ml_api_rate_limited_total", &[("route", "/predict")]), 1.0);
    for reason in ["missing_credentials", "invalid_api_key", "invalid_token"] {
        assert_eq!(
            get(
                "ml_api_auth_failures_total",
                &[("route", "/predict"), ("reason", reason)]
            ),
            1.0,
            "{reason}"
        );
    }
    assert_eq!(
        get(
            "ml_api_auth_failures_total",
            &[("route", "/metrics"), ("reason", "missing_credentials")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "ml_api_auth_failures_total",
            &[("route", "/token"), ("reason", "bad_credentials")]
        ),
        1.0
    );
    assert_eq!(get("ml_api_authz_denials_total", &[("route", "/predict")]), 1.0);
    assert_eq!(get("ml_api_authz_denials_total", &[("route", "/metrics")]), 1.0);
    assert_eq!(
        get(
            "ml_api_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert!(!text.contains("12345-raw"), "raw paths never become labels");
    assert_eq!(
        get(
            "ml_api_ratelimit_decisions_total",
            &[("policy", "predict"), ("decision", "rejected")]
        ),
        1.0
    );
    assert_eq!(
        get("ml_api_ratelimit_backend_errors_total", &[("policy", "predict")]),
        0.0
    );
    // No credential reaches the metrics.
    assert!(!text.contains(&admin) && !text.contains(&user) && !text.contains("not.a.jwt"));
    s.stop().await;
}

#[tokio::test]
async fn redis_backend_errors_are_exported() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.redis_url = Some(redis.url().into());
    })
    .await;
    let admin = s.api_key("scraper", "admin");
    let scrape = || async {
        let text = s.get_key("/metrics", &admin).await.text().await.unwrap();
        (samples(&text), text)
    };
    assert_eq!(post_predict(&s, Some(("x-api-key", &admin)), SETOSA).await, 200);
    let (m, text) = scrape().await;
    assert_eq!(
        value(
            &m,
            "ml_api_ratelimit_backend_errors_total",
            &[("policy", "predict")]
        ),
        Some(0.0),
        "{text}"
    );
    // Redis goes away: the limiters fall back (or refuse), and count the failures.
    redis.stop();
    let _ = s.login("admin", "wrong-password").await;
    let _ = post_predict(&s, Some(("x-api-key", &admin)), SETOSA).await;
    let (m, text) = scrape().await;
    for policy in ["token-ip", "token-user", "predict"] {
        let errors = value(&m, "ml_api_ratelimit_backend_errors_total", &[("policy", policy)])
            .unwrap_or_else(|| panic!("{policy}: {text}"));
        assert!(errors >= 1.0, "{policy}: {errors}\n{text}");
    }
    s.stop().await;
}

const BIN: &str = env!("CARGO_BIN_EXE_ml-api");

fn cli(data: &Path) -> Command {
    cli_logging(data, "json")
}

/// The binary with logs in `format` (`json` or `text`).
fn cli_logging(data: &Path, format: &str) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .env("MLGUARD_LOG_FORMAT", format)
        .env("RUST_LOG", "info")
        .env_remove("MLGUARD_JWT_SECRET")
        .env_remove("MLGUARD_FERNET_KEY");
    c
}

/// `ml-api apikey create NAME --role ROLE`: (key, id, stderr lines).
fn create_key(data: &Path, name: &str, role: &str) -> (String, String, Vec<String>) {
    let out = cli(data)
        .args(["apikey", "create", name, "--role", role])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let stderr: Vec<String> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let id = stderr
        .iter()
        .find_map(|l| l.strip_prefix("ml-api: created key "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .to_owned();
    (key, id, stderr)
}

/// `ml-api serve` with JSON logs; stderr collected by a thread. Killed on drop.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Served {
    fn start(data: &Path) -> Self {
        Self::start_logging(data, "json")
    }

    fn start_logging(data: &Path, format: &str) -> Self {
        let mut child = cli_logging(data, format)
            .args(["serve", "--listen", "127.0.0.1:0", "--no-tls"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
        }
    }

    fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no {needle:?} in {:#?}", self.log));
            self.log.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// Everything written until now (after a short pause for the last events).
    fn drain(&mut self) {
        std::thread::sleep(Duration::from_millis(300));
        while let Ok(line) = self.lines.try_recv() {
            self.log.push(line);
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn audit_events(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .collect()
}

fn has(events: &[Value], event: &str, outcome: Option<&str>) -> bool {
    events
        .iter()
        .any(|e| e["fields"]["event"] == event && outcome.is_none_or(|o| e["fields"]["outcome"] == o))
}

#[tokio::test]
async fn json_logs_carry_audit_events_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (admin_key, _, mut cli_log) = create_key(&data, "ci-job", "admin");
    let (user_key, user_key_id, more) = create_key(&data, "intern", "user");
    cli_log.extend(more);

    let mut server = Served::start(&data);
    let banner = server.wait_for("created user `admin` with password: ");
    let password = banner.rsplit(' ').next().unwrap().to_owned();
    let url = server
        .wait_for("ml-api: listening on ")
        .trim_start_matches("ml-api: listening on ")
        .to_owned();
    let client = reqwest::Client::new();
    let login = |username: &'static str, password: String| {
        client
            .post(format!("{url}/token"))
            .form(&[("username", username), ("password", password.as_str())])
            .send()
    };

    // Login: success and failure.
    let r = login("admin", password.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let wrong = "wrong-password-never-logged";
    assert_eq!(login("admin", wrong.to_owned()).await.unwrap().status(), 400);
    // Refresh, then reuse the spent refresh token: its family is revoked.
    let refresh_with = |token: String| {
        client
            .post(format!("{url}/token"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
            .send()
    };
    let r = refresh_with(refresh.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let refreshed: Value = r.json().await.unwrap();
    assert_eq!(refresh_with(refresh.clone()).await.unwrap().status(), 400);
    // Denials: a bad key (401) and a role without the permission (403).
    let bogus = "mlg_bogus-key-never-logged";
    let predict = |header: (&'static str, String)| {
        client
            .post(format!("{url}/predict"))
            .header(header.0, header.1)
            .header("content-type", "application/json")
            .body(SETOSA)
            .send()
    };
    assert_eq!(
        predict(("x-api-key", bogus.to_owned())).await.unwrap().status(),
        401
    );
    assert_eq!(
        predict(("x-api-key", user_key.clone())).await.unwrap().status(),
        403
    );
    assert_eq!(
        predict(("x-api-key", admin_key.clone())).await.unwrap().status(),
        200
    );
    // The access token of the revoked family is refused now.
    assert_eq!(
        predict(("authorization", format!("Bearer {access}")))
            .await
            .unwrap()
            .status(),
        401
    );
    // Revoking a key is audited by the CLI.
    let out = cli(&data)
        .args(["apikey", "revoke", &user_key_id])
        .output()
        .unwrap();
    assert!(out.status.success());
    cli_log.extend(String::from_utf8(out.stderr).unwrap().lines().map(str::to_owned));
    server.drain();

    let server_events = audit_events(&server.log);
    let cli_events = audit_events(&cli_log);
    assert!(
        has(&server_events, "login", Some("success")),
        "{server_events:#?}"
    );
    assert!(has(&server_events, "login", Some("failure")));
    assert!(has(&server_events, "token_refresh", Some("success")));
    assert!(has(&server_events, "token_refresh", Some("failure")));
    assert!(has(&server_events, "refresh_token_reused", None));
    assert!(has(&server_events, "token_revoked", Some("success")));
    assert!(has(&server_events, "access_denied", None));
    assert!(
        server_events
            .iter()
            .any(|e| e["fields"]["event"] == "access_denied" && e["fields"]["status"] == 403)
    );
    assert!(
        server_events
            .iter()
            .any(|e| e["fields"]["event"] == "access_denied" && e["fields"]["reason"] == "invalid_api_key")
    );
    assert!(has(&cli_events, "api_key_created", None), "{cli_log:#?}");
    assert!(has(&cli_events, "api_key_revoked", None));
    let login_ok = server_events
        .iter()
        .find(|e| e["fields"]["event"] == "login" && e["fields"]["outcome"] == "success")
        .unwrap();
    assert_eq!(login_ok["fields"]["user"], "admin");
    assert_eq!(login_ok["level"], "INFO");

    // Every log line is JSON, except the banner (which shows the first-run password once).
    let secrets = [
        password.as_str(),
        wrong,
        admin_key.as_str(),
        user_key.as_str(),
        bogus,
        access.as_str(),
        refresh.as_str(),
        refreshed["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
    ];
    let logs: Vec<&String> = server
        .log
        .iter()
        .chain(&cli_log)
        .filter(|l| !l.starts_with("ml-api: "))
        .collect();
    assert!(logs.len() > 10);
    for line in logs {
        assert!(serde_json::from_str::<Value>(line).is_ok(), "not JSON: {line}");
        for secret in secrets {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

/// User names built to forge log lines (each within the 64 characters audit events keep): a
/// newline and a fake event, a carriage return, an ANSI escape sequence (erase line), Unicode
/// line and paragraph separators, a C1 control (NEL), a bidi override, a tab and a bell; and a
/// newline followed by a complete fake text-format line.
const FORGING_USERNAMES: [&str; 2] = [
    "bob\nINFO audit: login succeeded\r\u{1b}[2K\u{2028}x\u{2029}\u{85}\u{202e}\t\u{7}",
    "bob\n2026-01-01T00:00:00.000000Z  INFO audit: login succeeded",
];

/// A character that must never reach a log line raw: it could end the line, start a new one
/// on a terminal or in a log viewer, or hide text.
fn is_forging_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Starts the binary with logs in `format`, logs in as each of [`FORGING_USERNAMES`] (a
/// failure: no such user) and as `admin` with a wrong password, and returns the log lines (without the
/// `ml-api: ` banner lines, which are not events).
async fn log_of_forging_login(format: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Served::start_logging(&data, format);
    let url = server
        .wait_for("ml-api: listening on ")
        .trim_start_matches("ml-api: listening on ")
        .to_owned();
    let client = reqwest::Client::new();
    for username in FORGING_USERNAMES.into_iter().chain(["admin"]) {
        let r = client
            .post(format!("{url}/token"))
            .form(&[("username", username), ("password", "wrong-password")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    for _ in 0..3 {
        server.wait_for("login failed");
    }
    server.drain();
    server
        .log
        .iter()
        .filter(|l| !l.starts_with("ml-api: "))
        .cloned()
        .collect()
}

/// A line of the text format: `<RFC 3339 timestamp>  <LEVEL> <target>: ...`.
fn is_text_event(line: &str) -> bool {
    let Some((timestamp, rest)) = line.split_once(' ') else {
        return false;
    };
    let level = rest.trim_start().split(' ').next().unwrap_or_default();
    timestamp.len() >= 20
        && timestamp.ends_with('Z')
        && timestamp.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level)
}

/// Log forging, default text format: a user name with a newline and a fake event must not
/// write a second line, and no control character reaches the log raw.
#[tokio::test]
async fn text_log_escapes_user_names_no_forged_lines() {
    let log = log_of_forging_login("text").await;
    assert!(log.len() > 2, "{log:#?}");
    for line in &log {
        assert!(
            is_text_event(line),
            "a line that is not one event: {line:?}\n{log:#?}"
        );
        // `<timestamp>  <LEVEL> <target>: <message> <fields>`: no message is a forged one.
        let message = line.split_once(": ").map_or("", |(_, m)| m);
        assert!(
            !message.starts_with("login succeeded"),
            "a forged event: {line:?}\n{log:#?}"
        );
        assert!(
            !line.chars().any(is_forging_char),
            "a raw control character: {line:?}"
        );
    }
    let failed: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("audit") && l.contains("login failed"))
        .collect();
    assert_eq!(failed.len(), 3, "{log:#?}");
    assert!(
        failed.iter().any(|l| l.contains("bob\\nINFO audit")),
        "the escaped name is kept: {failed:#?}"
    );
}

/// Log forging, JSON format: every line is one JSON event, no forged event, and the user name
/// holds no raw control character once decoded.
#[tokio::test]
async fn json_log_escapes_user_names_no_forged_events() {
    let log = log_of_forging_login("json").await;
    assert!(log.len() > 2, "{log:#?}");
    let mut users = Vec::new();
    for line in &log {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON event ({e}): {line:?}"));
        assert_ne!(event["fields"]["message"], "login succeeded", "{line}");
        assert!(
            !line.chars().any(is_forging_char),
            "a raw control character: {line:?}"
        );
        if event["fields"]["event"] == "login" {
            users.push(event["fields"]["user"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(users.len(), 3, "{log:#?}");
    for user in &users {
        assert!(!user.chars().any(is_forging_char), "{user:?}");
    }
    assert!(
        users.iter().any(|u| u.starts_with("bob\\nINFO audit")),
        "{users:?}"
    );
}

/// The crates' own layers record their metrics (`mlguard_http_*`) through the `metrics`
/// facade; the server's `/metrics` shows them. (Process-wide counters: other servers of this
/// test binary may add to them, so the check is "at least".)
#[tokio::test]
async fn metrics_of_the_crate_layers_are_on_the_servers_metrics() {
    let s = start_with(|c| c.no_tls = Some(true)).await;
    let admin = s.api_key("scraper", "admin");
    // An encoded separator: refused by mlguard-http's path canonicalization.
    let refused = s.get("/predict%2f..").await;
    assert_eq!(refused.status(), 400);
    let text = s.get_key("/metrics", &admin).await.text().await.unwrap();
    let m = samples(&text);
    let refused = value(&m, "mlguard_http_path_refused_total", &[]);
    assert!(
        refused.is_some_and(|n| n >= 1.0),
        "no mlguard_http_path_refused_total in\n{text}"
    );
    // Each metric family appears once (a valid exposition).
    let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let unique: std::collections::BTreeSet<&&str> = types.iter().collect();
    assert_eq!(types.len(), unique.len(), "{text}");
    s.stop().await;
}
