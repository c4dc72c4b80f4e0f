//! The server over real sockets (plain HTTP/1.1): the peer address reaches the service, the
//! global and per-address caps, the header-read and idle timeouts, slow handlers, graceful
//! shutdown. TLS and HTTP/2 are in `tls.rs`.

mod common;

use bytes::Bytes;
use http_body_util::Full;
use mlguard_http::server::{Server, ServerOptions};
use std::convert::Infallible;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;
use std::time::Instant;

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

fn options() -> mlguard_http::server::ServerOptionsBuilder {
    ServerOptions::builder()
}

#[tokio::test]
async fn over_the_global_cap_a_connection_waits_until_one_closes() {
    let mut s = start(options().max_connections(1).build().unwrap(), None).await;
    let mut first = TcpStream::connect(s.addr).await.unwrap();
    get_ok(&mut first, "/").await;

    // The kernel accepts the second connection into its queue; the server does not serve it
    // while the first is open.
    let mut second = TcpStream::connect(s.addr).await.unwrap();
    send_get(&mut second, "/").await.unwrap();
    assert_eq!(
        read_response(&mut second, Duration::from_millis(700)).await,
        None,
        "served over the global cap of 1"
    );
    drop(first);
    let response = read_response(&mut second, Duration::from_secs(10))
        .await
        .expect("served once the first connection closed");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(s.handler_started.try_recv().is_err());
    s.stop().await;
}

#[tokio::test]
async fn the_global_slot_of_a_connection_over_the_per_address_cap_serves_the_next_one() {
    // Two slots: 127.0.0.1 holds one; its further connections are refused, and each refusal
    // hands its slot on, so 127.0.0.2 is still served.
    let s = start(
        options()
            .max_connections(2)
            .max_connections_per_ip(1)
            .build()
            .unwrap(),
        None,
    )
    .await;
    let mut held = connect_from(local(1), s.addr).await.unwrap();
    get_ok(&mut held, "/").await;
    for _ in 0..3 {
        let mut refused = connect_from(local(1), s.addr).await.unwrap();
        let _ = send_get(&mut refused, "/").await;
        let (got, _) = wait_closed(&mut refused, Duration::from_secs(10)).await;
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    let mut other = connect_from(local(2), s.addr).await.unwrap();
    get_ok(&mut other, "/").await;
    // And the cap is still 2: a third address waits.
    let mut third = connect_from(local(3), s.addr).await.unwrap();
    send_get(&mut third, "/").await.unwrap();
    assert_eq!(read_response(&mut third, Duration::from_millis(700)).await, None);
    drop(held);
    assert!(read_response(&mut third, Duration::from_secs(10)).await.is_some());
    s.stop().await;
}

#[tokio::test]
async fn exempt_peers_are_not_capped_per_address() {
    let s = start(
        options()
            .max_connections_per_ip(1)
            .per_ip_exempt("127.0.0.1".parse().unwrap())
            .build()
            .unwrap(),
        None,
    )
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = connect_from(local(1), s.addr).await.unwrap();
        get_ok(&mut c, "/").await;
        open.push(c);
    }
    // Another address is still capped at 1.
    let mut capped = connect_from(local(2), s.addr).await.unwrap();
    get_ok(&mut capped, "/").await;
    let mut over = connect_from(local(2), s.addr).await.unwrap();
    let _ = send_get(&mut over, "/").await;
    let (got, _) = wait_closed(&mut over, Duration::from_secs(10)).await;
    assert!(got.is_empty());
    drop(open);
    s.stop().await;
}

