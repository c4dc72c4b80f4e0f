//! Connections for the attackers: TLS over TCP from a chosen loopback source address, and raw
//! hyper client connections on top, so an attacker controls exactly what it sends and when.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A request body for the raw clients.
pub(crate) type Body = BoxBody<Bytes, io::Error>;

/// Where and how to connect.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    roots: Arc<rustls::RootCertStore>,
}

impl Target {
    /// The server at `addr`, trusting the PEM certificate `cert_pem`.
    pub(crate) fn new(addr: SocketAddr, cert_pem: &[u8]) -> Result<Self, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(cert_pem) {
            let cert = cert.map_err(|e| format!("server certificate: {e}"))?;
            roots.add(cert).map_err(|e| format!("server certificate: {e}"))?;
        }
        Ok(Self {
            addr,
            roots: Arc::new(roots),
        })
    }

    fn connector(&self, alpn: &[u8]) -> TlsConnector {
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(self.roots.clone()).with_no_client_auth())
                .unwrap_or_else(|e| panic!("rustls client config: {e}"));
        config.alpn_protocols = vec![alpn.to_vec()];
        TlsConnector::from(Arc::new(config))
    }

    /// TCP from `source` (port chosen by the kernel), then TLS offering only `alpn`.
    pub(crate) async fn tls(&self, source: IpAddr, alpn: &[u8]) -> io::Result<TlsStream<TcpStream>> {
        let socket = if source.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.bind(SocketAddr::new(source, 0))?;
        let tcp = socket.connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
        tokio::time::timeout(Duration::from_secs(5), self.connector(alpn).connect(name, tcp))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }

    /// An HTTP/2 connection (preface and SETTINGS sent by hyper) and its driver future.
    pub(crate) async fn h2(&self, source: IpAddr) -> io::Result<(http2::SendRequest<Body>, H2Conn)> {
        let tls = self.tls(source, b"h2").await?;
        http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(TokioIo::new(tls))
            .await
            .map_err(io::Error::other)
    }

    /// An HTTP/1.1 connection and its driver future.
    pub(crate) async fn h1(&self, source: IpAddr) -> io::Result<(http1::SendRequest<Body>, H1Conn)> {
        let tls = self.tls(source, b"http/1.1").await?;
        http1::handshake(TokioIo::new(tls))
            .await
            .map_err(io::Error::other)
    }
}

/// The driver of a client HTTP/2 connection: it answers the server's PINGs while it is polled.
pub(crate) type H2Conn = http2::Connection<TokioIo<TlsStream<TcpStream>>, Body, TokioExecutor>;
/// The driver of a client HTTP/1.1 connection.
pub(crate) type H1Conn = http1::Connection<TokioIo<TlsStream<TcpStream>>, Body>;
