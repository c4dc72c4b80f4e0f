use super::*;
use http::HeaderValue;
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn headers(name: &str, values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn resolver(trusted: &str) -> ClientIpResolver {
    ClientIpResolver::new().with_trusted_proxies(trusted.parse().unwrap())
}

#[test]
fn no_header_gives_the_peer() {
    let r = resolver("10.0.0.0/8");
    assert_eq!(r.resolve(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    assert_eq!(r.resolve(ip("8.8.8.8"), &HeaderMap::new()), ip("8.8.8.8"));
}

#[test]
fn spoofed_header_from_an_untrusted_peer_is_ignored() {
    let r = resolver("10.0.0.0/8");
    let h = headers("x-forwarded-for", &["1.2.3.4"]);
    assert_eq!(r.resolve(ip("198.51.100.9"), &h), ip("198.51.100.9"));
    // With no trusted proxies at all, never read.
    assert_eq!(
        ClientIpResolver::new().resolve(ip("10.0.0.1"), &h),
        ip("10.0.0.1")
    );
    // Same for Forwarded.
    let rf = resolver("10.0.0.0/8").with_header(ForwardedHeader::Forwarded);
    let hf = headers("forwarded", &["for=1.2.3.4"]);
    assert_eq!(rf.resolve(ip("198.51.100.9"), &hf), ip("198.51.100.9"));
}

#[test]
fn spoofed_left_end_behind_a_trusted_proxy_is_ignored() {
    // The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended what it saw.
    let r = resolver("10.0.0.0/8");
    let h = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.5"]);
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("203.0.113.5"));
}

#[test]
fn chained_trusted_proxies_are_skipped() {
    let r = resolver("10.0.0.0/8, 192.168.0.0/16");
    let h = headers(
        "x-forwarded-for",
        &["9.9.9.9, 203.0.113.5, 192.168.1.1, 10.0.0.3"],
    );
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("203.0.113.5"));
    // Split over several header lines: order is kept across lines.
    let h = headers(
        "x-forwarded-for",
        &["9.9.9.9, 203.0.113.5", "192.168.1.1", "10.0.0.3"],
    );
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("203.0.113.5"));
}

#[test]
fn all_hops_trusted_gives_the_leftmost() {
    let r = resolver("10.0.0.0/8");
    let h = headers("x-forwarded-for", &["10.0.0.7, 10.0.0.3"]);
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("10.0.0.7"));
}

#[test]
fn malformed_headers_stop_at_the_nearest_known_hop() {
    let r = resolver("10.0.0.0/8");
    for bad in [
        "garbage",
        "",
        " , ",
        "1.2.3.4.5",
        "unknown",
        "1.2.3.4 5.6.7.8",
        "::ffff::1::",
    ] {
        let h = headers("x-forwarded-for", &[bad]);
        assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("10.0.0.2"), "value {bad:?}");
    }
    // Garbage behind a trusted hop: that hop.
    let h = headers("x-forwarded-for", &["203.0.113.5, junk, 10.0.0.9"]);
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("10.0.0.9"));
    // Garbage left of the client address does not matter.
    let h = headers("x-forwarded-for", &["junk, 203.0.113.5"]);
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("203.0.113.5"));
    // Non-UTF-8 bytes.
    let mut h = HeaderMap::new();
    h.insert(
        "x-forwarded-for",
        HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap(),
    );
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("10.0.0.2"));
}

#[test]
fn forwarded_header_rfc7239() {
    let r = resolver("10.0.0.0/8").with_header(ForwardedHeader::Forwarded);
    let h = headers(
        "forwarded",
        &[r#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https, for=10.0.0.3"#],
    );
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("2001:db8:cafe::17"));
    let h = headers("forwarded", &["for=_hidden, for=10.0.0.3"]);
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("10.0.0.3"));
    // The resolver reads only the configured header: an X-Forwarded-For is ignored here.
    let h = headers("x-forwarded-for", &["203.0.113.5"]);
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("10.0.0.2"));
}

#[test]
fn only_the_configured_header_is_read() {
    let r = resolver("10.0.0.0/8");
    let h = headers("forwarded", &["for=203.0.113.5"]);
    assert_eq!(r.resolve(ip("10.0.0.2"), &h), ip("10.0.0.2"));
}

