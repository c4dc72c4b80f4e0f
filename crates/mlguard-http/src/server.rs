//! The accept loop: TLS (rustls) or plain TCP, hyper with its timer installed, connection caps,
//! idle deadlines, graceful shutdown.
//!
//! What it protects against:
//!
//! - **Connection floods:** at most `max_connections` connections are served at once; further
//!   ones wait in the kernel's accept queue until one closes.
//! - **One address holding every slot:** at most `max_connections_per_ip` connections per
//!   client address (IPv4 address; IPv6 per /64, what one subscriber usually gets; IPv4-mapped
//!   IPv6 counts as IPv4). A connection over that cap is closed at once, before the TLS
//!   handshake, and its global slot goes to the next connection in the queue. Peers inside
//!   `trusted_proxies` are exempt: a reverse proxy carries many clients on its connections.
//! - **Connections that carry no request:** [`IdleIo`] closes a connection whose first byte does
//!   not come within the header-read timeout, and one with no request in flight for
//!   `idle_timeout` (the header-read timeout as well), whatever bytes move meanwhile: an HTTP/2
//!   client answering PINGs without ever opening a stream is closed like a silent one. Requests
//!   in flight are counted by [`CountRequests`] around the per-connection service. A request
//!   may stay in flight at most `request_timeout` + [`RESPONSE_DELIVERY_GRACE`], so a client
//!   that never reads its response cannot hold the connection either.
//! - **Slow-loris:** hyper's HTTP/1 header-read timeout (which needs a timer, installed here)
//!   closes a connection that does not finish its request head in time. It runs whenever the
//!   connection waits for a head, between keep-alive requests too, so an idle HTTP/1.1
//!   keep-alive connection closes after the header-read timeout. The TLS handshake has its own
//!   timeout.
//! - **HTTP/2 per-connection work:** 128 concurrent streams, 32 KiB header lists, keep-alive
//!   PINGs every `idle_timeout / 2` (at least 1 s, at most 30 s) with a 20 s answer timeout,
//!   which detect dead peers while a stream is open.
//! - **Protocol choice by ALPN:** after TLS, `h2` or HTTP/1.1 is chosen from ALPN, never by
//!   sniffing bytes (which would wait, without a timeout, for bytes a client never sends).
//!   Plain HTTP (behind a proxy) is HTTP/1.1 only: no h2c, whatever the first bytes say.
//!   HTTP/1.1 upgrades (WebSocket, `Upgrade: h2c`) are not served: an API behind these
//!   protections has no use for them, and an upgraded connection would leave the idle and
//!   shutdown rules.
//! - **Client addresses:** the router is turned into a service with
//!   `into_make_service_with_connect_info::<SocketAddr>()`, so `ConnectInfo` (and with it
//!   mlguard-core's client-IP resolution) sees each connection's peer.
//!
//! With the defaults: 1024 connections, 32 per address, idle and header-read timeouts 10 s.

use crate::idle::{Activity, CountRequests, CountedBody, Deadlines, IdleIo};
use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use mlguard_core::{PeerAddr, TrustedProxies};
use rustls::ServerConfig;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower_http::add_extension::AddExtension;
use tower_service::Service;

/// How long a response may take to reach the client once the request timeout has passed (a
/// large response to a slow client); a request in flight longer than the request timeout plus
/// this closes its connection.
pub const RESPONSE_DELIVERY_GRACE: Duration = Duration::from_secs(60);

/// IPv6 clients are counted per network of this prefix length.
pub const PER_IP_V6_PREFIX: u8 = 64;

/// A [`ServerOptions`] value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// A limit is 0 (no connection could ever be served).
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// A timeout is 0 (every connection would be closed at once).
    #[error("{0} must be longer than 0")]
    ZeroTimeout(&'static str),
}

