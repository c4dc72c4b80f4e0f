//! Connection slots (issue 14, hole 1): one address must not be able to hold every connection
//! the server serves, and a connection that carries no request must not stay open, whatever
//! bytes (HTTP/2 PINGs, polling) it moves.
//!
//! The attacker binds its sockets to 127.0.0.2 (Linux routes all of 127.0.0.0/8 to loopback),
//! the legitimate client connects from 127.0.0.1, over TLS like a real deployment. The HTTP/2
//! attacker speaks raw frames so the test controls exactly what flows: the connection preface,
//! SETTINGS, acknowledgements of the server's SETTINGS and PINGs, and PINGs of its own; never a
//! request.

mod common;

use common::*;
use http_body_util::{BodyExt, Empty};
use mlguard_testkit::h2::h2_idle;
use mlguard_testkit::net::connect_from;
use rustls::pki_types::ServerName;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn addr(s: &TestServer) -> SocketAddr {
    s.running.as_ref().unwrap().addr()
}

/// A TLS client trusting the server's generated certificate, offering exactly `alpn`.
fn tls_connector(s: &TestServer, alpn: &[u8]) -> TlsConnector {
    let cert = s.running.as_ref().unwrap().self_signed_cert().unwrap();
    mlguard_testkit::net::tls_connector(&std::fs::read(cert).unwrap(), &[alpn])
}

/// TCP from `from`, then TLS with `alpn`; any failure (the server closing at once included) is
/// an error.
async fn tls_from(
    connector: &TlsConnector,
    from: IpAddr,
    to: SocketAddr,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = connect_from(from, to).await?;
    let name = ServerName::IpAddress(to.ip().into());
    connector.connect(name, tcp).await
}