#[test]
fn ipv4_mapped_addresses_are_canonical() {
    let r = resolver("10.0.0.0/8");
    let h = headers("x-forwarded-for", &["::ffff:203.0.113.5"]);
    assert_eq!(r.resolve(ip("::ffff:10.0.0.2"), &h), ip("203.0.113.5"));
    assert_eq!(
        ClientIpResolver::new().resolve(ip("::ffff:192.0.2.1"), &HeaderMap::new()),
        ip("192.0.2.1")
    );
}

#[test]
fn ipv6_prefix_aggregation() {
    let a = ClientIp(ip("2001:db8:1:2:3:4:5:6"));
    let b = ClientIp(ip("2001:db8:1:2:ffff::"));
    assert_eq!(a.aggregated(64), b.aggregated(64));
    assert_ne!(a.aggregated(128), b.aggregated(128));
    assert_eq!(a.aggregated(0), ip("::"));
    assert_eq!(a.aggregated(200), a.0);
    assert_eq!(ClientIp(ip("192.0.2.1")).aggregated(64), ip("192.0.2.1"));
}

#[test]
fn trusted_proxy_list_parsing() {
    let t: TrustedProxies = " 10.0.0.0/8 , ::1,192.168.1.7/24 ".parse().unwrap();
    assert_eq!(t.networks().len(), 3);
    assert!(!t.is_empty());
    // Debug lists the networks, truncated to their prefix, in the order given.
    assert_eq!(format!("{t:?}"), r#"["10.0.0.0/8", "::1/128", "192.168.1.0/24"]"#);
    assert!(t.contains(ip("192.168.1.200")));
    assert!(t.contains(ip("::1")));
    assert!("".parse::<TrustedProxies>().unwrap().is_empty());
    for bad in ["10.0.0.0/8,nope", "1.2.3.4/40", "::1/129", "10.0.0.0/"] {
        assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
    }
}

#[test]
fn resolve_request_prefers_an_existing_client_ip() {
    let mut req = http::Request::new(());
    req.extensions_mut()
        .insert(PeerAddr("10.0.0.2:1".parse().unwrap()));
    req.extensions_mut().insert(ClientIp(ip("192.0.2.55")));
    assert_eq!(
        resolver("10.0.0.0/8").resolve_request(&req),
        Some(ClientIp(ip("192.0.2.55")))
    );
    assert_eq!(
        ClientIpResolver::new().resolve_request(&http::Request::new(())),
        None
    );
}

#[test]
fn resolve_request_reads_the_peer_from_the_extensions() {
    let r = resolver("10.0.0.0/8");
    assert!(r.trusted_proxies().contains(ip("10.1.2.3")));
    let mut req = http::Request::builder()
        .header("x-forwarded-for", "203.0.113.5")
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(PeerAddr("10.0.0.2:1".parse().unwrap()));
    assert_eq!(r.resolve_request(&req), Some(ClientIp(ip("203.0.113.5"))));
    assert_eq!(peer_addr(req.extensions()), Some("10.0.0.2:1".parse().unwrap()));
    #[cfg(feature = "axum")]
    {
        let mut req = http::Request::new(());
        req.extensions_mut().insert(axum::extract::ConnectInfo(
            "192.0.2.7:9".parse::<std::net::SocketAddr>().unwrap(),
        ));
        assert_eq!(r.resolve_request(&req), Some(ClientIp(ip("192.0.2.7"))));
    }
}

/// An inner service that is never ready.
#[derive(Clone)]
struct NeverReady;

impl tower_service::Service<http::Request<()>> for NeverReady {
    type Response = ();
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<(), std::convert::Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Pending
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(()))
    }
}

