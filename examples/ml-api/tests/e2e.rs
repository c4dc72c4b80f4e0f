//! End-to-end: the real server (in-process, on a free loopback port, TLS and plain) driven by a
//! real HTTP client through every endpoint's success and failure paths.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn health_and_readiness_without_auth_with_security_headers_over_tls() {
    let s = start().await;
    let r = s.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(h["strict-transport-security"], "max-age=31536000");
    assert_eq!(h["x-request-id"].len(), 36);
    assert_eq!(json(r).await["status"], "ok");

    let r = s.get("/readyz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "ready");

    // A well-formed client request id is echoed.
    let r = s
        .client
        .get(s.url("/healthz"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-42");
    s.stop().await;
}

#[tokio::test]
async fn plain_http_has_no_hsts_and_errors_are_problems() {
    let s = start_with(|c| c.no_tls = Some(true)).await;
    assert!(s.base.starts_with("http://"));
    let r = s.get("/healthz").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("strict-transport-security").is_none());
    assert_eq!(r.headers()["x-frame-options"], "DENY");

    let r = s.get("/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(json(r).await["status"], 404);

    let r = s.client.post(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET,HEAD");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    s.stop().await;
}

#[tokio::test]
async fn api_key_flow_admin_predicts_user_is_forbidden_bad_key_is_401() {
    let s = start().await;
    let admin = s.api_key("admin-job", "admin");
    let user = s.api_key("user-job", "user");

    let r = s.post_json_key("/predict", &admin, SETOSA).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v = json(r).await;
    assert_eq!(v["prediction"], 0);
    assert_eq!(v["class"], "setosa");
    let probs = v["probabilities"].as_array().unwrap();
    assert_eq!(probs.len(), 3);
    let sum: f64 = probs.iter().map(|p| p.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-9);

    let r = s.post_json_key("/predict", &admin, VIRGINICA).await;
    assert_eq!(json(r).await["class"], "virginica");

    // Role `user` lacks model:predict.
    let r = s.post_json_key("/predict", &user, SETOSA).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    // A wrong key, and no credentials at all.
    let bad = format!("{}x", &admin[..admin.len() - 1]);
    let r = s.post_json_key("/predict", &bad, SETOSA).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let body = r.text().await.unwrap();
    assert!(!body.contains(&bad), "the submitted key is echoed");

    let r = s.post_json("/predict", SETOSA).await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get_all("www-authenticate").iter().count() >= 1);

    // A garbage bearer token.
    let r = s
        .client
        .post(s.url("/predict"))
        .bearer_auth("not.a.jwt")
        .header("content-type", "application/json")
        .body(SETOSA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

/// Deny by default: a route added to the server without an entry in the permission map is
/// refused with a 403 problem, even to `admin` (who holds every permission), and its handler
/// never runs; the mapped routes keep working for the same key.
#[tokio::test]
async fn a_route_added_without_a_permission_is_refused() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let ran = Arc::new(AtomicUsize::new(0));
    let seen = ran.clone();
    let extra = axum::Router::new().route(
        "/admin/export",
        axum::routing::get(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            async { "every user's data" }
        }),
    );
    let s = start_with_routes(|_| {}, extra).await;
    let admin = s.api_key("ops", "admin");
    let get = |key: Option<&str>| {
        let r = s.client.get(s.url("/admin/export"));
        match key {
            Some(k) => r.header("x-api-key", k),
            None => r,
        }
    };
    // Authentication still comes first.
    assert_eq!(get(None).send().await.unwrap().status(), 401);
    let r = get(Some(&admin)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = json(r).await;
    assert_eq!(body["status"], 403);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "the unmapped handler ran");
    let ok = s.post_json_key("/predict", &admin, SETOSA).await;
    assert_eq!(ok.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn invalid_prediction_inputs_are_422_and_415() {
    let s = start().await;
    let admin = s.api_key("admin-job", "admin");
    let post = |body: &'static str| {
        s.client
            .post(s.url("/predict"))
            .header("x-api-key", &admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post(r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = post(r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"x":1}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = post(r#"{"sepal_length":-5,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = post(r#"{"sepal_length":"NaN","sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = post(r#"{"sepal_length":1e309,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = s
        .client
        .post(s.url("/predict"))
        .header("x-api-key", &admin)
        .body(SETOSA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    s.stop().await;
}

#[tokio::test]
async fn non_canonical_paths_cannot_skip_authentication() {
    let s = start().await;
    let admin = s.api_key("admin-job", "admin");
    let user = s.api_key("user-job", "user");
    for path in ["//predict", "/%70redict", "///predict", "/%70%72%65%64%69%63%74"] {
        // Without credentials: the route's authentication applies.
        let r = s.post_json(path, SETOSA).await;
        assert_eq!(r.status(), 401, "{path}");
        // With a `user` key: its permission check applies.
        let r = s.post_json_key(path, &user, SETOSA).await;
        assert_eq!(r.status(), 403, "{path}");
        // With an admin key: it is the same route.
        let r = s.post_json_key(path, &admin, SETOSA).await;
        assert_eq!(r.status(), 200, "{path}");
    }
    // (Dot segments are resolved by the client library itself; the unit tests cover them.)
    for path in ["/predict%2fbatch", "/predict%2Fbatch", "/predict%00"] {
        let r = s.post_json_key(path, &admin, SETOSA).await;
        assert_eq!(r.status(), 400, "{path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn encrypt_decrypt_round_trip_permissions_and_garbage() {
    let s = start().await;
    let user = s.api_key("user-job", "user");
    for (enc, dec) in [("/encrypt", "/decrypt"), ("/encrypt/", "/decrypt/")] {
        let r = s
            .post_value_key(
                enc,
                &user,
                &serde_json::json!({"plaintext": "petal length 1.4 ✓"}),
            )
            .await;
        assert_eq!(r.status(), 200, "{enc}");
        let ct = json(r).await["ciphertext"].as_str().unwrap().to_owned();
        assert!(ct.starts_with("gAAAAA"));
        let r = s
            .post_value_key(dec, &user, &serde_json::json!({"ciphertext": ct}))
            .await;
        assert_eq!(r.status(), 200, "{dec}");
        assert_eq!(json(r).await["plaintext"], "petal length 1.4 ✓");
    }
    let r = s
        .post_value_key("/decrypt", &user, &serde_json::json!({"ciphertext": "garbage"}))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(json(r).await["detail"], "Decryption failed");

    let r = s
        .client
        .post(s.url("/encrypt"))
        .json(&serde_json::json!({"plaintext": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

fn python_has_cryptography() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn fernet_interoperates_with_python_cryptography() {
    assert!(
        python_has_cryptography(),
        "python3 with `cryptography` is required (CI installs it)"
    );
    let s = start().await;
    let user = s.api_key("user-job", "user");
    let key = s.fernet_key();

    // Python encrypts, the server decrypts.
    let out = Command::new("python3")
        .args(["-c", "import sys; from cryptography.fernet import Fernet; print(Fernet(sys.argv[1].encode()).encrypt(b'from python').decode())", &key])
        .output().unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let r = s
        .post_value_key("/decrypt", &user, &serde_json::json!({"ciphertext": token}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["plaintext"], "from python");

    // The server encrypts, Python decrypts.
    let r = s
        .post_value_key("/encrypt", &user, &serde_json::json!({"plaintext": "from rust"}))
        .await;
    let ct = json(r).await["ciphertext"].as_str().unwrap().to_owned();
    let out = Command::new("python3")
        .args(["-c", "import sys; from cryptography.fernet import Fernet; print(Fernet(sys.argv[1].encode()).decrypt(sys.argv[2].encode()).decode())", &key, &ct])
        .output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "from rust");
    s.stop().await;
}

#[tokio::test]
async fn batch_predicts_counts_rows_against_the_quota_and_caps_size() {
    let s = start_with(|c| {
        c.predict_rate = Some("10/minute".into());
        c.max_batch = Some(8);
    })
    .await;
    let admin = s.api_key("admin-job", "admin");
    let rows = |n: usize| {
        let row: serde_json::Value = serde_json::from_str(SETOSA).unwrap();
        serde_json::json!({"instances": vec![row; n]})
    };
    let r = s.post_value_key("/predict/batch", &admin, &rows(8)).await;
    assert_eq!(r.status(), 200);
    let v = json(r).await;
    assert_eq!(v["predictions"].as_array().unwrap().len(), 8);
    assert_eq!(v["predictions"][0]["class"], "setosa");

    // Too many rows: refused before any quota is spent.
    let r = s.post_value_key("/predict/batch", &admin, &rows(9)).await;
    assert_eq!(r.status(), 422);
    let r = s.post_value_key("/predict/batch", &admin, &rows(0)).await;
    assert_eq!(r.status(), 422);

    // 8 of 10 units are spent: 3 more rows do not fit, 2 do.
    let r = s.post_value_key("/predict/batch", &admin, &rows(3)).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let r = s.post_value_key("/predict/batch", &admin, &rows(2)).await;
    assert_eq!(r.status(), 200);
    // And single predictions share the same quota.
    let r = s.post_json_key("/predict", &admin, SETOSA).await;
    assert_eq!(r.status(), 429);
    s.stop().await;
}

#[tokio::test]
async fn predict_quota_is_per_principal_the_11th_is_429() {
    let s = start().await;
    let a = s.api_key("a", "admin");
    let b = s.api_key("b", "admin");
    for i in 0..10 {
        let r = s.post_json_key("/predict", &a, SETOSA).await;
        assert_eq!(r.status(), 200, "request {i}");
    }
    let r = s.post_json_key("/predict", &a, SETOSA).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = s.post_json_key("/predict", &b, SETOSA).await;
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_413_problems() {
    let s = start_with(|c| c.body_limit = Some(4096)).await;
    let user = s.api_key("u", "user");
    let big = serde_json::json!({"plaintext": "x".repeat(10_000)});
    let r = s.post_value_key("/encrypt", &user, &big).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // Also before authentication.
    let r = s.client.post(s.url("/encrypt")).json(&big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    s.stop().await;
}

#[tokio::test]
async fn slow_loris_connection_is_closed_after_the_header_read_timeout() {
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.header_read_timeout = Some("1s".into());
    })
    .await;
    let addr = s.running.as_ref().unwrap().addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /predict HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // The server must end the connection on its own (a 408 answer, then EOF).
    let read = tokio::time::timeout(Duration::from_secs(8), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "connection still open after 8 s");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A connection that sends nothing at all is closed too.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(8), idle.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "idle connection still open after 8 s");
    s.stop().await;
}

#[tokio::test]
async fn tls_1_2_and_1_3_handshakes_succeed() {
    let s = start().await;
    let running = s.running.as_ref().unwrap();
    for (name, version) in [
        ("1.2", reqwest::tls::Version::TLS_1_2),
        ("1.3", reqwest::tls::Version::TLS_1_3),
    ] {
        let client = client_for(running, |b| b.min_tls_version(version).max_tls_version(version));
        let r = client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("TLS {name}: {e}"));
        assert_eq!(r.status(), 200);
    }
    // A client that does not trust the self-signed certificate refuses it.
    let strict = reqwest::Client::builder().build().unwrap();
    assert!(strict.get(s.url("/healthz")).send().await.is_err());
    s.stop().await;
}

/// A TLS ClientHello record offering `client_version` (no `supported_versions`
/// extension, so this is the version offered), with TLS 1.2 ECDHE-GCM/ChaCha
/// suites and the extensions those need: a hello the server completes at 1.2.
fn client_hello(client_version: [u8; 2]) -> Vec<u8> {
    let mut hello = client_version.to_vec();
    hello.extend_from_slice(&[0x42u8; 32]); // random
    hello.push(0); // session id
    let suites = [0xc02bu16, 0xc02c, 0xc02f, 0xc030, 0xcca8, 0xcca9];
    hello.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap().to_be_bytes());
    for suite in suites {
        hello.extend_from_slice(&suite.to_be_bytes());
    }
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut extensions = Vec::new();
    // supported_groups: x25519, secp256r1
    extensions.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // ec_point_formats: uncompressed
    extensions.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ed25519
    extensions.extend_from_slice(&[
        0x00, 0x0d, 0x00, 0x0a, 0x00, 0x08, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x08, 0x07,
    ]);
    // extended_master_secret, renegotiation_info (empty)
    extensions.extend_from_slice(&[0x00, 0x17, 0x00, 0x00, 0xff, 0x01, 0x00, 0x01, 0x00]);
    hello.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
    hello.extend_from_slice(&extensions);
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&u16::try_from(hello.len()).unwrap().to_be_bytes());
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends `bytes` on a fresh connection; returns what comes back until EOF, 7
/// bytes or 5 s, whichever is first.
async fn first_reply(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 64];
        while buf.len() < 7 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    buf
}

#[tokio::test]
async fn tls_1_1_and_plain_http_on_the_tls_port_are_refused() {
    let s = start().await;
    let addr = s.running.as_ref().unwrap().addr();

    // Control: the very hello, offering TLS 1.2, gets a ServerHello
    // (handshake record 0x16, message type 2) from the same port.
    let reply = first_reply(addr, &client_hello([0x03, 0x03])).await;
    assert_eq!(
        (reply.first(), reply.get(5)),
        (Some(&0x16), Some(&0x02)),
        "a TLS 1.2 hello was not answered with a ServerHello: {reply:x?}"
    );
    // Offering only TLS 1.1 (client_version 0x0302), everything else equal:
    // a fatal alert (record 0x15, length 2, level 2) naming protocol_version
    // (70). An empty reply is not accepted: a port that drops every
    // connection would give one.
    let reply = first_reply(addr, &client_hello([0x03, 0x02])).await;
    assert_eq!(
        reply.get(..7),
        Some(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 70][..]),
        "server answered a TLS 1.1 hello with {reply:x?}"
    );

    // Plain HTTP to the TLS port gets no HTTP answer but a fatal
    // decode_error (50) alert.
    let reply = first_reply(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        reply.get(..7),
        Some(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 50][..]),
        "plain HTTP on the TLS port got {reply:x?}"
    );

    // And a real TLS 1.2 client completes its request on the same server.
    let running = s.running.as_ref().unwrap();
    let tls12 = client_for(running, |b| {
        b.min_tls_version(reqwest::tls::Version::TLS_1_2)
            .max_tls_version(reqwest::tls::Version::TLS_1_2)
    });
    assert_eq!(tls12.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    s.stop().await;
}
