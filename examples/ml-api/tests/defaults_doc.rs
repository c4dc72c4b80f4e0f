//! docs/defaults.md's "Status codes per failure" rows that the server answers (the auth rows are
//! pinned by mlguard-auth's `tests/defaults_doc.rs`), pinned against a real server over HTTP:
//! each row's status, the problem `detail` or OAuth `error` when the row names one, and each
//! response header the row names must be what the server really sends.

mod common;

use common::*;
use reqwest::Response;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use mlguard_testkit::defaults_doc::{DEFAULTS, row};

/// Checks `response` against `failure`'s row: the status cell, the problem detail or OAuth
/// error when the row quotes one, and every header in `headers` (which the row must name).
async fn pin(failure: &str, response: Response, headers: &[&str]) -> Value {
    let row = row(failure);
    let cells: Vec<&str> = row.split(" | ").collect();
    let status = response.status().as_u16();
    assert_eq!(cells[1], status.to_string(), "status of {failure:?}");
    for name in headers {
        let lower = row.to_ascii_lowercase();
        assert!(
            lower.contains(name),
            "{failure:?}: the row does not name {name}:\n{row}"
        );
        assert!(
            response.headers().contains_key(*name),
            "{failure:?}: no {name} header"
        );
    }
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if content_type == "application/problem+json" {
        assert!(
            row.contains("problem"),
            "{failure:?}: a problem body the row does not mention"
        );
        assert_eq!(body["status"], status, "{failure:?}: problem status member");
        let detail = body["detail"].as_str().unwrap_or_default();
        if row.contains("problem `") {
            assert!(
                row.contains(&format!("problem `{detail}`")),
                "{failure:?}: the row does not say the detail {detail:?}:\n{row}"
            );
        }
    }
    if let Some(error) = body["error"].as_str() {
        assert!(
            row.contains(&format!("`{error}`")) || row.contains(&format!("\"error\":\"{error}\"")),
            "{failure:?}: the row does not name the OAuth error {error:?}:\n{row}"
        );
    }
    body
}

#[tokio::test]
async fn every_documented_server_failure_is_what_the_server_answers() {
    let server = start_with(|s| s.predict_rate = Some("10/minute".into())).await;
    let admin = server.api_key("pin-admin", "admin");
    let user = server.api_key("pin-user", "user");

    let r = server.post_json_key("/predict", &user, SETOSA).await;
    pin("authenticated, not allowed", r, &[]).await;

    let r = server.login("admin", "not-the-password").await;
    let no_store = r.headers().get("cache-control").is_some_and(|v| v == "no-store");
    assert!(no_store && row("wrong password or unknown user").contains("`no-store`"));
    pin("wrong password or unknown user", r, &[]).await;
    let r = server.login("nobody-at-all", "not-the-password").await;
    pin("wrong password or unknown user", r, &[]).await;
    for form in [
        vec![("grant_type", "client_credentials")],
        vec![("grant_type", "password"), ("username", "admin")],
    ] {
        let r = server
            .client
            .post(server.url("/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        pin("malformed token request / other grant", r, &[]).await;
    }

    let r = server
        .post_json_key("/predict", &admin, "x".repeat(70 * 1024))
        .await;
    pin("body over the limit", r, &[]).await;

    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    for body in ["{", "{\"sepal_length\": 5.1,", deep.as_str()] {
        let r = server.post_json_key("/predict", &admin, body.to_owned()).await;
        pin("malformed JSON, too deep, malformed path", r, &[]).await;
    }

    let r = server
        .client
        .post(server.url("/predict"))
        .header("x-api-key", &admin)
        .header("content-type", "text/plain")
        .body(SETOSA)
        .send()
        .await
        .unwrap();
    pin("wrong content type", r, &[]).await;

    let invalid = json!({"sepal_length": "five", "petal_width": -1.0, "extra": 1});
    let r = server.post_value_key("/predict", &admin, &invalid).await;
    let first = row(
        "valid JSON, invalid values; wrong types, missing or unknown fields; an array where the schema is an object",
    );
    let failure = first.split(" | ").next().unwrap().trim_start_matches("| ");
    let body = pin(failure, r, &[]).await;
    assert!(
        body["errors"].as_array().is_some_and(|e| e.len() > 1),
        "every error listed: {body}"
    );

    let r = server
        .post_value_key("/decrypt", &user, &json!({"ciphertext": "not-a-token"}))
        .await;
    pin("bad Fernet token on `/decrypt`", r, &[]).await;

    // Quota: 10 a minute for the admin key (the refused requests above may have spent some:
    // the quota is charged before validation); the first refusal is the documented 429.
    let mut refused = None;
    for _ in 0..12 {
        let r = server.post_json_key("/predict", &admin, SETOSA).await;
        if r.status() != 200 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("a 429 within 12 predictions at 10/minute");
    pin(
        "quota exceeded",
        r,
        &["retry-after", "ratelimit", "ratelimit-policy"],
    )
    .await;

    // A gRPC client gets the refusal in gRPC's shape.
    let r = server
        .client
        .post(server.url("/predict"))
        .header("content-type", "application/grpc")
        .body(SETOSA)
        .send()
        .await
        .unwrap();
    let grpc_row = DEFAULTS
        .lines()
        .find(|l| l.contains("to a gRPC request"))
        .expect("defaults.md has the gRPC row");
    assert_eq!(
        grpc_row.split(" | ").nth(1),
        Some(r.status().as_str()),
        "gRPC refusal status"
    );
    let code = r
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(code.as_deref(), Some("16"), "no credentials over gRPC");
    assert!(grpc_row.contains("`grpc-status` 16 (401)"), "{grpc_row}");
    server.stop().await;
}

/// "request too slow": a body that stops arriving is answered 408 after the body read deadline.
#[tokio::test]
async fn a_body_that_stops_arriving_is_the_documented_408() {
    let server = start_with(|s| {
        s.no_tls = Some(true);
        s.body_read_timeout = Some("1s".into());
    })
    .await;
    let admin = server.api_key("pin-slow", "admin");
    let addr = server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /predict HTTP/1.1\r\nhost: {addr}\r\nx-api-key: {admin}\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{{\"sepal"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Read the answer's head (the connection may stay open after it).
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(8), async {
        let mut chunk = [0u8; 4096];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 8 s");
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).unwrap_or_default();
    let row = row("request too slow");
    assert_eq!(row.split(" | ").nth(1), Some(status), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    server.stop().await;
}
