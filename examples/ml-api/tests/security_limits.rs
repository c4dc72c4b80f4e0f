//! Resource limits over the wire (OWASP API4, unrestricted resource consumption): oversized
//! bodies with and without `Content-Length`, deeply nested JSON, slow-loris clients (plain and
//! TLS), and a flood of idle connections.
//!
//! Raw `TcpStream`s are used where a well-behaved HTTP client would not misbehave the way an
//! attacker does (chunked bodies, one header byte per second, connections that never speak).

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes `head` and then `body` in `chunk`-sized chunked-encoding pieces, ignoring write errors
/// (the server may answer and close before the body ends), and returns the response's status
/// line.
async fn raw_request(addr: SocketAddr, head: &str, body: Option<(&[u8], usize)>) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    if let Some((body, chunk)) = body {
        for piece in body.chunks(chunk) {
            let framed = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
            if stream.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.lines().next().unwrap_or("").to_owned()
}

fn addr(s: &TestServer) -> SocketAddr {
    s.running.as_ref().unwrap().addr()
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_with_content_length_chunked_or_lying() {
    // The default body limit (64 KiB), plain HTTP so raw requests can be written by hand.
    let s = start_with(|c| c.no_tls = Some(true)).await;
    let key = s.api_key("admin-job", "admin");
    let limit = ml_api::config::defaults::BODY_LIMIT;
    let big = format!(r#"{{"plaintext":"{}"}}"#, "x".repeat(limit + 1024));

    // With Content-Length, authenticated and not, on every body-taking route.
    for path in ["/predict", "/predict/batch", "/encrypt", "/decrypt", "/token"] {
        for with_key in [true, false] {
            let mut req = s
                .client
                .post(s.url(path))
                .header("content-type", "application/json")
                .body(big.clone());
            if with_key {
                req = req.header("x-api-key", &key);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 413, "{path}, key: {with_key}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
    }

    // Chunked (no Content-Length): the limit is enforced while reading.
    for path in ["/predict", "/predict/batch", "/encrypt", "/decrypt"] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let status = raw_request(addr(&s), &head, Some((big.as_bytes(), 8 * 1024))).await;
        assert!(status.starts_with("HTTP/1.1 413"), "{path} chunked: {status:?}");
    }
    // A chunked body within the limit is served: the refusal above is the size, not chunking.
    let head = format!(
        "POST /predict HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let status = raw_request(addr(&s), &head, Some((SETOSA.as_bytes(), 16))).await;
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "small chunked body: {status:?}"
    );

    // A declared Content-Length over the limit is refused at once, before any body is sent.
    let head = format!(
        "POST /predict HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n"
    );
    let status = raw_request(addr(&s), &head, None).await;
    assert!(
        status.starts_with("HTTP/1.1 413"),
        "10 GiB Content-Length: {status:?}"
    );
    s.stop().await;
}

/// `POST /token` with a chunked body over the limit is 413 too: the per-username rate limiter
/// buffers the body, and finds the limit error through axum's `axum::Error` wrapper
/// (`mlguard_core::body::is_length_limit_error`).
#[tokio::test]
async fn chunked_oversized_token_body_is_413() {
    let s = start_with(|c| c.no_tls = Some(true)).await;
    let big = format!(
        "username=admin&password={}",
        "x".repeat(ml_api::config::defaults::BODY_LIMIT)
    );
    let head = "POST /token HTTP/1.1\r\nHost: localhost\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n";
    let status = raw_request(addr(&s), head, Some((big.as_bytes(), 8 * 1024))).await;
    assert!(status.starts_with("HTTP/1.1 413"), "/token chunked: {status:?}");
    s.stop().await;
}

#[tokio::test]
async fn json_nested_100000_deep_is_400() {
    // A 1 MiB body limit, so the ~200 KB documents reach the JSON parser instead of the size
    // check; its depth bound (32) must answer, and the server must survive (no stack overflow).
    let s = start_with(|c| c.body_limit = Some(1024 * 1024)).await;
    let key = s.api_key("admin-job", "admin");
    let depth = 100_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let inside = format!(r#"{{"instances":{arrays}}}"#);
    let unterminated = "[".repeat(depth);
    for (name, path, body) in [
        ("arrays", "/predict", &arrays),
        ("objects", "/predict", &objects),
        ("arrays in a field", "/predict/batch", &inside),
        ("objects", "/encrypt", &objects),
        ("unterminated", "/predict", &unterminated),
    ] {
        let r = s.post_json_key(path, &key, body.clone()).await;
        assert_eq!(r.status(), 400, "{name} on {path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    // Still serving.
    let r = s.get("/healthz").await;
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// Sends `prefix` one byte per second until the server closes the connection; returns how long
/// it stayed open (or `None` if still open after `give_up`).
async fn trickle(addr: SocketAddr, prefix: &[u8], give_up: Duration) -> Option<Duration> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let started = Instant::now();
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    });
    let writer = async {
        for byte in prefix.iter().cycle() {
            if wr.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        closed = reader => Some(closed.unwrap()),
        () = writer => None,
        () = tokio::time::sleep(give_up) => None,
    }
}

#[tokio::test]
async fn slow_loris_is_disconnected_within_the_header_timeout() {
    let timeout = Duration::from_secs(2);
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.header_read_timeout = Some("2s".into());
    })
    .await;
    // A request head that never ends: one byte per second, each byte "progress".
    let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let open = trickle(addr(&s), head, Duration::from_secs(15))
        .await
        .expect("slow-loris connection still open after 15 s");
    assert!(
        open >= timeout - Duration::from_millis(200),
        "closed too early: {open:?}"
    );
    assert!(open <= timeout + Duration::from_secs(3), "closed late: {open:?}");
    // Meanwhile a normal client is served.
    assert_eq!(s.get("/healthz").await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn slow_tls_handshake_is_disconnected_within_the_handshake_timeout() {
    let timeout = Duration::from_secs(2);
    let s = start_with(|c| c.tls_handshake_timeout = Some("2s".into())).await;
    // The first bytes of a TLS ClientHello record, one per second: a well-formed
    // start that the server must wait on, so only the timeout can end it.
    let hello = [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    let open = trickle(addr(&s), &hello, Duration::from_secs(15))
        .await
        .expect("slow TLS handshake still open after 15 s");
    // Not before the timeout: an immediate close (a refused connection, a
    // rejected ClientHello, a crashed acceptor) is not this protection.
    assert!(
        open >= timeout - Duration::from_millis(200),
        "closed too early: {open:?}"
    );
    assert!(open <= timeout + Duration::from_secs(3), "closed late: {open:?}");
    // Meanwhile a TLS client that completes its handshake is served.
    assert_eq!(s.get("/healthz").await.status(), 200);
    s.stop().await;
}

/// The soft `RLIMIT_NOFILE` of this process (children inherit it, so `sh -c 'ulimit -n'`).
fn open_file_limit() -> usize {
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -n"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().unwrap_or(1024)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections_do_not_stop_a_new_client() {
    // Server and clients share this process's descriptors: the server holds at most
    // `max_connections` (1024 by default) accepted sockets, so the clients get
    // min(10000, limit - 500 - 1024).
    let max_conn = ml_api::config::defaults::MAX_CONNECTIONS;
    let limit = open_file_limit();
    let n = 10_000usize.min(limit.saturating_sub(500 + max_conn));
    assert!(
        n >= 1000,
        "RLIMIT_NOFILE {limit} is too low for this test (raise `ulimit -n`)"
    );
    println!("RLIMIT_NOFILE {limit}: opening {n} idle connections");
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.header_read_timeout = Some("2s".into());
        // This test is about the global cap: attacker and client share 127.0.0.1 here, so the
        // per-address cap (tested in security_connections.rs) is raised to the global one.
        c.max_connections_per_ip = Some(max_conn);
    })
    .await;
    let target = addr(&s);
    let started = Instant::now();
    let mut idle = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    let mut refused = 0usize;
    for _ in 0..n {
        pending.spawn(async move {
            tokio::time::timeout(Duration::from_secs(20), TcpStream::connect(target)).await
        });
        if pending.len() >= 256
            && let Some(done) = pending.join_next().await
        {
            match done.unwrap() {
                Ok(Ok(stream)) => idle.push(stream),
                _ => refused += 1,
            }
        }
    }
    while let Some(done) = pending.join_next().await {
        match done.unwrap() {
            Ok(Ok(stream)) => idle.push(stream),
            _ => refused += 1,
        }
    }
    println!(
        "{} idle connections open ({refused} did not connect within 20 s) after {:?}; {} fds in use",
        idle.len(),
        started.elapsed(),
        open_fds()
    );
    assert!(
        idle.len() >= n * 9 / 10,
        "only {} of {n} connections opened",
        idle.len()
    );
    // Bounded: the server side holds at most max_connections sockets at any time.
    assert!(
        open_fds() <= idle.len() + max_conn + 256,
        "{} descriptors in use for {} client sockets",
        open_fds(),
        idle.len()
    );

    // A new client, while every idle socket is still held by the attacker.
    let asked = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let r = client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    println!("new client served after {:?}", asked.elapsed());
    drop(idle);
    s.stop().await;
}