/// Connection-level limits, validated by [`ServerOptionsBuilder::build`].
///
/// ```
/// use mlguard_http::server::ServerOptions;
/// use std::time::Duration;
/// let options = ServerOptions::builder()
///     .header_read_timeout(Duration::from_secs(10))
///     .max_connections(1024)
///     .max_connections_per_ip(32)
///     .request_timeout(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(options.max_connections(), 1024);
/// assert!(ServerOptions::builder().max_connections(0).build().is_err());
/// # Ok::<(), mlguard_http::server::OptionsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerOptions {
    header_read_timeout: Duration,
    tls_handshake_timeout: Duration,
    max_connections: usize,
    max_connections_per_ip: usize,
    per_ip_exempt: TrustedProxies,
    shutdown_grace: Duration,
    idle_timeout: Duration,
    max_request_lifetime: Duration,
}

impl Default for ServerOptions {
    /// The defaults of [`ServerOptionsBuilder`].
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            per_ip_exempt: TrustedProxies::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            idle_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_request_lifetime: DEFAULT_REQUEST_TIMEOUT + RESPONSE_DELIVERY_GRACE,
        }
    }
}

/// Default header-read (and idle) timeout: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default TLS handshake timeout: 10 s.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap of connections served at once: 1024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default cap of connections per client address: 32.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 32;
/// A per-address connection cap for a server of `max_connections`: a quarter of them, at
/// least 1 and at most [`DEFAULT_MAX_CONNECTIONS_PER_IP`] (32 with the default 1024), so one
/// address never holds more than a small share of the slots. For a server whose
/// `max_connections` is configurable and whose per-address cap may be left unset.
///
/// ```
/// use mlguard_http::server::default_max_connections_per_ip;
/// assert_eq!(default_max_connections_per_ip(1024), 32);
/// assert_eq!(default_max_connections_per_ip(132), 32); // a quarter is 33: capped
/// assert_eq!(default_max_connections_per_ip(128), 32);
/// assert_eq!(default_max_connections_per_ip(64), 16);
/// assert_eq!(default_max_connections_per_ip(4), 1);
/// assert_eq!(default_max_connections_per_ip(2), 1); // a quarter is 0: at least 1
/// ```
pub const fn default_max_connections_per_ip(max_connections: usize) -> usize {
    let quarter = max_connections / 4;
    if quarter < 1 {
        1
    } else if quarter > DEFAULT_MAX_CONNECTIONS_PER_IP {
        DEFAULT_MAX_CONNECTIONS_PER_IP
    } else {
        quarter
    }
}
/// Default time in-flight requests get on shutdown: 10 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Default whole-request timeout assumed for the longest request lifetime: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl ServerOptions {
    /// A builder starting from the defaults (1024 connections, 32 per address, 10 s timeouts).
    pub fn builder() -> ServerOptionsBuilder {
        ServerOptionsBuilder {
            options: Self::default(),
            idle_timeout: None,
        }
    }

    /// Connections served at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Connections served at once per client address.
    pub fn max_connections_per_ip(&self) -> usize {
        self.max_connections_per_ip
    }

    /// Time a client has to send a request head, and its first byte.
    pub fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// With no request in flight for this long a connection is closed.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    fn deadlines(&self) -> Deadlines {
        Deadlines {
            first: self.header_read_timeout,
            idle: self.idle_timeout,
            request: self.max_request_lifetime,
        }
    }

    /// The HTTP/2 keep-alive PING interval: `idle_timeout / 2`, within 1 s..=30 s.
    fn keep_alive_interval(&self) -> Duration {
        (self.idle_timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30))
    }
}

/// Builds [`ServerOptions`]; see there.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerOptionsBuilder {
    options: ServerOptions,
    idle_timeout: Option<Duration>,
}

