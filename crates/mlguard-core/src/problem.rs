//! RFC 9457 `application/problem+json` bodies.
//!
//! Every mlguard layer rejects a request with a [`Problem`]: a small JSON object with `type`,
//! `title`, `status` and `detail`, plus optional extension members (for example the per-field
//! `errors` of a validation failure). The `detail` member is always present, so clients written
//! for FastAPI (which read `detail`) keep working.
//!
//! A `Problem` turns into an [`http::Response`] without any web framework
//! ([`Problem::into_response`]); with the `axum` feature it also implements
//! `axum::response::IntoResponse`.

use crate::RefusalFormat;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// The media type of a problem body (RFC 9457 section 3).
pub const PROBLEM_JSON: &str = "application/problem+json";

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// An RFC 9457 problem details object, with the response headers that go with it.
///
/// Build one with [`Problem::new`] or a status helper, add members with the builder methods,
/// then turn it into a response.
///
/// ```
/// use http::StatusCode;
/// use mlguard_core::Problem;
///
/// let problem = Problem::unprocessable("2 fields are invalid")
///     .with_extension("errors", serde_json::json!([{"field": "sepal_length", "rule": "range"}]));
/// assert_eq!(problem.status(), StatusCode::UNPROCESSABLE_ENTITY);
///
/// let response = problem.into_response();
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// ```
#[derive(Clone, PartialEq)]
#[must_use]
pub struct Problem {
    // Boxed so that `Result<T, Problem>` stays one pointer wide on the error side.
    inner: Box<Inner>,
}

#[derive(Clone, PartialEq)]
struct Inner {
    status: StatusCode,
    type_uri: String,
    title: String,
    detail: String,
    instance: Option<String>,
    extensions: Map<String, Value>,
    headers: HeaderMap,
    format: RefusalFormat,
}

impl fmt::Debug for Problem {
    // Headers may carry challenges but never credentials; still, keep the output short.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("status", &self.inner.status.as_u16())
            .field("type", &self.inner.type_uri)
            .field("title", &self.inner.title)
            .field("detail", &self.inner.detail)
            .field("extensions", &self.inner.extensions.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.inner.status.as_u16(),
            self.inner.title,
            self.inner.detail
        )
    }
}

