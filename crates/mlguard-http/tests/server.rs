//! The server over real sockets: the peer address reaches the service, the per-address cap
//! closes the connection over it, shutdown stops the accept loop.

use bytes::Bytes;
use http_body_util::Full;
use mlguard_http::server::{Server, ServerOptions};
use std::convert::Infallible;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("peer=") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "connection closed before the response");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn the_peer_reaches_the_service_and_a_connection_over_the_per_address_cap_is_closed() {
    let service = tower::service_fn(|req: http::Request<hyper::body::Incoming>| async move {
        let peer = mlguard_core::client_ip::peer_addr(req.extensions());
        let body = format!("peer={}", peer.map_or("none".to_owned(), |p| p.ip().to_string()));
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(body))))
    });
    let options = ServerOptions::builder()
        .max_connections_per_ip(1)
        .build()
        .unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), service, None, options)
        .await
        .unwrap();
    assert!(!server.is_tls());
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));

    let mut first = TcpStream::connect(addr).await.unwrap();
    let response = get(&mut first).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("peer=127.0.0.1"), "{response}");

    // `first` is still open: a second connection from the same address is over the cap.
    let mut second = TcpStream::connect(addr).await.unwrap();
    let _ = second.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n").await;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), second.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the second connection from one address must be closed without an answer: {read:?}"
    );

    // Its place comes back when the first one closes.
    drop(first);
    let mut third = None;
    for _ in 0..100 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if s.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n").await.is_ok() {
            let mut buf = vec![0u8; 4096];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await
                && n > 0
            {
                third = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let third = third.expect("a place for the address after its connection closed");
    assert!(third.starts_with("HTTP/1.1 200"), "{third}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the server stops after the shutdown signal")
        .unwrap();
}
