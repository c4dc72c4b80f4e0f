//! Client IP resolution that cannot be spoofed through `X-Forwarded-For`.
//!
//! **What it protects against:** a client that sends its own `X-Forwarded-For` or `Forwarded`
//! header to pick a fresh rate-limit bucket, dodge an IP ban, or frame another address. The
//! forwarding headers are believed only when the TCP peer is a trusted proxy, and then only up to
//! the first hop that is not itself a trusted proxy: the rightmost untrusted address wins.
//!
//! | peer | header | resolved |
//! |---|---|---|
//! | untrusted `198.51.100.9` | `X-Forwarded-For: 1.2.3.4` (forged) | `198.51.100.9` |
//! | trusted `10.0.0.2` | `X-Forwarded-For: 1.2.3.4, 203.0.113.5` | `203.0.113.5` |
//! | trusted `10.0.0.2` | `X-Forwarded-For: 203.0.113.5, 10.0.0.3` (two proxies) | `203.0.113.5` |
//! | trusted `10.0.0.2` | `X-Forwarded-For: garbage` | `10.0.0.2` |
//!
//! Only one header is read, the one your proxy writes ([`ForwardedHeader`]); reading both would
//! let a client slip a forged value into the one the proxy passes through untouched.
//!
//! ```
//! use std::net::IpAddr;
//! use http::HeaderMap;
//! use mlguard_core::{ClientIpResolver, TrustedProxies};
//!
//! let resolver = ClientIpResolver::new()
//!     .with_trusted_proxies("10.0.0.0/8, 127.0.0.1".parse::<TrustedProxies>().unwrap());
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "1.1.1.1, 203.0.113.5".parse().unwrap());
//!
//! // Through our proxy: the address the proxy saw.
//! let via_proxy: IpAddr = "10.1.2.3".parse().unwrap();
//! assert_eq!(resolver.resolve(via_proxy, &headers), "203.0.113.5".parse::<IpAddr>().unwrap());
//!
//! // Straight from the internet with a forged header: the peer itself.
//! let direct: IpAddr = "198.51.100.9".parse().unwrap();
//! assert_eq!(resolver.resolve(direct, &headers), direct);
//! ```

mod layer;
mod parse;

pub use layer::{ClientIpLayer, ClientIpService};

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};
use ipnet::IpNet;
use parse::Hop;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// The resolved client address, written into request extensions by [`ClientIpLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The address aggregated for use as a rate-limit key: IPv6 addresses are cut to their
    /// first `v6_prefix` bits (a /64 is what one subscriber usually gets), IPv4 is kept whole.
    ///
    /// ```
    /// use mlguard_core::ClientIp;
    /// let ip = ClientIp("2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap());
    /// assert_eq!(ip.aggregated(64).to_string(), "2001:db8:1:2::");
    /// ```
    pub fn aggregated(self, v6_prefix: u8) -> IpAddr {
        aggregate(self.0, v6_prefix)
    }
}

/// The TCP peer address, for servers that are not axum (with axum, `ConnectInfo<SocketAddr>` is
/// read as well). Insert it into the request extensions in your accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// Cuts an IPv6 address to its first `v6_prefix` bits (at most 128); IPv4 is returned unchanged.
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as the IPv4 address.
///
/// ```
/// use std::net::IpAddr;
/// use mlguard_core::client_ip::aggregate;
/// let v6: IpAddr = "2001:db8::1".parse().unwrap();
/// assert_eq!(aggregate(v6, 48).to_string(), "2001:db8::");
/// let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
/// assert_eq!(aggregate(mapped, 64).to_string(), "192.0.2.1");
/// ```
pub fn aggregate(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let prefix = u32::from(v6_prefix.min(128));
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4; everything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Errors from parsing configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIpConfigError {
    /// An entry of a trusted-proxy list is neither an IP address nor a CIDR.
    #[error("not an IP address or CIDR: {0:?}")]
    BadCidr(String),
}

/// A list of networks whose forwarding headers are believed.
///
/// Parses from a comma-separated list of CIDRs or bare addresses (`"10.0.0.0/8, ::1"`).
///
/// ```
/// use mlguard_core::TrustedProxies;
/// let t: TrustedProxies = "10.0.0.0/8,192.168.1.1, fd00::/8".parse().unwrap();
/// assert!(t.contains("10.9.8.7".parse().unwrap()));
/// assert!(!t.contains("11.0.0.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
}