impl Problem {
    /// A problem with the given status, `type` `about:blank`, the status's reason phrase as
    /// `title`, and `detail`.
    ///
    /// ```
    /// use http::StatusCode;
    /// let p = mlguard_core::Problem::new(StatusCode::CONFLICT, "the key already exists");
    /// assert_eq!(p.title(), "Conflict");
    /// ```
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                status,
                type_uri: "about:blank".to_owned(),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                detail: detail.into(),
                instance: None,
                extensions: Map::new(),
                headers: HeaderMap::new(),
                format: RefusalFormat::Auto,
            }),
        }
    }

    /// 400 Bad Request: the request could not be parsed (malformed JSON, bad form).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401 Unauthorized with a `WWW-Authenticate` challenge (RFC 9110 section 11.6.1 requires one).
    ///
    /// ```
    /// use mlguard_core::{Problem, WwwAuthenticate};
    /// let p = Problem::unauthorized("Not authenticated", &WwwAuthenticate::bearer().realm("api"));
    /// let response = p.into_response();
    /// assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api""#);
    /// ```
    pub fn unauthorized(detail: impl Into<String>, challenge: &crate::WwwAuthenticate) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail).with_header(WWW_AUTHENTICATE, challenge.to_header_value())
    }

    /// 403 Forbidden: authenticated, but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// 413 Content Too Large: the body is over the configured limit.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, detail)
    }

    /// 415 Unsupported Media Type: wrong or missing `Content-Type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
    }

    /// 422 Unprocessable Content: well-formed but invalid input.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 429 Too Many Requests with `Retry-After` in whole seconds, rounded up and never 0
    /// (RFC 6585 section 4, RFC 9110 section 10.2.3).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = mlguard_core::Problem::too_many_requests("slow down", Duration::from_millis(1));
    /// assert_eq!(p.headers()["retry-after"], "1");
    /// ```
    pub fn too_many_requests(detail: impl Into<String>, retry_after: Duration) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, detail)
            .with_header(RETRY_AFTER, HeaderValue::from(retry_after_secs(retry_after)))
    }

    /// 503 Service Unavailable, optionally with `Retry-After`.
    pub fn service_unavailable(detail: impl Into<String>, retry_after: Option<Duration>) -> Self {
        let p = Self::new(StatusCode::SERVICE_UNAVAILABLE, detail);
        match retry_after {
            Some(d) => p.with_header(RETRY_AFTER, HeaderValue::from(retry_after_secs(d))),
            None => p,
        }
    }

    /// 500 Internal Server Error for a server misconfiguration a layer found while serving (the
    /// peer address or the principal it needs is missing): a fixed detail, `server
    /// misconfigured`, that tells the client nothing about the server. The layer logs the
    /// cause and its fix (see [`crate::misconfig`]).
    ///
    /// ```
    /// let p = mlguard_core::Problem::server_misconfigured();
    /// assert_eq!(p.status(), 500);
    /// assert_eq!(p.detail(), "server misconfigured");
    /// ```
    pub fn server_misconfigured() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server misconfigured")
    }

    /// Sets how the refusal is written (see [`crate::refusal`]). [`RefusalFormat::Auto`] (the
    /// default) writes a problem body, since a problem alone does not know the request; use
    /// [`for_request`](Self::for_request) in a layer.
    pub fn with_format(mut self, format: RefusalFormat) -> Self {
        self.inner.format = format;
        self
    }

    /// Writes the refusal as `format` resolves for a request with `request_headers`: a gRPC
    /// refusal for a gRPC request under [`RefusalFormat::Auto`], a problem body otherwise.
    ///
    /// ```
    /// use mlguard_core::{Problem, RefusalFormat};
    /// let mut h = http::HeaderMap::new();
    /// h.insert("content-type", "application/grpc".parse().unwrap());
    /// let r = Problem::forbidden("no").for_request(RefusalFormat::Auto, &h).into_response();
    /// assert_eq!(r.headers()["grpc-status"], "7");
    /// ```
    pub fn for_request(self, format: RefusalFormat, request_headers: &HeaderMap) -> Self {
        self.with_format(format.resolve(request_headers))
    }

    /// How the refusal will be written.
    pub fn format(&self) -> RefusalFormat {
        self.inner.format
    }

    /// Sets the `type` member: a URI that identifies the problem type.
    pub fn with_type(mut self, type_uri: impl Into<String>) -> Self {
        self.inner.type_uri = type_uri.into();
        self
    }

    /// Sets the `title` member: a short, human-readable summary of the problem type.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.inner.title = title.into();
        self
    }

    /// Sets the `instance` member: a URI reference for this occurrence (e.g. a request id).
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.inner.instance = Some(instance.into());
        self
    }

    /// Adds an extension member. The standard members (`type`, `title`, `status`, `detail`,
    /// `instance`) cannot be overwritten this way; such a call is ignored.
    ///
    /// ```
    /// let p = mlguard_core::Problem::bad_request("bad").with_extension("status", 200.into());
    /// assert_eq!(p.status().as_u16(), 400);
    /// ```
    pub fn with_extension(mut self, name: impl Into<String>, value: Value) -> Self {
        let name = name.into();
        if !matches!(name.as_str(), "type" | "title" | "status" | "detail" | "instance") {
            self.inner.extensions.insert(name, value);
        }
        self
    }

    /// Adds a response header (for example `WWW-Authenticate`, `Retry-After` or `RateLimit`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.inner.headers.append(name, value);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The `title` member.
    pub fn title(&self) -> &str {
        &self.inner.title
    }

    /// The `detail` member.
    pub fn detail(&self) -> &str {
        &self.inner.detail
    }

    /// The `type` member.
    pub fn type_uri(&self) -> &str {
        &self.inner.type_uri
    }

    /// An extension member, if set.
    pub fn extension(&self, name: &str) -> Option<&Value> {
        self.inner.extensions.get(name)
    }

    /// The extra response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// Mutable access to the extra response headers.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.inner.headers
    }

    /// The JSON body as a value.
    ///
    /// ```
    /// let v = mlguard_core::Problem::forbidden("no").to_json();
    /// assert_eq!(v["status"], 403);
    /// assert_eq!(v["detail"], "no");
    /// ```
    pub fn to_json(&self) -> Value {
        let mut map = Map::with_capacity(5 + self.inner.extensions.len());
        map.insert("type".into(), Value::String(self.inner.type_uri.clone()));
        map.insert("title".into(), Value::String(self.inner.title.clone()));
        map.insert("status".into(), Value::from(self.inner.status.as_u16()));
        map.insert("detail".into(), Value::String(self.inner.detail.clone()));
        if let Some(instance) = &self.inner.instance {
            map.insert("instance".into(), Value::String(instance.clone()));
        }
        for (k, v) in &self.inner.extensions {
            map.insert(k.clone(), v.clone());
        }
        Value::Object(map)
    }

    /// The serialized JSON body.
    pub fn to_body_bytes(&self) -> Bytes {
        // Serializing a `Value` built from strings and numbers cannot fail.
        Bytes::from(serde_json::to_vec(&self.to_json()).unwrap_or_default())
    }

    /// Converts into a response with a [`Full`] body.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        self.into_response_with(Full::new)
    }

    /// Converts into a response whose body is built from the serialized JSON by `make_body`.
    ///
    /// ```
    /// let response = mlguard_core::Problem::forbidden("no").into_response_with(|b| b.to_vec());
    /// assert_eq!(response.status(), 403);
    /// ```
    ///
    /// With [`RefusalFormat::Grpc`] attached the response is a gRPC refusal instead: HTTP 200,
    /// `content-type: application/grpc`, `grpc-status`, `grpc-message` (the `detail`), the
    /// extra headers, and `make_body` of empty bytes (see [`crate::refusal`]).
    pub fn into_response_with<B>(self, make_body: impl FnOnce(Bytes) -> B) -> Response<B> {
        let grpc = self.inner.format == RefusalFormat::Grpc;
        let body = if grpc { Bytes::new() } else { self.to_body_bytes() };
        let mut response = Response::new(make_body(body));
        let headers = response.headers_mut();
        if grpc {
            let code = crate::refusal::grpc_code(self.inner.status);
            let message = crate::refusal::grpc_message(&self.inner.detail);
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
            headers.insert(GRPC_STATUS, HeaderValue::from(code));
            // Percent-encoded: printable ASCII only, always a valid header value.
            if let Ok(value) = HeaderValue::from_str(&message) {
                headers.insert(GRPC_MESSAGE, value);
            }
        } else {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        }
        let mut last: Option<HeaderName> = None;
        for (name, value) in self.inner.headers {
            // `HeaderMap::into_iter` yields the name only for the first value of each name.
            if let Some(name) = name {
                last = Some(name);
            }
            if let Some(name) = &last {
                headers.append(name.clone(), value);
            }
        }
        if !grpc {
            *response.status_mut() = self.inner.status;
        }
        response
    }
}

