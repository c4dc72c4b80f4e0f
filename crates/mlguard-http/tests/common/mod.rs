//! A small server under test (`mlguard_http::server::Server` around a `tower::service_fn`) and
//! raw-socket helpers shared by the server and TLS tests.
#![allow(dead_code)] // each test binary uses its own part

use bytes::Bytes;
use http_body_util::Full;
use mlguard_http::server::{Server, ServerOptions};
use rustls::ServerConfig;
use rustls::pki_types::ServerName;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A running server: `GET /` answers `ok <HTTP version>`; `GET /sleep/<ms>` reports on
/// `handler_started` and answers after `<ms>` milliseconds.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) handler_started: mpsc::UnboundedReceiver<()>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

pub(crate) async fn start(options: ServerOptions, tls: Option<Arc<ServerConfig>>) -> Running {
    let (started, handler_started) = mpsc::unbounded_channel();
    let service = tower::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let started = started.clone();
        async move {
            let body = format!("ok {:?}", req.version());
            if let Some(ms) = req.uri().path().strip_prefix("/sleep/") {
                let _ = started.send(());
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
            }
            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(body))))
        }
    });
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), service, tls, options)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        handler_started,
        stop: Some(stop),
        task,
    }
}

impl Running {
    /// Completes the shutdown future.
    pub(crate) fn shutdown(&mut self) {
        let _ = self.stop.take().expect("shut down once").send(());
    }

    /// Shuts down (if not yet) and waits for `run` to return, at most 30 s.
    pub(crate) async fn stop(mut self) {
        if self.stop.is_some() {
            self.shutdown();
        }
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("run returns after the shutdown")
            .unwrap();
    }

    /// Waits for `run` to return (after [`shutdown`](Self::shutdown)), at most `limit`.
    pub(crate) async fn returned_within(&mut self, limit: Duration) {
        tokio::time::timeout(limit, &mut self.task)
            .await
            .expect("run returns in time")
            .unwrap();
    }
}

#[allow(unused_imports)] // the server tests use them, the TLS tests do not
pub(crate) use mlguard_testkit::net::{connect_from, local};

/// Sends `GET path` on a raw HTTP/1.1 connection.
pub(crate) async fn send_get(stream: &mut TcpStream, path: &str) -> io::Result<()> {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes())
        .await
}

/// Reads one whole response (head and `content-length` body) within `limit`; `None` when the
/// connection closes or nothing complete arrives in time.
pub(crate) async fn read_response<S: AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> Option<String> {
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text[..head_end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                if got.len() >= head_end + 4 + length {
                    return Some(text);
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok().flatten()
}

/// `GET path` answered `200` within 10 s on `stream`.
pub(crate) async fn get_ok(stream: &mut TcpStream, path: &str) -> String {
    send_get(stream, path).await.unwrap();
    let response = read_response(stream, Duration::from_secs(10))
        .await
        .expect("a response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// Reads until the server closes the connection (EOF or reset); returns what arrived and when
/// it closed. Panics if it is still open after `limit`.
pub(crate) async fn wait_closed<S: AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> (Vec<u8>, Instant) {
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let got = tokio::time::timeout(limit, read)
        .await
        .unwrap_or_else(|_| panic!("the connection is still open after {limit:?}"));
    (got, Instant::now())
}

/// A generated certificate for `localhost` and 127.0.0.1, the server's configuration for it,
/// and a client trusting it that offers `alpn`.
pub(crate) struct Tls {
    pub(crate) server: Arc<ServerConfig>,
    cert_pem: String,
}

impl Tls {
    pub(crate) fn new() -> Self {
        let pair = mlguard_http::tls::self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        let server =
            mlguard_http::tls::server_config_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes())
                .unwrap();
        Self {
            server,
            cert_pem: pair.cert_pem,
        }
    }

    /// A server configuration and the certificate (PEM) a client should trust for it.
    pub(crate) fn from_parts(server: Arc<ServerConfig>, cert_pem: String) -> Self {
        Self { server, cert_pem }
    }

    pub(crate) fn connector(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
        mlguard_testkit::net::tls_connector(self.cert_pem.as_bytes(), alpn)
    }

    /// TCP and a TLS handshake offering `alpn`.
    pub(crate) async fn connect(
        &self,
        to: SocketAddr,
        alpn: &[&[u8]],
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(to).await?;
        let name = ServerName::IpAddress(to.ip().into());
        self.connector(alpn).connect(name, tcp).await
    }
}