#[test]
fn the_service_is_ready_only_when_its_inner_service_is() {
    use tower_layer::Layer as _;
    use tower_service::Service as _;
    let mut svc = ClientIpLayer::new(resolver("10.0.0.0/8")).layer(NeverReady);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(svc.poll_ready(&mut cx).is_pending());
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_axum_extractor_returns_the_layers_address_or_a_500() {
    use axum::extract::FromRequestParts as _;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.extensions.insert(ClientIp(ip("192.0.2.55")));
    assert_eq!(
        ClientIp::from_request_parts(&mut parts, &()).await.unwrap(),
        ClientIp(ip("192.0.2.55"))
    );
    // Without the layer: a loud server error naming the cause, not a made-up address.
    let (mut parts, ()) = http::Request::new(()).into_parts();
    let problem = ClientIp::from_request_parts(&mut parts, &()).await.unwrap_err();
    let response = axum::response::IntoResponse::into_response(problem);
    assert_eq!(response.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
}

/// A hop for the generated chains: its address, and whether the test's
/// resolver (`TRUSTED`) trusts it.
fn hop() -> impl Strategy<Value = (IpAddr, bool)> {
    prop_oneof![
        // Trusted proxies, v4 and v6.
        any::<[u8; 3]>().prop_map(|o| (IpAddr::from([10, o[0], o[1], o[2]]), true)),
        any::<u16>().prop_map(|x| (IpAddr::from(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, x)), true)),
        // Public addresses (never in TRUSTED), v4, v6 and v4-mapped v6.
        any::<[u8; 3]>().prop_map(|o| (IpAddr::from([203, o[0], o[1], o[2]]), false)),
        any::<u16>().prop_map(|x| (
            IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, x)),
            false
        )),
        any::<[u8; 2]>().prop_map(|o| (
            IpAddr::from(Ipv4Addr::new(198, 51, o[0], o[1]).to_ipv6_mapped()),
            false
        )),
    ]
}

const TRUSTED: &str = "10.0.0.0/8, fd00::/8";

/// One hop as a proxy writes it: optionally with a port, in either header's syntax.
fn render(ip: IpAddr, port: Option<u16>, forwarded: bool) -> String {
    let node = match (ip, port) {
        (IpAddr::V4(v4), Some(p)) => format!("{v4}:{p}"),
        (IpAddr::V6(v6), Some(p)) => format!("[{v6}]:{p}"),
        (ip, None) => ip.to_string(),
    };
    if !forwarded {
        node
    } else if node.contains(':') {
        format!("for=\"{node}\";proto=https")
    } else {
        format!("for={node}")
    }
}

/// The resolved address, spelled out from the chain instead of parsed: walking
/// from the peer leftwards, the first hop the resolver does not trust; the
/// leftmost hop if all are trusted; the peer if there is none.
fn rightmost_untrusted(peer: IpAddr, chain: &[(IpAddr, bool)]) -> IpAddr {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    chain
        .iter()
        .rev()
        .find(|(_, trusted)| !trusted)
        .or(chain.first())
        .map_or(peer, |(ip, _)| canonical(*ip))
}

/// Text for header values: printable ASCII (so every value is a valid
/// `HeaderValue`). A list of elements, most of them nodes as either header
/// writes them (so the resolver often walks into the header), the rest
/// fragments weighted towards the characters both parsers act on.
fn header_text() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        3 => Just(",".to_owned()),
        2 => Just(";".to_owned()),
        2 => Just("for=".to_owned()),
        2 => Just("\"".to_owned()),
        1 => Just("\\".to_owned()),
        1 => Just(" ".to_owned()),
        1 => Just("[".to_owned()),
        1 => Just("]".to_owned()),
        1 => Just(":".to_owned()),
        4 => any::<[u8; 4]>().prop_map(|o| IpAddr::from(o).to_string()),
        2 => any::<[u16; 8]>().prop_map(|s| IpAddr::from(s).to_string()),
        2 => "[ -~]{1,4}",
    ];
    let node = (hop(), proptest::option::of(any::<u16>()), any::<bool>())
        .prop_map(|((ip, _), port, forwarded)| render(ip, port, forwarded));
    let element = prop_oneof![
        3 => node,
        2 => proptest::collection::vec(fragment, 1..6).prop_map(|p| p.concat()),
    ];
    let separator = prop_oneof![Just(","), Just(", "), Just(" , "), Just(";")];
    proptest::collection::vec((element, separator), 0..8).prop_map(|parts| {
        parts
            .into_iter()
            .enumerate()
            .map(|(i, (e, sep))| if i == 0 { e } else { format!("{sep}{e}") })
            .collect()
    })
}

