//! The server over real TLS: the handshake timeout, failed handshakes, protocol choice by ALPN,
//! and HTTP/2 connections that only exchange PINGs.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mlguard_http::server::{Server, ServerOptions};
use mlguard_testkit::h2::{PREFACE, SETTINGS, frame, h2_idle};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn options() -> mlguard_http::server::ServerOptionsBuilder {
    ServerOptions::builder()
}

#[tokio::test]
async fn a_client_that_sends_no_handshake_is_closed_after_the_handshake_timeout() {
    let tls = Tls::new();
    // The header-read (first byte) timeout is longer: what closes it is the handshake timeout.
    let timeout = Duration::from_millis(500);
    let s = start(
        options()
            .tls_handshake_timeout(timeout)
            .header_read_timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        Some(tls.server.clone()),
    )
    .await;
    let connected = Instant::now();
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let (got, closed) = wait_closed(&mut stream, Duration::from_secs(15)).await;
    let open_for = closed - connected;
    assert!(got.is_empty(), "{got:?}");
    assert!(
        open_for >= timeout && open_for < Duration::from_secs(5),
        "closed after {open_for:?}, handshake timeout {timeout:?}"
    );
    s.stop().await;
}

/// A minimal ClientHello of `version` (no supported_versions extension, so pre-1.3 style).
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut body = version.to_vec();
    body.extend([0x42; 32]);
    body.push(0);
    body.extend([0x00, 0x06, 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x13]);
    body.extend([0x01, 0x00]);
    let extensions: &[u8] = &[
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, // supported_groups
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats
        0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04, // signature_algorithms
    ];
    body.extend([0, u8::try_from(extensions.len()).unwrap()]);
    body.extend(extensions);
    let mut handshake = vec![0x01, 0, 0, u8::try_from(body.len()).unwrap()];
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01, 0, u8::try_from(handshake.len()).unwrap()];
    record.extend(handshake);
    record
}

#[tokio::test]
async fn a_failed_handshake_closes_the_connection_without_serving_it() {
    let tls = Tls::new();
    let s = start(options().build().unwrap(), Some(tls.server.clone())).await;
    let cases: [(&str, Vec<u8>); 2] = [
        ("TLS 1.1", client_hello([3, 2])),
        (
            "plain HTTP",
            b"GET /sleep/0 HTTP/1.1\r\nhost: test\r\n\r\n".to_vec(),
        ),
    ];
    let mut s = s;
    for (name, hello) in cases {
        let mut stream = TcpStream::connect(s.addr).await.unwrap();
        stream.write_all(&hello).await.unwrap();
        let (got, _) = wait_closed(&mut stream, Duration::from_secs(5)).await;
        // At most a TLS alert record (content type 21), never an HTTP answer.
        assert!(got.is_empty() || got[0] == 21, "{name}: {got:?}");
        assert!(
            !String::from_utf8_lossy(&got).contains("HTTP/"),
            "{name}: {got:?}"
        );
    }
    assert!(s.handler_started.try_recv().is_err(), "a handler ran");
    // The server still serves a proper client.
    let stream = tls.connect(s.addr, &[b"http/1.1"]).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(get("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    s.stop().await;
}

fn get(path: &str) -> http::Request<Empty<Bytes>> {
    http::Request::get(format!("https://localhost{path}"))
        .body(Empty::new())
        .unwrap()
}

async fn body(response: http::Response<hyper::body::Incoming>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn alpn_h2_is_served_as_http2_and_http11_or_none_as_http11() {
    let tls = Tls::new();
    let s = start(options().build().unwrap(), Some(tls.server.clone())).await;

    let stream = tls.connect(s.addr, &[b"h2"]).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    // A header list of 8 KiB: within the server's 32 KiB (hyper's default is 16 KiB).
    let mut request = get("/");
    request
        .headers_mut()
        .insert("x-large", "a".repeat(8 * 1024).parse().unwrap());
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(body(response).await, "ok HTTP/2.0");

    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let stream = tls.connect(s.addr, alpn).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let response = sender.send_request(get("/")).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(body(response).await, "ok HTTP/1.1", "ALPN {alpn:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_server_reports_whether_it_serves_tls() {
    let service = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Empty::<Bytes>::new()))
    });
    let addr = "127.0.0.1:0".parse().unwrap();
    let tls = Tls::new();
    let server = Server::bind(addr, service, Some(tls.server.clone()), ServerOptions::default())
        .await
        .unwrap();
    assert!(server.is_tls());
    let debug = format!("{server:?}");
    let expected = format!(
        "Server {{ addr: Some({}), tls: true, .. }}",
        server.local_addr().unwrap()
    );
    assert_eq!(debug, expected);
    let server = Server::bind(addr, service, None, ServerOptions::default())
        .await
        .unwrap();
    assert!(!server.is_tls());
    assert!(format!("{server:?}").contains("tls: false"));
}

