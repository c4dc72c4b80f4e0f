//! Every error response is an RFC 9457 problem.
//!
//! Framework rejections (unknown route 404, wrong method 405, body too large 413, timeout 408,
//! malformed JSON 400/415/422 from axum's extractors) come with plain-text bodies that differ
//! from every other error and may quote the client's input. This response mapper replaces
//! any error body that is not already JSON with a problem body: a fixed `detail` per status,
//! never the original text. Headers such as `Allow`, `Retry-After` and `WWW-Authenticate` are
//! kept. JSON errors (problem bodies, and the token endpoint's RFC 6749 errors) pass unchanged.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use mlguard_core::Problem;

/// The fixed `detail` for a framework error status.
pub fn detail_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request is malformed",
        404 => "No such resource",
        405 => "Method not allowed on this resource",
        408 => "The request took too long",
        413 => "The request body is too large",
        415 => "Expected a body with Content-Type: application/json",
        422 => "The request body does not match the expected schema",
        s if s >= 500 => "The server could not handle the request",
        _ => "The request failed",
    }
}

/// Replaces a non-JSON error body with a problem body; see the [module docs](self).
pub async fn problemize<B>(response: http::Response<B>) -> Response
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let response = response.map(axum::body::Body::new);
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.split(';').next().unwrap_or("").trim();
            ct.eq_ignore_ascii_case("application/json") || ct.eq_ignore_ascii_case(mlguard_core::PROBLEM_JSON)
        });
    if is_json {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    let mut problem = Problem::new(status, detail_for(status));
    for (name, value) in &parts.headers {
        problem = problem.with_header(name.clone(), value.clone());
    }
    let mut out = IntoResponse::into_response(problem);
    *out.extensions_mut() = parts.extensions;
    out
}