impl TrustedProxies {
    /// No trusted proxies: the peer address is always the client address.
    pub fn none() -> Self {
        Self::default()
    }

    /// From a list of networks.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            nets: nets.into_iter().collect(),
        }
    }

    /// Whether `ip` is inside one of the networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.nets.iter().map(ToString::to_string))
            .finish()
    }
}

impl FromStr for TrustedProxies {
    type Err = ClientIpConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut nets = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = match part.parse::<IpNet>() {
                Ok(n) => n.trunc(),
                Err(_) => match part.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(canonical(ip)),
                    Err(_) => return Err(ClientIpConfigError::BadCidr(part.to_owned())),
                },
            };
            nets.push(net);
        }
        Ok(Self::new(nets))
    }
}

/// Which forwarding header the trusted proxies write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, HAProxy, most load balancers). The default.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239), its `for=` parameters.
    Forwarded,
}

impl ForwardedHeader {
    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => FORWARDED,
        }
    }
}

/// Resolves the client address from the peer address and the forwarding header.
///
/// Cheap to clone. See the [module docs](self) for the rules and an example.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientIpResolver {
    trusted: TrustedProxies,
    header: ForwardedHeader,
}

impl ClientIpResolver {
    /// A resolver that trusts no proxy: the peer address is the client address.
    pub fn new() -> Self {
        Self::default()
    }

    /// Believes forwarding headers from peers in `trusted`.
    pub fn with_trusted_proxies(mut self, trusted: TrustedProxies) -> Self {
        self.trusted = trusted;
        self
    }

    /// Reads `header` (default `X-Forwarded-For`).
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The trusted proxies.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// The client address for a request from `peer` with `headers`.
    ///
    /// IPv4-mapped IPv6 addresses come back as IPv4, so one client has one key either way.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted.contains(peer) {
            return peer;
        }
        let name = self.header.name();
        let mut hops: Vec<Hop> = Vec::new();
        for value in headers.get_all(&name) {
            match self.header {
                ForwardedHeader::XForwardedFor => hops.extend(parse::x_forwarded_for(value.as_bytes())),
                ForwardedHeader::Forwarded => hops.extend(parse::forwarded(value.as_bytes())),
            }
        }
        let mut current = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Hop::Ip(ip) => {
                    let ip = canonical(ip);
                    if !self.trusted.contains(ip) {
                        return ip;
                    }
                    current = ip;
                }
                // Nothing left of a hop we cannot read can be trusted: the nearest known hop wins.
                Hop::Unusable => return current,
            }
        }
        current
    }

    /// The client address of a request: a [`ClientIp`] already in its extensions, or else the
    /// peer from [`PeerAddr`] (or axum's `ConnectInfo<SocketAddr>` with the `axum` feature)
    /// resolved with [`resolve`](Self::resolve). `None` when the peer address is unknown.
    ///
    /// ```
    /// use mlguard_core::{ClientIp, ClientIpResolver, PeerAddr};
    /// let mut req = http::Request::new(());
    /// req.extensions_mut().insert(PeerAddr("192.0.2.1:5555".parse().unwrap()));
    /// let ip = ClientIpResolver::new().resolve_request(&req);
    /// assert_eq!(ip, Some(ClientIp("192.0.2.1".parse().unwrap())));
    /// ```
    pub fn resolve_request<B>(&self, request: &http::Request<B>) -> Option<ClientIp> {
        let ext = request.extensions();
        if let Some(ip) = ext.get::<ClientIp>() {
            return Some(*ip);
        }
        let peer = peer_addr(ext)?;
        Some(ClientIp(self.resolve(peer.ip(), request.headers())))
    }
}

/// The TCP peer address found in request extensions.
pub fn peer_addr(ext: &http::Extensions) -> Option<SocketAddr> {
    if let Some(PeerAddr(addr)) = ext.get::<PeerAddr>() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) = ext.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(*addr);
    }
    None
}

#[cfg(test)]
mod tests;