/// Whole seconds for `Retry-After`: rounded up, at least 1.
///
/// ```
/// use std::time::Duration;
/// use mlguard_core::problem::retry_after_secs;
/// assert_eq!(retry_after_secs(Duration::ZERO), 1);
/// assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
/// assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
/// ```
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Problem {
    fn into_response(self) -> axum::response::Response {
        self.into_response_with(axum::body::Body::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WwwAuthenticate;

    #[test]
    fn body_has_the_standard_members() {
        let v = Problem::unprocessable("bad input")
            .with_instance("urn:request:1")
            .with_extension("errors", serde_json::json!([]))
            .to_json();
        assert_eq!(v["type"], "about:blank");
        assert_eq!(v["title"], "Unprocessable Entity");
        assert_eq!(v["status"], 422);
        assert_eq!(v["detail"], "bad input");
        assert_eq!(v["instance"], "urn:request:1");
        assert!(v["errors"].is_array());
    }

    #[test]
    fn response_carries_content_type_and_headers() {
        let r = Problem::unauthorized("no", &WwwAuthenticate::bearer().realm("r"))
            .with_header(HeaderName::from_static("x-a"), HeaderValue::from_static("1"))
            .with_header(HeaderName::from_static("x-a"), HeaderValue::from_static("2"))
            .into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"r\"");
        let all: Vec<_> = r.headers().get_all("x-a").iter().collect();
        assert_eq!(all, vec!["1", "2"]);
    }

    #[test]
    fn grpc_refusal_is_trailers_only_with_the_headers_kept() {
        let r = Problem::too_many_requests("Rate limit exceeded: 1/minute.", Duration::from_secs(30))
            .with_format(RefusalFormat::Grpc)
            .into_response();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["grpc-status"], "8");
        assert_eq!(r.headers()["grpc-message"], "Rate limit exceeded: 1/minute.");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/grpc");
        assert_eq!(r.headers()[RETRY_AFTER], "30");
        assert_eq!(http_body::Body::size_hint(r.body()).exact(), Some(0));
    }

    #[test]
    fn retry_after_is_never_zero_and_rounds_up() {
        let h = |d| Problem::too_many_requests("x", d).headers()[RETRY_AFTER].clone();
        assert_eq!(h(Duration::ZERO), "1");
        assert_eq!(h(Duration::from_nanos(1)), "1");
        assert_eq!(h(Duration::from_millis(1001)), "2");
        assert_eq!(h(Duration::from_secs(59)), "59");
    }

    #[test]
    fn each_helper_has_its_status() {
        let cases = [
            (Problem::bad_request("x"), 400),
            (Problem::forbidden("x"), 403),
            (Problem::payload_too_large("x"), 413),
            (Problem::unsupported_media_type("x"), 415),
            (Problem::unprocessable("x"), 422),
            (Problem::service_unavailable("x", None), 503),
        ];
        for (p, status) in cases {
            assert_eq!(p.status().as_u16(), status);
            assert_eq!(p.to_json()["status"], status);
        }
        assert!(
            Problem::service_unavailable("x", Some(Duration::from_secs(3))).headers()[RETRY_AFTER] == "3"
        );
    }
}
