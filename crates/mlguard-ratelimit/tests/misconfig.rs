//! Issue 16's silent runtime failure: a per-address limit on an app served without the peer
//! address answered 400 to every request, blaming the client, with no log. The server's
//! mistake is now a 500 `server misconfigured` and one logged error that names the fix; the
//! same for a per-principal limit with no authentication layer in front of it.

mod common;

use axum::Router;
use axum::routing::get;
use common::{body, send, service};
use http::{Request, StatusCode};
use mlguard_core::{Anonymous, ClientIpResolver};
use mlguard_ratelimit::{KeyExtractor, MissingKey, RateLimitLayer};
use serde_json::Value;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    /// The ERROR events of target `mlguard_ratelimit`, as JSON.
    fn errors(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["level"] == "ERROR" && v["target"] == "mlguard_ratelimit")
            .collect()
    }
}

fn capture() -> (Buffer, tracing::subscriber::DefaultGuard) {
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

/// One HTTP/1.1 GET over a real socket; the status and the body.
async fn get_over_tcp(addr: SocketAddr) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

fn per_ip() -> RateLimitLayer {
    RateLimitLayer::builder()
        .quota("100/minute")
        .key(KeyExtractor::client_ip(ClientIpResolver::new()))
        .policy_name("per-ip")
        .build()
        .unwrap()
}

#[tokio::test]
async fn per_ip_limit_served_without_the_peer_address_is_a_500_with_a_logged_fix() {
    let (logs, _guard) = capture();
    let app = Router::new().route("/", get(|| async { "ok" })).layer(per_ip());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The mistake: `axum::serve(listener, app)` gives the app no `ConnectInfo`.
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    for _ in 0..3 {
        let (status, body) = get_over_tcp(addr).await;
        assert_eq!(status, 500, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["detail"], "server misconfigured");
    }
    server.abort();

    let errors = logs.errors();
    assert_eq!(errors.len(), 1, "one error, not one per request: {errors:?}");
    let message = errors[0]["fields"]["message"].as_str().unwrap();
    assert!(
        message.contains("into_make_service_with_connect_info"),
        "{message}"
    );
    assert!(message.contains("`axum` feature"), "{message}");
    assert!(message.contains("PeerAddr"), "{message}");

    // Served with connect info (and the `axum` feature on): the limit works.
    let app = Router::new().route("/", get(|| async { "ok" })).layer(per_ip());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
    });
    assert_eq!(get_over_tcp(addr).await.0, 200);
    server.abort();
}

#[tokio::test]
async fn per_principal_limit_without_authentication_is_a_500_but_anonymous_gets_the_configured_4xx() {
    let (logs, _guard) = capture();
    let layer = RateLimitLayer::builder()
        .quota("1/minute")
        .key(KeyExtractor::principal())
        .on_missing_key(MissingKey::Reject(StatusCode::UNAUTHORIZED))
        .build()
        .unwrap();
    let svc = service(&layer);

    let resp = send(&svc, common::from_ip("192.0.2.1")).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let v: Value = serde_json::from_slice(&body(resp).await).unwrap();
    assert_eq!(v["detail"], "server misconfigured");
    let errors = logs.errors();
    assert_eq!(errors.len(), 1);
    let message = errors[0]["fields"]["message"].as_str().unwrap();
    assert!(message.contains("authentication layer"), "{message}");

    // Authentication ran and let the request through without credentials: the client's.
    let mut anonymous = common::from_ip("192.0.2.1");
    anonymous.extensions_mut().insert(Anonymous);
    let resp = send(&svc, anonymous).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        common::header(&resp, "www-authenticate").as_deref(),
        Some("Bearer")
    );

    // A fallback the operator configured is used either way.
    let layer = RateLimitLayer::builder()
        .quota("1/minute")
        .key(KeyExtractor::principal())
        .on_missing_key(MissingKey::Fallback(KeyExtractor::client_ip(
            ClientIpResolver::new(),
        )))
        .build()
        .unwrap();
    let svc = service(&layer);
    assert_eq!(
        send(&svc, common::from_ip("192.0.2.1")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&svc, common::from_ip("192.0.2.1")).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... unless the fallback needs the peer address and there is none.
    let resp = send(&svc, Request::new(axum::body::Body::empty())).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