/// One attacker connection slot, held as long as the server allows and reopened at once when
/// the server closes it. `held` counts the connections currently past their TLS handshake.
async fn hold_h2_slot(connector: TlsConnector, to: SocketAddr, held: Arc<AtomicUsize>) {
    for _ in 0..1000 {
        if let Ok(tls) = tls_from(&connector, ATTACKER, to).await {
            held.fetch_add(1, Ordering::SeqCst);
            h2_idle(tls, Duration::from_millis(500), Duration::from_secs(600)).await;
            held.fetch_sub(1, Ordering::SeqCst);
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Like [`hold_h2_slot`], with HTTP/1.1 `GET /healthz` every `every` on each connection.
async fn hold_h1_polling_slot(
    connector: TlsConnector,
    to: SocketAddr,
    every: Duration,
    held: Arc<AtomicUsize>,
) {
    for _ in 0..1000 {
        let Ok(tls) = tls_from(&connector, ATTACKER, to).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok((mut sender, conn)) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await
        else {
            continue;
        };
        let conn = tokio::spawn(conn);
        held.fetch_add(1, Ordering::SeqCst);
        for _ in 0..1000 {
            let req = http::Request::get("/healthz")
                .header("host", "localhost")
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            let Ok(resp) = sender.send_request(req).await else {
                break;
            };
            if resp.into_body().collect().await.is_err() {
                break;
            }
            tokio::time::sleep(every).await;
        }
        held.fetch_sub(1, Ordering::SeqCst);
        conn.abort();
    }
}

/// Waits until `held` has been stable for a second (the attacker holds all it may), at most 10 s.
async fn settle(held: &AtomicUsize) -> usize {
    let mut last = usize::MAX;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = held.load(Ordering::SeqCst);
        if now == last && now > 0 {
            return now;
        }
        last = now;
    }
    held.load(Ordering::SeqCst)
}

/// A legitimate client from 127.0.0.1 on a fresh connection (TLS, HTTP/2 or HTTP/1.1 as
/// negotiated) must get `GET /healthz` answered within 1 s, three times.
async fn legitimate_client_is_served(s: &TestServer) {
    for round in 0..3 {
        let client = client_for(s.running.as_ref().unwrap(), |b| b.timeout(Duration::from_secs(1)));
        let r = client.get(s.url("/healthz")).send().await;
        match r {
            Ok(r) => assert_eq!(r.status(), 200, "round {round}"),
            Err(e) => panic!(
                "round {round}: legitimate client not served within 1 s while 127.0.0.2 holds its connections: {e:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

const MAX_CONNECTIONS: usize = 8;
/// More than the global cap, so without a per-address cap the attacker holds every slot.
const ATTACKER_SLOTS: usize = MAX_CONNECTIONS + 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_idle_holders_from_one_address_do_not_lock_out_others() {
    let s = start_with(|c| c.max_connections = Some(MAX_CONNECTIONS)).await;
    let connector = tls_connector(&s, b"h2");
    let held = Arc::new(AtomicUsize::new(0));
    let mut attackers = JoinSet::new();
    for _ in 0..ATTACKER_SLOTS {
        attackers.spawn(hold_h2_slot(connector.clone(), addr(&s), held.clone()));
    }
    let holding = settle(&held).await;
    println!("attacker holds {holding} h2 connections");
    assert!(holding >= 1, "the attack did not get going");
    // The resolved default: a quarter of max_connections (docs/configuration.md).
    assert_eq!(
        holding,
        ml_api::config::defaults::max_connections_per_ip(MAX_CONNECTIONS)
    );
    legitimate_client_is_served(&s).await;
    attackers.abort_all();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_pollers_from_one_address_do_not_lock_out_others() {
    let s = start_with(|c| c.max_connections = Some(MAX_CONNECTIONS)).await;
    let connector = tls_connector(&s, b"http/1.1");
    let held = Arc::new(AtomicUsize::new(0));
    let mut attackers = JoinSet::new();
    for _ in 0..ATTACKER_SLOTS {
        attackers.spawn(hold_h1_polling_slot(
            connector.clone(),
            addr(&s),
            Duration::from_secs(2),
            held.clone(),
        ));
    }
    let holding = settle(&held).await;
    println!("attacker holds {holding} polling h1 connections");
    assert!(holding >= 1, "the attack did not get going");
    assert_eq!(
        holding,
        ml_api::config::defaults::max_connections_per_ip(MAX_CONNECTIONS)
    );
    legitimate_client_is_served(&s).await;
    attackers.abort_all();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_connection_without_streams_is_closed_after_the_idle_timeout_despite_pings() {
    // The idle timeout is the header-read timeout (docs/configuration.md): 2 s here.
    let s = start_with(|c| c.header_read_timeout = Some("2s".into())).await;
    let connector = tls_connector(&s, b"h2");
    let tls = tls_from(&connector, ATTACKER, addr(&s)).await.unwrap();
    let seen = h2_idle(tls, Duration::from_millis(300), Duration::from_secs(20)).await;
    println!("{seen:?}");
    assert!(
        seen.client_pings >= 3,
        "PINGs must flow during the test: {seen:?}"
    );
    assert!(
        seen.open_for < Duration::from_secs(15),
        "an h2 connection with no stream stayed open {:?} (idle timeout 2 s): {seen:?}",
        seen.open_for
    );
    assert!(
        seen.open_for >= Duration::from_millis(1500),
        "closed before the idle timeout: {seen:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_h1_keep_alive_connection_is_closed_after_the_idle_timeout() {
    // Pins the documented rule: an HTTP/1.1 connection waiting for its next request is closed
    // after the header-read timeout (2 s here), not after some longer idle timeout.
    let s = start_with(|c| c.header_read_timeout = Some("2s".into())).await;
    let connector = tls_connector(&s, b"http/1.1");
    let tls = tls_from(&connector, IpAddr::V4(Ipv4Addr::LOCALHOST), addr(&s))
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get("/healthz")
        .header("host", "localhost")
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap();
    let idle_since = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(30), conn).await;
    let open_for = idle_since.elapsed();
    assert!(closed.is_ok(), "idle keep-alive connection still open after 30 s");
    assert!(
        open_for >= Duration::from_millis(1500) && open_for < Duration::from_secs(10),
        "idle keep-alive connection closed after {open_for:?}; documented: the header-read timeout (2 s)"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_cap_is_configurable_and_trusted_proxies_are_exempt() {
    // MLGUARD_MAX_CONNECTIONS_PER_IP=3: the attacker holds exactly 3 polling connections.
    let s = start_with(|c| {
        c.max_connections = Some(MAX_CONNECTIONS);
        c.max_connections_per_ip = Some(3);
    })
    .await;
    let connector = tls_connector(&s, b"http/1.1");
    let held = Arc::new(AtomicUsize::new(0));
    let mut attackers = JoinSet::new();
    for _ in 0..6 {
        attackers.spawn(hold_h1_polling_slot(
            connector.clone(),
            addr(&s),
            Duration::from_secs(2),
            held.clone(),
        ));
    }
    assert_eq!(settle(&held).await, 3);
    legitimate_client_is_served(&s).await;
    attackers.abort_all();
    s.stop().await;

    // 127.0.0.2 as a trusted proxy: its connections are not capped per address (a proxy carries
    // many clients); the global cap still holds.
    let s = start_with(|c| {
        c.max_connections = Some(MAX_CONNECTIONS);
        c.max_connections_per_ip = Some(3);
        c.trusted_proxies = Some("127.0.0.2/32".into());
    })
    .await;
    let connector = tls_connector(&s, b"http/1.1");
    let held = Arc::new(AtomicUsize::new(0));
    let mut proxies = JoinSet::new();
    for _ in 0..6 {
        proxies.spawn(hold_h1_polling_slot(
            connector.clone(),
            addr(&s),
            Duration::from_secs(2),
            held.clone(),
        ));
    }
    assert_eq!(settle(&held).await, 6);
    proxies.abort_all();
    s.stop().await;
}
