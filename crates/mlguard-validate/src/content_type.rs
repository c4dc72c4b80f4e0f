//! The `Content-Type` and `Content-Encoding` checks (415).

use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};

/// True when `value` names JSON: `application/json` or `application/<anything>+json`, case
/// insensitive, with parameters allowed; a `charset` parameter, if any, must be UTF-8
/// (RFC 8259 section 8.1: JSON exchanged between systems is UTF-8).
///
/// ```
/// use mlguard_validate::content_type::is_json_media_type;
/// assert!(is_json_media_type("application/json"));
/// assert!(is_json_media_type("Application/JSON; charset=utf-8"));
/// assert!(is_json_media_type("application/merge-patch+json"));
/// assert!(!is_json_media_type("text/plain"));
/// assert!(!is_json_media_type("application/json; charset=utf-16"));
/// assert!(!is_json_media_type("application/jsonx"));
/// ```
pub fn is_json_media_type(value: &str) -> bool {
    let mut parts = value.split(';');
    // Compared without regard to ASCII case, in place (no lowercased copy per request).
    let essence = parts.next().unwrap_or_default().trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    let suffix = "+json".len();
    let subtype_ok = sub.eq_ignore_ascii_case("json")
        || (sub.len() > suffix && sub.as_bytes()[sub.len() - suffix..].eq_ignore_ascii_case(b"+json"));
    if !ty.eq_ignore_ascii_case("application") || !subtype_ok || sub.contains(char::is_whitespace) {
        return false;
    }
    parts.all(|param| match param.split_once('=') {
        Some((name, v)) if name.trim().eq_ignore_ascii_case("charset") => {
            let v = v.trim().trim_matches('"');
            v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    })
}

/// Why the headers were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    MediaType,
    Encoding,
}

/// Exactly one `Content-Type`, naming JSON; no `Content-Encoding` other than `identity`
/// (a decompression layer in front removes the header after decoding).
pub(crate) fn check_headers(headers: &HeaderMap) -> Result<(), HeaderProblem> {
    let mut types = headers.get_all(CONTENT_TYPE).iter();
    let ok = match (types.next(), types.next()) {
        (Some(v), None) => v.to_str().is_ok_and(is_json_media_type),
        _ => false,
    };
    if !ok {
        return Err(HeaderProblem::MediaType);
    }
    for v in headers.get_all(CONTENT_ENCODING) {
        let identity = v
            .to_str()
            .is_ok_and(|s| s.split(',').all(|c| c.trim().eq_ignore_ascii_case("identity")));
        if !identity {
            return Err(HeaderProblem::Encoding);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn media_types() {
        for ok in [
            "application/json",
            "application/problem+json",
            "application/json;charset=\"UTF-8\"",
            " application/json ",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "json",
            "text/json",
            "application/+json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json5",
            "application/ json",
            "text/html; x=application/json",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn header_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(check_headers(&h), Err(HeaderProblem::MediaType));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(check_headers(&h), Ok(()));
        h.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(
            check_headers(&h),
            Err(HeaderProblem::MediaType),
            "two Content-Type headers"
        );
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("identity"));
        assert_eq!(check_headers(&h), Ok(()));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(check_headers(&h), Err(HeaderProblem::Encoding));
    }
}