#[tokio::test]
async fn a_request_head_trickled_slower_than_the_header_read_timeout_is_closed() {
    // The idle timeout is set longer, so what closes the connection is the header-read timeout.
    let timeout = Duration::from_secs(1);
    let s = start(
        options()
            .header_read_timeout(timeout)
            .idle_timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        None,
    )
    .await;
    let connected = Instant::now();
    let stream = TcpStream::connect(s.addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let trickle = tokio::spawn(async move {
        if wr.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n").await.is_err() {
            return;
        }
        for i in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if wr.write_all(format!("x-{i}: y\r\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let (got, closed) = wait_closed(&mut rd, Duration::from_secs(15)).await;
    let open_for = closed - connected;
    let got = String::from_utf8_lossy(&got);
    assert!(!got.contains("200"), "{got}");
    assert!(
        open_for >= timeout && open_for < Duration::from_secs(6),
        "closed after {open_for:?}, header-read timeout {timeout:?}"
    );
    trickle.abort();
    s.stop().await;
}

#[tokio::test]
async fn a_client_that_never_speaks_is_closed_after_the_header_read_timeout() {
    let timeout = Duration::from_secs(1);
    let s = start(options().header_read_timeout(timeout).build().unwrap(), None).await;
    let connected = Instant::now();
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let (got, closed) = wait_closed(&mut stream, Duration::from_secs(15)).await;
    let open_for = closed - connected;
    assert!(got.is_empty() || !String::from_utf8_lossy(&got).contains("200"));
    assert!(
        open_for >= timeout && open_for < Duration::from_secs(6),
        "closed after {open_for:?}, header-read timeout {timeout:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let timeout = Duration::from_secs(1);
    let s = start(options().header_read_timeout(timeout).build().unwrap(), None).await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    get_ok(&mut stream, "/").await;
    let answered = Instant::now();
    let (got, closed) = wait_closed(&mut stream, Duration::from_secs(15)).await;
    let idle_for = closed - answered;
    assert!(got.is_empty() || !String::from_utf8_lossy(&got).contains("200"));
    // The server's clock starts once the response is written, a little before it arrives.
    assert!(
        idle_for >= timeout.mul_f32(0.8) && idle_for < Duration::from_secs(6),
        "closed {idle_for:?} after the response, idle timeout {timeout:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_handler_slower_than_the_idle_timeout_is_not_cut_off() {
    let s = start(
        options()
            .header_read_timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
        None,
    )
    .await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let response = get_ok(&mut stream, "/sleep/1500").await;
    assert!(response.ends_with("ok HTTP/1.1"), "{response}");
    // Idle again once answered: closed.
    wait_closed(&mut stream, Duration::from_secs(10)).await;
    s.stop().await;
}

#[tokio::test]
async fn on_shutdown_new_connections_are_refused_and_requests_in_flight_finish() {
    let mut s = start(
        options().shutdown_grace(Duration::from_secs(10)).build().unwrap(),
        None,
    )
    .await;
    let mut idle = TcpStream::connect(s.addr).await.unwrap();
    get_ok(&mut idle, "/").await;
    let mut busy = TcpStream::connect(s.addr).await.unwrap();
    send_get(&mut busy, "/sleep/1000").await.unwrap();
    s.handler_started.recv().await.unwrap();
    s.shutdown();

    let mut refused = false;
    for _ in 0..100 {
        match TcpStream::connect(s.addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(refused, "the listener still accepts after the shutdown");
    // The idle connection is closed at once, the request in flight is answered.
    wait_closed(&mut idle, Duration::from_secs(5)).await;
    let response = read_response(&mut busy, Duration::from_secs(10))
        .await
        .expect("the request in flight is answered");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("connection: close"), "{response}");
    s.returned_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn on_shutdown_a_request_longer_than_the_grace_is_cut_when_it_ends() {
    let grace = Duration::from_secs(1);
    let mut s = start(options().shutdown_grace(grace).build().unwrap(), None).await;
    let mut busy = TcpStream::connect(s.addr).await.unwrap();
    send_get(&mut busy, "/sleep/30000").await.unwrap();
    s.handler_started.recv().await.unwrap();
    let shut = Instant::now();
    s.shutdown();
    s.returned_within(Duration::from_secs(15)).await;
    let returned = shut.elapsed();
    assert!(
        returned >= grace && returned < Duration::from_secs(10),
        "run returned {returned:?} after the shutdown, grace {grace:?}"
    );
    let (got, closed) = wait_closed(&mut busy, Duration::from_secs(10)).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    let cut_after = closed - shut;
    assert!(
        cut_after >= grace && cut_after < Duration::from_secs(10),
        "cut {cut_after:?} after the shutdown, grace {grace:?}"
    );
}

#[tokio::test]
async fn plain_http_is_http11_only_an_h2_preface_is_not_served() {
    let s = start(
        options()
            .header_read_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
        None,
    )
    .await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    // The HTTP/2 connection preface and an empty SETTINGS frame (h2c with prior knowledge).
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let (got, _) = wait_closed(&mut stream, Duration::from_secs(10)).await;
    // An HTTP/2 server answers with its own SETTINGS frame (type 4 at offset 3).
    assert!(!(got.len() >= 9 && got[3] == 4), "served as HTTP/2: {got:?}");
    s.stop().await;
}

/// `Server::spawn`: the handle knows the real address and a usable URL (an unspecified listen
/// address shown as loopback), serves, and `shutdown` stops the listener and waits; dropping a
/// handle stops its server too.
#[tokio::test]
async fn a_spawned_server_has_a_loopback_url_serves_and_stops_on_shutdown_or_drop() {
    use mlguard_http::serve::Serving;
    let service = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"peer=ok"))))
    });
    let spawn = |listen: &'static str| async move {
        Server::bind(listen.parse().unwrap(), service, None, ServerOptions::default())
            .await
            .unwrap()
            .spawn()
            .unwrap()
    };
    let refused_soon = |addr: std::net::SocketAddr| async move {
        for _ in 0..250 {
            match TcpStream::connect(addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return true,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        false
    };

    let serving: Serving = spawn("0.0.0.0:0").await;
    let port = serving.local_addr().port();
    assert_ne!(port, 0);
    assert!(!serving.is_tls());
    assert_eq!(serving.url(), format!("http://127.0.0.1:{port}"));
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect(loopback).await.unwrap();
    assert!(get(&mut stream).await.starts_with("HTTP/1.1 200"));
    drop(stream);
    tokio::time::timeout(Duration::from_secs(30), serving.shutdown())
        .await
        .expect("shutdown waits for the server, and returns");
    // Not "soon": shutdown returned only once the server had stopped, listener closed.
    let after = TcpStream::connect(loopback).await.map(drop);
    assert_eq!(
        after.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused),
        "still accepting when shutdown returned"
    );

    // run_until: the same, once its signal completes.
    let serving = spawn("127.0.0.1:0").await;
    let addr = serving.local_addr();
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(serving.run_until(async move {
        let _ = signalled.await;
    }));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    assert!(get(&mut stream).await.starts_with("HTTP/1.1 200"));
    drop(stream);
    signal.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("run_until returns after its signal")
        .unwrap();
    let after = TcpStream::connect(addr).await.map(drop);
    assert_eq!(
        after.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused),
        "still accepting when run_until returned"
    );

    let serving = spawn("127.0.0.1:0").await;
    let addr = serving.local_addr();
    assert_eq!(serving.url(), format!("http://{addr}"));
    drop(serving);
    assert!(
        refused_soon(addr).await,
        "still accepting after the handle was dropped"
    );
}
