use super::*;
use http::HeaderValue;
use proptest::prelude::*;

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

proptest! {
    #[test]
    fn untrusted_peer_always_wins(value in "\\PC{0,200}", peer in any::<[u8; 4]>()) {
        let peer = IpAddr::from([11, peer[1], peer[2], peer[3]]);
        let r = resolver("10.0.0.0/8");
        if let Ok(v) = HeaderValue::from_str(&value) {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", v.clone());
            h.insert("forwarded", v);
            prop_assert_eq!(r.resolve(peer, &h), peer);
            prop_assert_eq!(r.clone().with_header(ForwardedHeader::Forwarded).resolve(peer, &h), peer);
        }
    }

    #[test]
    fn parsers_never_panic_and_stay_in_the_chain(value in proptest::collection::vec(any::<u8>(), 0..300)) {
        let r = resolver("0.0.0.0/0, ::/0");
        if let Ok(v) = HeaderValue::from_bytes(&value) {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", v.clone());
            h.insert("forwarded", v);
            let _ = r.resolve(ip("10.0.0.1"), &h);
            let _ = r.clone().with_header(ForwardedHeader::Forwarded).resolve(ip("10.0.0.1"), &h);
        }
    }

    #[test]
    fn resolved_address_is_the_peer_or_in_the_header(hops in proptest::collection::vec(any::<[u8; 4]>(), 0..6)) {
        let list: Vec<String> = hops.iter().map(|o| IpAddr::from(*o).to_string()).collect();
        let h = headers("x-forwarded-for", &[&list.join(", ")]);
        let got = resolver("10.0.0.0/8").resolve(ip("10.0.0.1"), &h);
        prop_assert!(got == ip("10.0.0.1") || list.contains(&got.to_string()));
    }
}
