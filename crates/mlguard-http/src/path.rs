//! Path canonicalization before routing, so a route's requirements cannot be skipped by
//! spelling its path differently.
//!
//! The policy (**normalize, then route**; refuse what is ambiguous):
//!
//! - runs of `/` collapse to one: `//predict` is `/predict`;
//! - percent-encoded *unreserved* characters (`A-Z a-z 0-9 - . _ ~`) are decoded, as RFC 3986
//!   section 6.2.2.2 says they are equivalent: `/%70redict` is `/predict`; other escapes are kept,
//!   with upper-case hex;
//! - refused with 400: dot segments (`/./`, `/../`, also encoded as `%2e`), encoded `/` or `\`
//!   (`%2F`, `%5C`), a raw `\`, encoded NUL or control characters, malformed escapes, and paths
//!   that do not start with `/`.
//!
//! A trailing `/` is kept: `/encrypt/` and `/encrypt` are separate routes (both exist).
//! The rewritten request reaches the router, so `//predict` gets exactly `/predict`'s
//! authentication, rate limit and permission check.

use http::uri::{PathAndQuery, Uri};
use http::{Request, Response};
use mlguard_core::{Problem, ResponseBody};
use std::borrow::Cow;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Not starting with `/`.
    #[error("the path must start with '/'")]
    NotAbsolute,
    /// A `.` or `..` segment.
    #[error("dot segments are not allowed in paths")]
    DotSegment,
    /// `%2F`, `%5C` or a raw `\`.
    #[error("encoded slashes and backslashes are not allowed in paths")]
    EncodedSeparator,
    /// `%00`-`%1F`, `%7F`.
    #[error("control characters are not allowed in paths")]
    ControlCharacter,
    /// `%` not followed by two hex digits.
    #[error("malformed percent-encoding in the path")]
    BadEscape,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// One segment with unreserved escapes decoded and other escapes upper-cased.
fn canonical_segment(seg: &str) -> Result<String, PathError> {
    let bytes = seg.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            return Err(PathError::EncodedSeparator);
        }
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let (Some(h), Some(l)) = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) else {
            return Err(PathError::BadEscape);
        };
        let v = h * 16 + l;
        match v {
            b'/' | b'\\' => return Err(PathError::EncodedSeparator),
            0..=0x1f | 0x7f => return Err(PathError::ControlCharacter),
            v if is_unreserved(v) => out.push(v),
            v => out.extend_from_slice(format!("%{v:02X}").as_bytes()),
        }
        i += 3;
    }
    // Only ASCII was added to the input's own bytes, so UTF-8 input stays UTF-8.
    String::from_utf8(out).map_err(|_| PathError::BadEscape)
}

/// The canonical form of a request path (see the [module docs](self)); borrowed when unchanged.
///
/// ```
/// use mlguard_http::path::canonical_path;
/// assert_eq!(canonical_path("//predict").unwrap(), "/predict");
/// assert_eq!(canonical_path("/%70redict").unwrap(), "/predict");
/// assert_eq!(canonical_path("/encrypt/").unwrap(), "/encrypt/");
/// assert!(canonical_path("/x/../predict").is_err());
/// assert!(canonical_path("/predict%2f..").is_err());
/// ```
///
/// # Errors
/// [`PathError`] for paths refused outright.
pub fn canonical_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let trailing = path.len() > 1 && path.ends_with('/');
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let seg = canonical_segment(seg)?;
        if seg == "." || seg == ".." {
            return Err(PathError::DotSegment);
        }
        out.push('/');
        out.push_str(&seg);
    }
    if out.is_empty() || (trailing && !out.ends_with('/')) {
        out.push('/');
    }
    Ok(if out == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(out)
    })
}

/// Rewrites each request's path to its canonical form, or answers 400; see the
/// [module docs](self). Put it *outside* the router (routing happens on the rewritten path).
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct CanonicalPathLayer;

impl CanonicalPathLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for CanonicalPathLayer {
    type Service = CanonicalPath<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CanonicalPath { inner }
    }
}

/// The service of [`CanonicalPathLayer`].
#[derive(Debug, Clone)]
pub struct CanonicalPath<S> {
    inner: S,
}

fn rewrite(uri: &Uri, path: &str) -> Option<Uri> {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(pq).ok()?);
    Uri::from_parts(parts).ok()
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for CanonicalPath<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = mlguard_core::ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let canonical = match canonical_path(req.uri().path()) {
            Ok(Cow::Borrowed(_)) => None,
            Ok(Cow::Owned(p)) => Some(p),
            Err(e) => {
                metrics::counter!(crate::metric_names::PATH_REFUSED).increment(1);
                return mlguard_core::ResponseFuture::reject(Problem::bad_request(e.to_string()));
            }
        };
        if let Some(path) = canonical {
            match rewrite(req.uri(), &path) {
                Some(uri) => {
                    tracing::debug!(from = req.uri().path(), to = %path, "path canonicalized");
                    *req.uri_mut() = uri;
                }
                None => return mlguard_core::ResponseFuture::reject(Problem::bad_request("invalid path")),
            }
        }
        mlguard_core::ResponseFuture::inner(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let ok = [
            ("/", "/"),
            ("//", "/"),
            ("/predict", "/predict"),
            ("//predict", "/predict"),
            ("/predict//batch", "/predict/batch"),
            ("/%70redict", "/predict"),
            ("/%70%72%65%64%69%63%74", "/predict"),
            ("/a%7e", "/a~"),
            ("/a%3a", "/a%3A"),
            ("/encrypt/", "/encrypt/"),
            ("/encrypt//", "/encrypt/"),
        ];
        for (input, want) in ok {
            assert_eq!(canonical_path(input).unwrap(), want, "{input}");
        }
        let bad = [
            ("predict", PathError::NotAbsolute),
            ("/../predict", PathError::DotSegment),
            ("/./predict", PathError::DotSegment),
            ("/%2e%2e/predict", PathError::DotSegment),
            ("/%2E/predict", PathError::DotSegment),
            ("/a%2fb", PathError::EncodedSeparator),
            ("/a%5Cb", PathError::EncodedSeparator),
            ("/a\\b", PathError::EncodedSeparator),
            ("/a%00", PathError::ControlCharacter),
            ("/a%0a", PathError::ControlCharacter),
            ("/a%", PathError::BadEscape),
            ("/a%g0", PathError::BadEscape),
        ];
        for (input, want) in bad {
            assert_eq!(canonical_path(input).unwrap_err(), want, "{input}");
        }
    }

    #[test]
    fn rewrite_keeps_the_query() {
        let uri: Uri = "https://h//%70redict?x=1".parse().unwrap();
        let p = canonical_path(uri.path()).unwrap();
        assert_eq!(rewrite(&uri, &p).unwrap().to_string(), "https://h/predict?x=1");
    }

    proptest! {
        #[test]
        fn never_panics_and_is_idempotent(s in "/[a-z%0-9A-F/.~_\\-]{0,30}") {
            if let Ok(c) = canonical_path(&s) {
                let c = c.into_owned();
                prop_assert!(!c.contains("//"));
                prop_assert_eq!(canonical_path(&c).unwrap(), c.as_str());
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
            let _ = canonical_path(&s);
        }
    }
}
