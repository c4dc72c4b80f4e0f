//! Raw client connections for tests of connection limits: TCP from a chosen loopback address,
//! and a TLS client that trusts one test certificate.
//!
//! On Linux all of 127.0.0.0/8 is loopback, so a test can play several clients (an attacker on
//! 127.0.0.2, a legitimate client on 127.0.0.3) against one server on 127.0.0.1.
//!
//! ```no_run
//! # async fn demo(server: std::net::SocketAddr, cert_pem: &[u8]) -> std::io::Result<()> {
//! use mlguard_testkit::net::{connect_from, local, tls_connector};
//! let tcp = connect_from(local(2), server).await?;
//! let tls = tls_connector(cert_pem, &[b"h2"])
//!     .connect(rustls::pki_types::ServerName::IpAddress(server.ip().into()), tcp)
//!     .await?;
//! # drop(tls);
//! # Ok(())
//! # }
//! ```

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpSocket, TcpStream};

/// `127.0.0.<last>`: one of the loopback addresses a test can connect from.
pub fn local(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// A TCP connection to `to` from the address `from` (the port chosen by the kernel).
///
/// # Errors
/// The socket's, the bind's or the connect's error.
pub async fn connect_from(from: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = match from {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// A TLS client (TLS 1.2 and 1.3, ring) that trusts only the certificates in `cert_pem` and
/// offers exactly the ALPN protocols `alpn`.
///
/// # Panics
/// If `cert_pem` holds no valid certificate: a broken test fixture, not a case to handle.
pub fn tls_connector(cert_pem: &[u8], alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem) {
        let cert = cert.unwrap_or_else(|e| panic!("test certificate PEM: {e}"));
        roots
            .add(cert)
            .unwrap_or_else(|e| panic!("test certificate: {e}"));
    }
    assert!(!roots.is_empty(), "no certificate in the test PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("ring supports the default versions: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}