impl ServerOptionsBuilder {
    /// Time a client has to send a request head, and to send its first byte (default 10 s).
    /// Also the idle timeout unless [`idle_timeout`](Self::idle_timeout) is set: hyper's HTTP/1
    /// header-read timeout already closes an idle HTTP/1.1 connection after this long, so one
    /// value gives both protocols one idle rule.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.options.header_read_timeout = timeout;
        self
    }

    /// Time a client has to finish the TLS handshake (default 10 s).
    pub fn tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.options.tls_handshake_timeout = timeout;
        self
    }

    /// Connections served at once (default 1024); more wait in the kernel's accept queue.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.options.max_connections = max;
        self
    }

    /// Connections served at once per client address, IPv6 per /64 (default 32).
    pub fn max_connections_per_ip(mut self, max: usize) -> Self {
        self.options.max_connections_per_ip = max;
        self
    }

    /// Peers exempt from the per-address cap: the trusted reverse proxies (default none).
    pub fn per_ip_exempt(mut self, proxies: TrustedProxies) -> Self {
        self.options.per_ip_exempt = proxies;
        self
    }

    /// Time in-flight requests get to finish on shutdown (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.options.shutdown_grace = grace;
        self
    }

    /// A connection with no request in flight for this long is closed, whatever bytes move
    /// (default: the header-read timeout).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// The whole-request timeout of the service (default 30 s): a request in flight longer
    /// than this plus [`RESPONSE_DELIVERY_GRACE`] closes its connection.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.max_request_lifetime = timeout.saturating_add(RESPONSE_DELIVERY_GRACE);
        self
    }

    /// The options.
    ///
    /// # Errors
    /// [`OptionsError`] for a zero limit or timeout.
    pub fn build(self) -> Result<ServerOptions, OptionsError> {
        let mut o = self.options;
        o.idle_timeout = self.idle_timeout.unwrap_or(o.header_read_timeout);
        if o.max_connections == 0 {
            return Err(OptionsError::ZeroLimit("max_connections"));
        }
        if o.max_connections_per_ip == 0 {
            return Err(OptionsError::ZeroLimit("max_connections_per_ip"));
        }
        for (name, d) in [
            ("header_read_timeout", o.header_read_timeout),
            ("tls_handshake_timeout", o.tls_handshake_timeout),
            ("idle_timeout", o.idle_timeout),
        ] {
            if d.is_zero() {
                return Err(OptionsError::ZeroTimeout(name));
            }
        }
        Ok(o)
    }
}

