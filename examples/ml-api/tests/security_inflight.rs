//! One principal (or one address) cannot take the shared request slots (issue 14, hole 7).
//!
//! Reproduced attack: with `MLGUARD_CONCURRENCY_LIMIT=8`, 8 workers of one `user` principal sent
//! `POST /encrypt` bodies at one byte a second; every slot stayed taken until the request timeout
//! and every other client got 503. The defences tested here, on the real server over real
//! sockets (plain HTTP, so slow bodies can be written by hand):
//!
//! - a per-principal cap on requests in flight (after authentication, around the handler that
//!   reads the body);
//! - a per-address cap on requests in flight (before authentication); the attacker binds to
//!   127.0.0.2, the victim stays on 127.0.0.1;
//! - a body read deadline shorter than the request timeout (408 with a problem body);
//! - a per-principal quota on `/encrypt` and `/decrypt` (`MLGUARD_CRYPTO_RATE`).
//!
//! "Served" means: answered within a 1 s client timeout (a bound on waiting, not a speed
//! assertion: a shed or queued request would never come back in time).

mod common;

use common::*;
use mlguard_testkit::net::connect_from;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

const ATTACKER: &str = "127.0.0.2";
const BODY: &[u8] = br#"{"plaintext":"one byte at a time, forever and ever"}"#;

fn addr(s: &TestServer) -> SocketAddr {
    s.running.as_ref().unwrap().addr()
}

/// Sends `POST /encrypt` with `key` from `local`, then the body one byte every `pace`; returns
/// the response head. `started` is bumped once the head is written.
async fn slow_encrypt(
    local: IpAddr,
    server: SocketAddr,
    key: &str,
    pace: Duration,
    started: &AtomicUsize,
) -> String {
    let Ok(mut stream) = connect_from(local, server).await else {
        return String::new();
    };
    let head = format!(
        "POST /encrypt HTTP/1.1\r\nHost: localhost\r\nX-API-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        BODY.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    started.fetch_add(1, Ordering::SeqCst);
    let (mut read, mut write) = stream.into_split();
    let writer = async {
        for byte in BODY {
            if write.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(pace).await;
        }
    };
    let reader = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match read.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    };
    // The answer may come before the body is done (shed, 408): stop writing then.
    tokio::pin!(writer, reader);
    tokio::select! {
        head = &mut reader => head,
        () = &mut writer => reader.await,
    }
}

/// `n` workers that keep sending slow `/encrypt` requests (a new one as soon as one ends) from
/// `local`, with the keys in turn; wait until each has started one.
async fn slow_workers(s: &TestServer, local: &str, keys: &[String], n: usize) -> Vec<JoinHandle<()>> {
    let local: IpAddr = local.parse().unwrap();
    let server = addr(s);
    let started = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..n)
        .map(|i| {
            let key = keys[i % keys.len()].clone();
            let started = started.clone();
            tokio::spawn(async move {
                loop {
                    let _ = slow_encrypt(local, server, &key, Duration::from_millis(500), &started).await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        })
        .collect();
    for _ in 0..200 {
        if started.load(Ordering::SeqCst) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.load(Ordering::SeqCst) >= n, "the slow workers started");
    // Give the server a moment to route them to their handlers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    workers
}

/// While the workers run: a different principal's `/encrypt` and an unauthenticated health
/// check, five times, each answered within a 1 s client timeout.
async fn others_are_served(s: &TestServer, victim_key: &str) {
    for round in 0..5 {
        let r = s
            .client
            .post(s.url("/encrypt"))
            .timeout(Duration::from_secs(1))
            .header("x-api-key", victim_key)
            .json(&serde_json::json!({ "plaintext": "hello" }))
            .send()
            .await;
        let status = r.as_ref().map(|r| r.status().as_u16()).map_err(|e| e.to_string());
        assert_eq!(status, Ok(200), "round {round}: another principal's /encrypt");
        let r = s
            .client
            .get(s.url("/healthz"))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        let status = r.as_ref().map(|r| r.status().as_u16()).map_err(|e| e.to_string());
        assert_eq!(status, Ok(200), "round {round}: unauthenticated /healthz");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

#[tokio::test]
async fn one_principal_with_slow_bodies_cannot_take_every_slot() {
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.concurrency_limit = Some(8);
        // No per-address cap in the way: the victim shares the attacker's address.
        c.max_in_flight_per_ip = Some(64);
    })
    .await;
    let attacker = s.api_key("slow-user", "user");
    let victim = s.api_key("victim", "user");
    // Same address as the victim: only the per-principal cap can tell them apart.
    let workers = slow_workers(&s, "127.0.0.1", &[attacker], 10).await;
    others_are_served(&s, &victim).await;
    workers.iter().for_each(JoinHandle::abort);
    s.stop().await;
}

#[tokio::test]
async fn one_address_with_many_principals_cannot_take_every_slot() {
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.concurrency_limit = Some(8);
    })
    .await;
    let keys: Vec<String> = (0..8).map(|i| s.api_key(&format!("sock-{i}"), "user")).collect();
    let victim = s.api_key("victim", "user");
    let workers = slow_workers(&s, ATTACKER, &keys, 16).await;
    others_are_served(&s, &victim).await;
    workers.iter().for_each(JoinHandle::abort);
    s.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408_before_the_request_timeout() {
    let s = start_with(|c| {
        c.no_tls = Some(true);
        c.request_timeout = Some("60s".into());
    })
    .await;
    let key = s.api_key("slow-user", "user");
    let started = AtomicUsize::new(0);
    let head = tokio::time::timeout(
        Duration::from_secs(15),
        slow_encrypt(
            "127.0.0.1".parse().unwrap(),
            addr(&s),
            &key,
            Duration::from_millis(500),
            &started,
        ),
    )
    .await
    .unwrap_or_default();
    assert!(head.starts_with("HTTP/1.1 408"), "slow body: {head:?}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn crypto_routes_have_a_per_principal_quota_of_60_a_minute_by_default() {
    let s = start_with(|c| c.no_tls = Some(true)).await;
    let key = s.api_key("crypto-user", "user");
    let other = s.api_key("other-user", "user");
    let encrypt = |key: &str| {
        s.client
            .post(s.url("/encrypt"))
            .header("x-api-key", key)
            .json(&serde_json::json!({ "plaintext": "hello" }))
            .send()
    };
    let mut token = String::new();
    for i in 0..60 {
        let r = encrypt(&key).await.unwrap();
        assert_eq!(r.status(), 200, "encryption {i}");
        token = json(r).await["ciphertext"].as_str().unwrap().to_owned();
    }
    let r = encrypt(&key).await.unwrap();
    assert_eq!(r.status(), 429, "the 61st crypto request of one principal");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(r.headers().contains_key("retry-after"));
    // One bucket for both routes.
    let r = s
        .post_value_key("/decrypt", &key, &serde_json::json!({ "ciphertext": token }))
        .await;
    assert_eq!(r.status(), 429, "decrypt shares the crypto quota");
    // Another principal has its own.
    assert_eq!(encrypt(&other).await.unwrap().status(), 200);
    s.stop().await;
}
