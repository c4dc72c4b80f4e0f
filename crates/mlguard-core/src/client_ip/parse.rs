//! Parsers for `X-Forwarded-For` and `Forwarded` (RFC 7239) header values.
//!
//! Both return the hops in header order (leftmost first). A hop that is not an IP address
//! (garbage, an empty list element, RFC 7239's `unknown` or an obfuscated `_name`) is an `Err`
//! in its place, so the resolver knows exactly where the trustworthy part of the chain ends.

use std::net::{IpAddr, SocketAddr};

/// Why one hop of a forwarding header could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hop {
    /// An IP address.
    Ip(IpAddr),
    /// Anything else: malformed, empty, `unknown`, obfuscated, or a missing `for=`.
    Unusable,
}

/// Parses one `X-Forwarded-For` node: an IP, optionally with a port (`1.2.3.4:80`, `[::1]:80`).
pub(crate) fn parse_node(s: &str) -> Hop {
    let s = s.trim_matches([' ', '\t']);
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Hop::Ip(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Hop::Ip(sa.ip());
    }
    // `[2001:db8::1]` without a port.
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
        && let Ok(ip) = inner.parse::<std::net::Ipv6Addr>()
    {
        return Hop::Ip(IpAddr::V6(ip));
    }
    Hop::Unusable
}

/// The hops of one `X-Forwarded-For` field value, leftmost first.
pub(crate) fn x_forwarded_for(value: &[u8]) -> Vec<Hop> {
    let Ok(value) = std::str::from_utf8(value) else {
        return vec![Hop::Unusable];
    };
    value.split(',').map(parse_node).collect()
}

/// The `for=` hops of one `Forwarded` field value, leftmost first.
pub(crate) fn forwarded(value: &[u8]) -> Vec<Hop> {
    let Ok(value) = std::str::from_utf8(value) else {
        return vec![Hop::Unusable];
    };
    let mut hops = Vec::new();
    let mut rest = value;
    loop {
        let (element, next) = split_top_level(rest, ',');
        hops.push(element_for(element));
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    hops
}

/// The `for` parameter of one forwarded-element.
fn element_for(element: &str) -> Hop {
    let mut rest = element;
    let mut found = Hop::Unusable;
    let mut seen_for = false;
    loop {
        let (pair, next) = split_top_level(rest, ';');
        let pair = pair.trim_matches([' ', '\t']);
        if !pair.is_empty() {
            let Some((name, raw)) = pair.split_once('=') else {
                return Hop::Unusable;
            };
            if name.trim_matches([' ', '\t']).eq_ignore_ascii_case("for") {
                if seen_for {
                    // A duplicated parameter makes the element ambiguous (RFC 7239 section 4).
                    return Hop::Unusable;
                }
                seen_for = true;
                found = match unquote(raw.trim_matches([' ', '\t'])) {
                    Some(v) => parse_node(&v),
                    None => Hop::Unusable,
                };
            }
        }
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    found
}

/// A token or a quoted-string, unescaped; `None` when the quoting is broken.
fn unquote(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return if raw.contains('"') || raw.contains('\\') {
            None
        } else {
            Some(raw.to_owned())
        };
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.next().is_none().then_some(out),
            c => out.push(c),
        }
    }
    None // no closing quote
}

/// Splits at the first `sep` outside a quoted string.
fn split_top_level(s: &str, sep: char) -> (&str, Option<&str>) {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == sep && !in_quotes => return (&s[..i], Some(&s[i + c.len_utf8()..])),
            _ => {}
        }
    }
    (s, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Hop {
        Hop::Ip(s.parse().unwrap())
    }

    #[test]
    fn xff_nodes_with_and_without_ports() {
        assert_eq!(
            x_forwarded_for(b"203.0.113.7, 10.0.0.1:8080,[2001:db8::1]:443 , 2001:db8::2,[::1]"),
            vec![
                ip("203.0.113.7"),
                ip("10.0.0.1"),
                ip("2001:db8::1"),
                ip("2001:db8::2"),
                ip("::1")
            ]
        );
    }

    #[test]
    fn xff_garbage_and_empty_elements_are_unusable() {
        assert_eq!(
            x_forwarded_for(b"evil, ,1.2.3.4,999.1.1.1"),
            vec![Hop::Unusable, Hop::Unusable, ip("1.2.3.4"), Hop::Unusable]
        );
        assert_eq!(x_forwarded_for(b"\xff\xfe"), vec![Hop::Unusable]);
    }

    #[test]
    fn forwarded_rfc7239_examples() {
        // RFC 7239 section 4 examples.
        assert_eq!(forwarded(br#"for="_gazonk""#), vec![Hop::Unusable]);
        assert_eq!(
            forwarded(br#"For="[2001:db8:cafe::17]:4711""#),
            vec![ip("2001:db8:cafe::17")]
        );
        assert_eq!(
            forwarded(b"for=192.0.2.60;proto=http;by=203.0.113.43"),
            vec![ip("192.0.2.60")]
        );
        assert_eq!(
            forwarded(b"for=192.0.2.43, for=198.51.100.17"),
            vec![ip("192.0.2.43"), ip("198.51.100.17")]
        );
        assert_eq!(forwarded(b"for=unknown"), vec![Hop::Unusable]);
    }

    #[test]
    fn backslash_escapes_only_inside_quotes() {
        // Inside quotes, `\"` does not end the string: the comma after it is not a separator.
        assert_eq!(
            forwarded(br#"by="x\",y";for=198.51.100.1"#),
            vec![ip("198.51.100.1")]
        );
        // Outside quotes a backslash escapes nothing: the comma still separates two hops.
        assert_eq!(
            forwarded(br"for=1.2.3.4\, for=5.6.7.8"),
            vec![Hop::Unusable, ip("5.6.7.8")]
        );
    }

    #[test]
    fn unquoted_values_with_a_quote_or_a_backslash_are_refused() {
        // Either character alone makes an unquoted value malformed (RFC 7230 token).
        assert_eq!(unquote("1.2.3.4"), Some("1.2.3.4".to_owned()));
        assert_eq!(unquote(r"1.2\.3.4"), None);
        assert_eq!(unquote(r#"1.2"3.4"#), None);
        assert_eq!(unquote(r#""1.2\.3.4""#), Some("1.2.3.4".to_owned()));
    }

    #[test]
    fn forwarded_quoting_and_separators_inside_quotes() {
        assert_eq!(
            forwarded(br#"by="a,b;c";for="198.51.100.1:80", for=198.51.100.2"#),
            vec![ip("198.51.100.1"), ip("198.51.100.2")]
        );
        assert_eq!(forwarded(br#"for="198.51.100.1"#), vec![Hop::Unusable]); // unterminated
        assert_eq!(forwarded(b"proto=https"), vec![Hop::Unusable]); // no for=
        assert_eq!(forwarded(b"for=1.2.3.4;for=5.6.7.8"), vec![Hop::Unusable]); // duplicate
        assert_eq!(forwarded(b"for"), vec![Hop::Unusable]);
        assert_eq!(forwarded(br#"for=1.2.3.4"x"#), vec![Hop::Unusable]);
    }
}
