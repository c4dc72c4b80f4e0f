//! Refusals per protocol: problem+json for HTTP clients, `grpc-status` for gRPC clients.
//!
//! A gRPC client does not read an HTTP status or a JSON body: it reads the `grpc-status` and
//! `grpc-message` fields (gRPC over HTTP/2, "Trailers-Only" responses). A layer that refuses a
//! gRPC call with `403` and a problem body leaves the client with `UNKNOWN` or `INTERNAL` and
//! no reason. So every mlguard layer shapes its refusal with a [`RefusalFormat`]: by default
//! ([`RefusalFormat::Auto`]) a request whose `content-type` is `application/grpc` or
//! `application/grpc+<codec>` gets a gRPC refusal, every other request a problem body.
//!
//! A gRPC refusal is `HTTP 200` with `content-type: application/grpc`, `grpc-status` (see
//! [`grpc_code`]: 401 -> UNAUTHENTICATED (16), 403 -> PERMISSION_DENIED (7), 429 ->
//! RESOURCE_EXHAUSTED (8), ...), `grpc-message` (the problem's `detail`, percent-encoded as the
//! gRPC spec requires), the problem's own headers (`WWW-Authenticate`, `Retry-After`,
//! `RateLimit`) as metadata, and an empty body, so HTTP/2 sends it as one HEADERS frame that
//! ends the stream.
//!
//! ```
//! use http::HeaderMap;
//! use mlguard_core::{Problem, RefusalFormat, WwwAuthenticate};
//!
//! let mut request_headers = HeaderMap::new();
//! request_headers.insert("content-type", "application/grpc+proto".parse().unwrap());
//!
//! let response = Problem::unauthorized("Not authenticated", &WwwAuthenticate::bearer())
//!     .for_request(RefusalFormat::Auto, &request_headers)
//!     .into_response();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["grpc-status"], "16");
//! assert_eq!(response.headers()["grpc-message"], "Not authenticated");
//! assert_eq!(response.headers()["content-type"], "application/grpc");
//!
//! // The same refusal for a plain HTTP client.
//! let response = Problem::unauthorized("Not authenticated", &WwwAuthenticate::bearer())
//!     .for_request(RefusalFormat::Auto, &HeaderMap::new())
//!     .into_response();
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! ```
//!
//! gRPC-Web (`application/grpc-web*`) is not detected: its status travels in the body, which
//! this shape does not write; such requests get problem bodies unless a layer is set to
//! [`RefusalFormat::Grpc`].
//!
//! # For authors of a layer
//!
//! Resolve the format once per request from the request's headers and attach it to each
//! refusal: `problem.for_request(self.format, request.headers())`, then answer with
//! [`Problem::into_response`](crate::Problem::into_response) / [`ResponseBody::problem`](crate::ResponseBody::problem) as
//! before; both write the attached format.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

/// How a layer writes its refusals. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RefusalFormat {
    /// gRPC for requests with `content-type: application/grpc` (or `application/grpc+...`),
    /// problem+json otherwise. The default.
    #[default]
    Auto,
    /// Always an RFC 9457 problem body with the HTTP status.
    ProblemJson,
    /// Always a gRPC "Trailers-Only" refusal (`grpc-status`, `grpc-message`).
    Grpc,
}

impl RefusalFormat {
    /// The concrete format for a request with `request_headers`: never [`Auto`](Self::Auto).
    ///
    /// ```
    /// use http::HeaderMap;
    /// use mlguard_core::RefusalFormat;
    /// let mut h = HeaderMap::new();
    /// h.insert("content-type", "application/grpc".parse().unwrap());
    /// assert_eq!(RefusalFormat::Auto.resolve(&h), RefusalFormat::Grpc);
    /// assert_eq!(RefusalFormat::ProblemJson.resolve(&h), RefusalFormat::ProblemJson);
    /// assert_eq!(RefusalFormat::Auto.resolve(&HeaderMap::new()), RefusalFormat::ProblemJson);
    /// ```
    pub fn resolve(self, request_headers: &HeaderMap) -> Self {
        match self {
            Self::Auto if is_grpc_request(request_headers) => Self::Grpc,
            Self::Auto => Self::ProblemJson,
            other => other,
        }
    }
}

/// Whether the request's `content-type` is `application/grpc` or `application/grpc+<codec>`
/// (`application/grpc-web` is not: see the [module docs](self)).
pub fn is_grpc_request(request_headers: &HeaderMap) -> bool {
    let Some(value) = request_headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let base = value.split(';').next().unwrap_or("").trim();
    let Some(rest) = base
        .get(..16)
        .filter(|p| p.eq_ignore_ascii_case("application/grpc"))
        .map(|_| &base[16..])
    else {
        return false;
    };
    rest.is_empty() || rest.starts_with('+')
}

/// The gRPC status code for a refusal with HTTP `status`.
///
/// | HTTP | gRPC |
/// |---|---|
/// | 400, 415, 422 | INVALID_ARGUMENT (3) |
/// | 401 | UNAUTHENTICATED (16) |
/// | 403 | PERMISSION_DENIED (7) |
/// | 404, 405, 501 | UNIMPLEMENTED (12) |
/// | 408, 504 | DEADLINE_EXCEEDED (4) |
/// | 409 | ABORTED (10) |
/// | 413, 429 | RESOURCE_EXHAUSTED (8) |
/// | 500 | INTERNAL (13) |
/// | 503 | UNAVAILABLE (14) |
/// | other | UNKNOWN (2) |
///
/// ```
/// use http::StatusCode;
/// assert_eq!(mlguard_core::refusal::grpc_code(StatusCode::TOO_MANY_REQUESTS), 8);
/// ```
pub fn grpc_code(status: StatusCode) -> u16 {
    match status.as_u16() {
        400 | 415 | 422 => 3,
        401 => 16,
        403 => 7,
        404 | 405 | 501 => 12,
        408 | 504 => 4,
        409 => 10,
        413 | 429 => 8,
        500 => 13,
        503 => 14,
        _ => 2,
    }
}

/// `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX` (gRPC over HTTP/2,
/// "Status-Message").
///
/// ```
/// assert_eq!(mlguard_core::refusal::grpc_message("50% off\né"), "50%25 off%0A%C3%A9");
/// ```
pub fn grpc_message(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    for byte in detail.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            use std::fmt::Write as _;
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, value.parse().unwrap());
        h
    }

    #[test]
    fn grpc_content_types_are_detected_and_others_not() {
        for yes in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC+json",
            "application/grpc; x=1",
        ] {
            assert!(is_grpc_request(&ct(yes)), "{yes}");
        }
        for no in [
            "application/json",
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/grp",
            "text/plain",
        ] {
            assert!(!is_grpc_request(&ct(no)), "{no}");
        }
        assert!(!is_grpc_request(&HeaderMap::new()));
    }

    #[test]
    fn each_refusal_status_has_its_grpc_code() {
        assert_eq!(grpc_code(StatusCode::UNAUTHORIZED), 16);
        assert_eq!(grpc_code(StatusCode::FORBIDDEN), 7);
        assert_eq!(grpc_code(StatusCode::TOO_MANY_REQUESTS), 8);
        assert_eq!(grpc_code(StatusCode::INTERNAL_SERVER_ERROR), 13);
        assert_eq!(grpc_code(StatusCode::SERVICE_UNAVAILABLE), 14);
        assert_eq!(grpc_code(StatusCode::IM_A_TEAPOT), 2);
    }
}
