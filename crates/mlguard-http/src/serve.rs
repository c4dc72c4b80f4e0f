//! Bind and run in one call: a [`Server`] started in a background task, with a handle that
//! knows its address and URL and stops it ([`Serving`]), and the TLS configuration chosen from
//! a [`TlsSource`] ([`TlsSource::server_config`]).
//!
//! What a service gets here instead of writing it again: the shutdown channel and the wait
//! for the drain (so a test or an embedding program cannot forget either and leave a server
//! running), the URL with the right scheme and a usable host (an unspecified listen address
//! such as `0.0.0.0` is shown as loopback), and a loud warning whenever plain HTTP is served.
//!
//! ```
//! use mlguard_http::server::{Server, ServerOptions};
//! use mlguard_http::tls::TlsSource;
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let service = tower::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
//!         bytes::Bytes::from_static(b"hello"),
//!     )))
//! });
//! // `Files { cert, key }` or `SelfSigned` (with the generated pair's files) give a rustls config.
//! let tls = TlsSource::Off.server_config(None)?;
//! let options = ServerOptions::builder().build()?;
//! let serving = Server::bind("0.0.0.0:0".parse()?, service, tls, options).await?.spawn()?;
//! assert!(serving.url().starts_with("http://127.0.0.1:"));
//! serving.shutdown().await; // stops accepting, drains within the grace, and waits
//! # Ok(()) }
//! ```

use crate::server::Server;
use crate::tls::{TlsError, TlsSource, server_config};
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use rustls::ServerConfig;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> Server<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    /// Runs the server in a background task (on the current tokio runtime) until
    /// [`Serving::shutdown`] or [`Serving::run_until`].
    ///
    /// # Errors
    /// The socket has no local address (not expected for a bound listener).
    pub fn spawn(self) -> io::Result<Serving> {
        let addr = self.local_addr()?;
        let tls = self.is_tls();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async move {
            // A dropped sender stops the server as well: a lost handle leaves nothing running.
            let _ = stopped.await;
        }));
        tracing::info!(%addr, tls, "listening");
        Ok(Serving {
            addr,
            tls,
            stop: Some(stop),
            task,
        })
    }
}

/// A server running in a background task ([`Server::spawn`]). Dropping it stops the server
/// too (without waiting for the drain).
#[derive(Debug)]
pub struct Serving {
    addr: SocketAddr,
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Serving {
    /// The bound address (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The base URL, e.g. `https://127.0.0.1:8443`: `https` when serving TLS, and an
    /// unspecified bound address (`0.0.0.0`, `::`) shown as IPv4 loopback.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        format!("{scheme}://{addr}")
    }

    /// Stops accepting, gives open connections the shutdown grace, and waits until the server
    /// has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until `signal` completes (e.g. [`crate::server::shutdown_signal`]), then as
    /// [`shutdown`](Self::shutdown).
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }
}

impl TlsSource {
    /// The rustls configuration of this source: `None` for [`TlsSource::Off`] (with a warning:
    /// plain HTTP belongs behind a TLS-terminating proxy only), the files' for
    /// [`TlsSource::Files`], and for [`TlsSource::SelfSigned`] the generated pair's files given
    /// as `self_signed` (see [`crate::tls::ensure_self_signed_files`]).
    ///
    /// # Errors
    /// [`TlsError`] naming the file at fault; [`TlsError::Cert`] when the source is
    /// `SelfSigned` and no pair is given.
    pub fn server_config(
        &self,
        self_signed: Option<(&Path, &Path)>,
    ) -> Result<Option<Arc<ServerConfig>>, TlsError> {
        match (self, self_signed) {
            (Self::Off, _) => {
                tracing::warn!("serving plain HTTP (no_tls): only do this behind a TLS-terminating proxy");
                Ok(None)
            }
            (Self::Files { cert, key }, _) => server_config(cert, key).map(Some),
            (Self::SelfSigned, Some((cert, key))) => server_config(cert, key).map(Some),
            (Self::SelfSigned, None) => Err(TlsError::Cert {
                path: PathBuf::new(),
                message: "no self-signed pair was generated for this server".to_owned(),
            }),
        }
    }
}