/// Every address a header value could name, read leniently: the text split at
/// the separators both parsers use, with and without quoting backslashes.
fn addresses_in(text: &str) -> Vec<IpAddr> {
    let unescaped = text.replace('\\', "");
    let mut found = Vec::new();
    for t in [text, unescaped.as_str()] {
        for token in t.split([',', ';', '=', '"', ' ', '\t', '\\']) {
            let token = token.trim();
            let inner = token.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
            if let Some(ip) = token
                .parse::<IpAddr>()
                .ok()
                .or_else(|| token.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
                .or_else(|| inner.and_then(|i| i.parse::<IpAddr>().ok()))
            {
                found.push(ip);
                if let IpAddr::V6(v6) = ip
                    && let Some(v4) = v6.to_ipv4_mapped()
                {
                    found.push(IpAddr::V4(v4));
                }
            }
        }
    }
    found
}

// How often the assertions bite (measured once with counters over the default
// 256 cases per property; figures vary a little with the seed):
// - untrusted_peer_always_wins: every case builds valid header values and
//   asserts (100%), half of them on well-formed chains of trusted and public hops.
// - parsers_stay_in_the_chain: every case asserts for both headers (100%);
//   about 20% of the resolutions (100 of 512) return an address read from the
//   header rather than the peer.
// - resolved_address_is_exactly_the_rightmost_untrusted_hop: every case
//   asserts (100%); about 69% (177 of 256) of the chains contain a trusted hop,
//   53% (136) two or more untrusted hops, where the leftmost, spoofable entry is
//   the wrong answer, and 87% (223) resolve to a header hop, not the peer.
proptest! {
    #[test]
    fn untrusted_peer_always_wins(
        value in prop_oneof![header_text(), "[ -~]{0,200}"],
        chain in proptest::collection::vec(hop(), 0..6),
        ports in proptest::collection::vec(proptest::option::of(any::<u16>()), 6),
        peer in any::<[u8; 3]>(),
    ) {
        // A peer outside every trusted network, whatever the headers say:
        // random text, or a well-formed chain naming trusted and public hops.
        let peer = IpAddr::from([11, peer[0], peer[1], peer[2]]);
        let r = resolver(TRUSTED);
        let xff: Vec<String> = chain.iter().zip(&ports).map(|((ip, _), p)| render(*ip, *p, false)).collect();
        let fwd: Vec<String> = chain.iter().zip(&ports).map(|((ip, _), p)| render(*ip, *p, true)).collect();
        for (x, f) in [(value.clone(), value), (xff.join(", "), fwd.join(", "))] {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", HeaderValue::from_str(&x).unwrap());
            h.insert("forwarded", HeaderValue::from_str(&f).unwrap());
            prop_assert_eq!(r.resolve(peer, &h), peer);
            prop_assert_eq!(r.clone().with_header(ForwardedHeader::Forwarded).resolve(peer, &h), peer);
        }
    }

    #[test]
    fn parsers_stay_in_the_chain(value in header_text()) {
        // Trusting everything, the resolver walks as far left as it can read:
        // whatever it returns is the peer or an address written in the header.
        let peer = ip("10.0.0.1");
        let r = resolver("0.0.0.0/0, ::/0");
        let v = HeaderValue::from_str(&value).unwrap();
        let named = addresses_in(&value);
        for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", v.clone());
            h.insert("forwarded", v.clone());
            let got = r.clone().with_header(header).resolve(peer, &h);
            prop_assert!(got == peer || named.contains(&got), "{:?} resolved {} from {:?}", header, got, value);
        }
    }

    #[test]
    fn resolved_address_is_exactly_the_rightmost_untrusted_hop(
        chain in proptest::collection::vec(hop(), 0..7),
        ports in proptest::collection::vec(proptest::option::of(any::<u16>()), 7),
        lines in 1usize..4,
        peer in any::<[u8; 3]>(),
    ) {
        // The peer is a trusted proxy; the chain, written by proxies, mixes
        // trusted and public hops and may be split over several header lines.
        let peer = IpAddr::from([10, peer[0], peer[1], peer[2]]);
        let expected = rightmost_untrusted(peer, &chain);
        for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let forwarded = header == ForwardedHeader::Forwarded;
            let rendered: Vec<String> = chain.iter().zip(&ports).map(|((ip, _), p)| render(*ip, *p, forwarded)).collect();
            let mut h = HeaderMap::new();
            let per_line = rendered.len().div_ceil(lines).max(1);
            for line in rendered.chunks(per_line) {
                h.append(header.name(), HeaderValue::from_str(&line.join(", ")).unwrap());
            }
            let got = resolver(TRUSTED).with_header(header).resolve(peer, &h);
            prop_assert_eq!(got, expected, "{:?} {:?}", header, rendered);
        }
    }
}