#[tokio::test]
async fn an_h2_connection_that_only_pings_is_closed_after_the_idle_timeout() {
    let tls = Tls::new();
    let timeout = Duration::from_secs(1);
    let s = start(
        options().header_read_timeout(timeout).build().unwrap(),
        Some(tls.server.clone()),
    )
    .await;
    let connected = Instant::now();
    let stream = tls.connect(s.addr, &[b"h2"]).await.unwrap();
    let seen = h2_idle(stream, Duration::from_millis(200), Duration::from_secs(15)).await;
    let open_for = connected.elapsed();
    assert!(seen.closed_by_server, "still open after 15 s: {seen:?}");
    assert!(seen.client_pings >= 2, "PINGs must flow: {seen:?}");
    assert!(
        open_for >= timeout && open_for < Duration::from_secs(6),
        "closed after {open_for:?}, idle timeout {timeout:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn alpn_decides_the_protocol_not_the_first_bytes() {
    let tls = Tls::new();
    let s = start(
        options()
            .header_read_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
        Some(tls.server.clone()),
    )
    .await;
    // ALPN http/1.1, then the HTTP/2 preface: not HTTP/2.
    let mut stream = tls.connect(s.addr, &[b"http/1.1"]).await.unwrap();
    let hello = [PREFACE, &frame(SETTINGS, 0, &[])].concat();
    stream.write_all(&hello).await.unwrap();
    let (got, _) = wait_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        !(got.len() >= 9 && got[3] == SETTINGS),
        "ALPN http/1.1 served as HTTP/2: {got:?}"
    );
    // ALPN h2, then an HTTP/1.1 request: not answered as HTTP/1.1.
    let mut stream = tls.connect(s.addr, &[b"h2"]).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let (got, _) = wait_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        !String::from_utf8_lossy(&got).contains("HTTP/1.1"),
        "ALPN h2 served as HTTP/1.1: {}",
        String::from_utf8_lossy(&got)
    );
    s.stop().await;
}

/// The same ClientHello is answered as TLS 1.2 and refused as TLS 1.1: the version is what is
/// refused, not something else in the hello.
#[test]
fn the_same_client_hello_is_answered_as_tls_12_and_refused_as_tls_11() {
    let tls = Tls::new();
    let mut tls12 = rustls::ServerConnection::new(tls.server.clone()).unwrap();
    let hello = client_hello([3, 3]);
    assert_eq!(tls12.read_tls(&mut &hello[..]).unwrap(), hello.len());
    tls12.process_new_packets().unwrap();
    assert!(tls12.wants_write(), "a ServerHello to send");
    let mut tls11 = rustls::ServerConnection::new(tls.server.clone()).unwrap();
    let hello = client_hello([3, 2]);
    assert_eq!(tls11.read_tls(&mut &hello[..]).unwrap(), hello.len());
    let err = tls11.process_new_packets().unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered)
        ),
        "{err:?}"
    );
}

/// `TlsSource::server_config`: `Off` is plain HTTP, `SelfSigned` serves the generated pair's
/// files (a real handshake trusting the certificate file succeeds, and the spawned server's
/// URL says `https`), and `SelfSigned` without a pair is an error, never plain HTTP.
#[tokio::test]
async fn a_tls_source_gives_the_server_config_it_names() {
    use mlguard_http::tls::{TlsSource, ensure_self_signed_files};
    assert!(TlsSource::Off.server_config(None).unwrap().is_none());
    assert!(TlsSource::SelfSigned.server_config(None).is_err());

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let names = ["localhost".to_owned(), "127.0.0.1".to_owned()];
    assert!(ensure_self_signed_files(&cert, &key, &names).unwrap());
    let from_files = TlsSource::Files {
        cert: cert.clone(),
        key: key.clone(),
    };
    assert!(from_files.server_config(None).unwrap().is_some());
    let config = TlsSource::SelfSigned
        .server_config(Some((cert.as_path(), key.as_path())))
        .unwrap()
        .expect("a TLS configuration");
    let service = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(Empty::<Bytes>::new()))
    });
    let serving = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        service,
        Some(config.clone()),
        options().build().unwrap(),
    )
    .await
    .unwrap()
    .spawn()
    .unwrap();
    assert!(serving.is_tls());
    assert_eq!(serving.url(), format!("https://{}", serving.local_addr()));
    let client = Tls::from_parts(config, std::fs::read_to_string(&cert).unwrap());
    let stream = client
        .connect(serving.local_addr(), &[b"http/1.1"])
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    assert_eq!(sender.send_request(get("/")).await.unwrap().status(), 200);
    serving.shutdown().await;
}