/// Open connections per client address; see the [module docs](self).
#[derive(Debug)]
struct PerIpLimit {
    limit: usize,
    exempt: TrustedProxies,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address's cap; dropping it frees the place. Exempt
/// peers get an empty one.
#[derive(Debug)]
struct IpSlot(Option<(Arc<PerIpLimit>, IpAddr)>);

impl PerIpLimit {
    fn new(limit: usize, exempt: TrustedProxies) -> Arc<Self> {
        Arc::new(Self {
            limit,
            exempt,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more connection from `peer`, or `None` when its address is at the cap.
    fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<IpSlot> {
        if self.exempt.contains(peer) {
            return Some(IpSlot(None));
        }
        let key = mlguard_core::client_ip::aggregate(peer, PER_IP_V6_PREFIX);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(IpSlot(Some((self.clone(), key))))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Some((limits, key)) = self.0.take() {
            let mut open = limits.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = open.get_mut(&key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

/// Completes on SIGTERM (Unix) or Ctrl-C: the usual signal for [`Server::run`] to stop
/// accepting and drain (within the options' shutdown grace).
///
/// ```no_run
/// # async fn demo(server: mlguard_http::server::Server<axum::Router>) {
/// server.run(mlguard_http::server::shutdown_signal()).await;
/// # }
/// ```
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

/// A bound listener with its service, ready to [`run`](Server::run); see the [module docs](self).
///
/// `S` is any cloneable tower service of `http::Request<hyper::body::Incoming>` (an axum
/// `Router` is one); each connection gets a clone, with the peer address in the request
/// extensions as [`PeerAddr`] (which mlguard-core's client-IP resolution reads).
pub struct Server<S> {
    listener: TcpListener,
    service: S,
    tls: Option<TlsAcceptor>,
    options: ServerOptions,
}

impl<S> std::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> Server<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    /// Binds `addr` (port 0: any free port); `tls` from [`crate::tls`], or `None` for plain
    /// HTTP/1.1 (behind a TLS-terminating proxy).
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(
        addr: SocketAddr,
        service: S,
        tls: Option<Arc<ServerConfig>>,
        options: ServerOptions,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self::from_listener(listener, service, tls, options))
    }

    /// Serves on an already bound listener.
    pub fn from_listener(
        listener: TcpListener,
        service: S,
        tls: Option<Arc<ServerConfig>>,
        options: ServerOptions,
    ) -> Self {
        Self {
            listener,
            service,
            tls: tls.map(TlsAcceptor::from),
            options,
        }
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
    /// the shutdown grace to finish their requests; connections still open when it ends are
    /// closed (their requests cut), also when the runtime outlives `run`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let Self {
            listener,
            service,
            tls,
            options,
        } = self;
        let (h1, h2) = builders(&options);
        let slots = Arc::new(Semaphore::new(options.max_connections));
        let per_ip = PerIpLimit::new(options.max_connections_per_ip, options.per_ip_exempt.clone());
        let deadlines = options.deadlines();
        let graceful = GracefulShutdown::new();
        // Set when the shutdown grace ends: connections still open are dropped (closed), not
        // left running after `run` returns.
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::pin!(shutdown);

        // A global slot taken but not used (the connection was over its address's cap) serves
        // the next connection.
        let mut spare: Option<OwnedSemaphorePermit> = None;
        loop {
            let permit = match spare.take() {
                Some(p) => p,
                None => tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                },
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        spare = Some(permit);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Some(ip_slot) = per_ip.admit(peer.ip()) else {
                tracing::debug!(%peer, limit = options.max_connections_per_ip, "connection closed: per-address connection cap");
                metrics::counter!(crate::metric_names::CONNECTIONS_REFUSED_PER_ADDRESS).increment(1);
                drop(stream);
                spare = Some(permit);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let activity = Activity::new();
            let stream = IdleIo::new(stream, deadlines, activity.clone());
            let service = AddExtension::new(service.clone(), PeerAddr(peer));
            let service = TowerToHyperService::new(CountRequests::new(service, activity));
            let watcher = graceful.watcher();
            let tls = tls.clone();
            let (h1, h2) = (h1.clone(), h2.clone());
            let handshake_timeout = options.tls_handshake_timeout;
            let mut cut_rx = cut_rx.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let _ip_slot = ip_slot;
                tokio::select! {
                    () = serve_connection(stream, peer, tls, handshake_timeout, service, watcher, &h1, &h2) => {}
                    _ = cut_rx.wait_for(|cut| *cut) => {
                        tracing::debug!(%peer, "connection closed: shutdown grace over");
                    }
                }
            });
        }

        drop(listener);
        tracing::info!("shutting down: no new connections, waiting for in-flight requests");
        if tokio::time::timeout(options.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?options.shutdown_grace, "connections still open after the grace period; closing");
            let _ = cut.send(true);
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
        .keep_alive_interval(Some(options.keep_alive_interval()))
        .keep_alive_timeout(Duration::from_secs(20));
    // `serve_connection` honours `http1_only`/`http2_only`; `serve_connection_with_upgrades`
    // ignores them and sniffs the first bytes (h2c on plain HTTP, ALPN overridden).
    (Arc::new(base.clone().http1_only()), Arc::new(base.http2_only()))
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection<S, B>(
    stream: IdleIo<TcpStream>,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    service: TowerToHyperService<S>,
    watcher: hyper_util::server::graceful::Watcher,
    h1: &auto::Builder<TokioExecutor>,
    h2: &auto::Builder<TokioExecutor>,
) where
    S: Service<Request<Incoming>, Response = Response<CountedBody<B>>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let result = match tls {
        None => {
            let conn = h1.serve_connection(TokioIo::new(stream), service);
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
            let conn = builder.serve_connection(TokioIo::new(tls_stream), service);
            watcher.watch(conn.into_owned()).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_zero_limit_or_timeout_is_refused_by_name() {
        let cases: [(ServerOptionsBuilder, OptionsError); 5] = [
            (
                ServerOptions::builder().max_connections(0),
                OptionsError::ZeroLimit("max_connections"),
            ),
            (
                ServerOptions::builder().max_connections_per_ip(0),
                OptionsError::ZeroLimit("max_connections_per_ip"),
            ),
            (
                ServerOptions::builder().header_read_timeout(Duration::ZERO),
                OptionsError::ZeroTimeout("header_read_timeout"),
            ),
            (
                ServerOptions::builder().tls_handshake_timeout(Duration::ZERO),
                OptionsError::ZeroTimeout("tls_handshake_timeout"),
            ),
            (
                ServerOptions::builder().idle_timeout(Duration::ZERO),
                OptionsError::ZeroTimeout("idle_timeout"),
            ),
        ];
        for (builder, expected) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(err, expected);
        }
        assert_eq!(
            OptionsError::ZeroLimit("max_connections").to_string(),
            "max_connections must be at least 1"
        );
        assert_eq!(
            OptionsError::ZeroTimeout("idle_timeout").to_string(),
            "idle_timeout must be longer than 0"
        );
        // A zero header-read timeout is refused even with a non-zero idle timeout.
        let err = ServerOptions::builder()
            .header_read_timeout(Duration::ZERO)
            .idle_timeout(Duration::from_secs(1))
            .build()
            .unwrap_err();
        assert_eq!(err, OptionsError::ZeroTimeout("header_read_timeout"));
    }

    #[test]
    fn the_defaults_and_every_setting_reach_the_options() {
        let o = ServerOptions::builder().build().unwrap();
        assert_eq!(o.max_connections(), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(o.max_connections_per_ip(), DEFAULT_MAX_CONNECTIONS_PER_IP);
        assert_eq!(o.header_read_timeout(), DEFAULT_HEADER_READ_TIMEOUT);
        assert_eq!(o.idle_timeout(), DEFAULT_HEADER_READ_TIMEOUT);
        assert_eq!(o.tls_handshake_timeout, DEFAULT_TLS_HANDSHAKE_TIMEOUT);
        assert_eq!(o.shutdown_grace, DEFAULT_SHUTDOWN_GRACE);
        assert_eq!(
            o.deadlines(),
            Deadlines {
                first: DEFAULT_HEADER_READ_TIMEOUT,
                idle: DEFAULT_HEADER_READ_TIMEOUT,
                request: DEFAULT_REQUEST_TIMEOUT + RESPONSE_DELIVERY_GRACE,
            }
        );

        let o = ServerOptions::builder()
            .max_connections(7)
            .max_connections_per_ip(3)
            .header_read_timeout(Duration::from_millis(1500))
            .tls_handshake_timeout(Duration::from_millis(700))
            .shutdown_grace(Duration::from_secs(4))
            .per_ip_exempt("10.0.0.0/8".parse().unwrap())
            .request_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        assert_eq!(o.max_connections(), 7);
        assert_eq!(o.max_connections_per_ip(), 3);
        assert_eq!(o.header_read_timeout(), Duration::from_millis(1500));
        assert_eq!(o.tls_handshake_timeout, Duration::from_millis(700));
        assert_eq!(o.shutdown_grace, Duration::from_secs(4));
        assert!(o.per_ip_exempt.contains(ip("10.1.2.3")));
        assert!(!o.per_ip_exempt.contains(ip("192.0.2.1")));
        // The idle timeout follows the header-read timeout unless set; the request lifetime is
        // the request timeout plus the delivery grace.
        assert_eq!(o.idle_timeout(), Duration::from_millis(1500));
        assert_eq!(
            o.deadlines(),
            Deadlines {
                first: Duration::from_millis(1500),
                idle: Duration::from_millis(1500),
                request: Duration::from_secs(5) + RESPONSE_DELIVERY_GRACE,
            }
        );

        // Set before or after the header-read timeout, an explicit idle timeout wins.
        for o in [
            ServerOptions::builder()
                .idle_timeout(Duration::from_secs(9))
                .header_read_timeout(Duration::from_secs(2)),
            ServerOptions::builder()
                .header_read_timeout(Duration::from_secs(2))
                .idle_timeout(Duration::from_secs(9)),
        ] {
            let o = o.build().unwrap();
            assert_eq!(o.header_read_timeout(), Duration::from_secs(2));
            assert_eq!(o.idle_timeout(), Duration::from_secs(9));
            assert_eq!(o.deadlines().first, Duration::from_secs(2));
            assert_eq!(o.deadlines().idle, Duration::from_secs(9));
        }
        // A huge request timeout saturates instead of overflowing.
        let o = ServerOptions::builder()
            .request_timeout(Duration::MAX)
            .build()
            .unwrap();
        assert_eq!(o.deadlines().request, Duration::MAX);
    }

    #[test]
    fn the_h2_keep_alive_interval_is_half_the_idle_timeout_within_1_to_30_s() {
        let interval = |idle_ms: u64| {
            ServerOptions::builder()
                .idle_timeout(Duration::from_millis(idle_ms))
                .build()
                .unwrap()
                .keep_alive_interval()
        };
        assert_eq!(interval(10_000), Duration::from_secs(5));
        assert_eq!(interval(3_000), Duration::from_millis(1500));
        assert_eq!(interval(1_000), Duration::from_secs(1), "at least 1 s");
        assert_eq!(interval(1), Duration::from_secs(1), "at least 1 s");
        assert_eq!(interval(60_000), Duration::from_secs(30));
        assert_eq!(interval(600_000), Duration::from_secs(30), "at most 30 s");
        // The default: idle 10 s.
        assert_eq!(
            ServerOptions::default().keep_alive_interval(),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn per_ip_limit_counts_per_address_ipv6_per_64_and_exempts_trusted_proxies() {
        let limits = PerIpLimit::new(2, "10.0.0.1".parse().unwrap());
        let a1 = limits.admit(ip("192.0.2.1")).unwrap();
        let a2 = limits.admit(ip("::ffff:192.0.2.1")).unwrap();
        assert!(
            limits.admit(ip("192.0.2.1")).is_none(),
            "third from one IPv4 address"
        );
        assert!(
            limits.admit(ip("192.0.2.2")).is_some(),
            "another address has its own count"
        );
        drop(a1);
        let a3 = limits
            .admit(ip("192.0.2.1"))
            .expect("a closed connection frees its place");

        // One /64 is one client: the interface part does not buy fresh places.
        let _b1 = limits.admit(ip("2001:db8:1:2::1")).unwrap();
        let _b2 = limits.admit(ip("2001:db8:1:2:ffff::9")).unwrap();
        assert!(limits.admit(ip("2001:db8:1:2:abcd::1")).is_none());
        assert!(limits.admit(ip("2001:db8:1:3::1")).is_some());

        let proxies: Vec<_> = (0..10).map(|_| limits.admit(ip("10.0.0.1")).unwrap()).collect();
        assert_eq!(proxies.len(), 10);
        drop(proxies);
        // Entries are removed when their count returns to 0 (the map stays bounded).
        drop(a2);
        drop(a3);
        let open = limits.open.lock().unwrap();
        assert!(!open.contains_key(&ip("192.0.2.1")));
        assert!(!open.contains_key(&ip("10.0.0.1")));
    }

    #[test]
    fn the_default_per_address_cap_is_a_quarter_between_1_and_32() {
        for (max, cap) in [
            (1024, 32),
            (132, 32),
            (131, 32),
            (128, 32),
            (127, 31),
            (64, 16),
            (8, 2),
            (4, 1),
            (3, 1),
            (0, 1),
        ] {
            assert_eq!(default_max_connections_per_ip(max), cap, "max_connections {max}");
        }
    }
}
