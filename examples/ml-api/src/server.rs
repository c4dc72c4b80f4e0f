//! The accept loop: TLS (rustls) or plain TCP, hyper with its timer installed, connection limit,
//! graceful shutdown.
//!
//! - **Slow-loris:** hyper's HTTP/1 header-read timeout (which needs a timer, installed here)
//!   closes a connection that does not finish its request head in time; the TLS handshake has
//!   its own timeout.
//! - **Connection floods:** at most `max_connections` connections are served at once; further
//!   ones wait in the kernel's accept queue until one closes.
//! - **Protocol choice by ALPN:** after TLS, `h2` or HTTP/1.1 is chosen from ALPN, never by
//!   sniffing bytes (which would wait, without a timeout, for bytes a client never sends).
//!   Plain HTTP (behind a proxy) is HTTP/1.1 only.
//! - **Client addresses:** the router is turned into a service with
//!   `into_make_service_with_connect_info::<SocketAddr>()`, so `ConnectInfo` (and with it
//!   mlguard-core's client-IP resolution) sees each connection's peer.

use crate::idle::IdleIo;
use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Time a client has to send a request head.
    pub header_read_timeout: Duration,
    /// Time a client has to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time in-flight requests get to finish on shutdown.
    pub shutdown_grace: Duration,
    /// A connection with no traffic for this long (after its first request) is closed.
    pub idle_timeout: Duration,
}

impl From<&crate::config::Config> for ServerOptions {
    fn from(c: &crate::config::Config) -> Self {
        Self {
            header_read_timeout: c.header_read_timeout,
            tls_handshake_timeout: c.tls_handshake_timeout,
            max_connections: c.max_connections,
            shutdown_grace: c.shutdown_grace,
            // Longer than any request may take, so only truly idle connections are closed.
            idle_timeout: (c.request_timeout + c.header_read_timeout).max(Duration::from_secs(60)),
        }
    }
}

/// A bound listener with its router, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    options: ServerOptions,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `addr` (port 0: any free port).
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(
        addr: SocketAddr,
        app: Router,
        tls: Option<Arc<ServerConfig>>,
        options: ServerOptions,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self {
            listener,
            app,
            tls: tls.map(TlsAcceptor::from),
            options,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// The socket has no address (not expected).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes, then stops accepting and gives open connections
    /// `shutdown_grace` to finish their requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let Self {
            listener,
            app,
            tls,
            options,
        } = self;
        let mut make: IntoMakeServiceWithConnectInfo<Router, SocketAddr> =
            app.into_make_service_with_connect_info::<SocketAddr>();
        let (h1, h2) = builders(&options);
        let slots = Arc::new(Semaphore::new(options.max_connections));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);

        loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let stream = IdleIo::new(stream, options.header_read_timeout, options.idle_timeout);
            let Ok(service) = make.call(peer).await;
            let service = TowerToHyperService::new(service);
            let watcher = graceful.watcher();
            let tls = tls.clone();
            let (h1, h2) = (h1.clone(), h2.clone());
            let handshake_timeout = options.tls_handshake_timeout;
            tokio::spawn(async move {
                let _permit = permit;
                serve_connection(stream, peer, tls, handshake_timeout, service, watcher, &h1, &h2).await;
            });
        }

        drop(listener);
        tracing::info!("shutting down: no new connections, waiting for in-flight requests");
        if tokio::time::timeout(options.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?options.shutdown_grace, "connections still open after the grace period; closing");
        }
    }
}

type Builder = Arc<auto::Builder<TokioExecutor>>;

fn builders(options: &ServerOptions) -> (Builder, Builder) {
    let mut base = auto::Builder::new(TokioExecutor::new());
    base.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(64 * 1024);
    base.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(32 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    (Arc::new(base.clone().http1_only()), Arc::new(base.http2_only()))
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection<S>(
    stream: IdleIo<TcpStream>,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    service: TowerToHyperService<S>,
    watcher: hyper_util::server::graceful::Watcher,
    h1: &auto::Builder<TokioExecutor>,
    h2: &auto::Builder<TokioExecutor>,
) where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let result = match tls {
        None => {
            let conn = h1.serve_connection_with_upgrades(TokioIo::new(stream), service);
            watcher.watch(conn.into_owned()).await
        }
        Some(acceptor) => {
            let tls_stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let is_h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let builder = if is_h2 { h2 } else { h1 };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls_stream), service);
            watcher.watch(conn.into_owned()).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
