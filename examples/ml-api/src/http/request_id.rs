//! Request ids: each request gets an `x-request-id` (a UUID v4, or a well-formed one the client
//! sent), echoed on the response and written into the access log.

use http::HeaderName;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

/// The header name.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes UUID v4 request ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuid;

impl MakeRequestId for MakeUuid {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<RequestId> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).ok()?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let id = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        http::HeaderValue::try_from(id).ok().map(RequestId::new)
    }
}

/// Whether a client-sent id is kept: 1 to 64 characters of `[A-Za-z0-9._-]` (no log injection,
/// no unbounded log fields).
pub fn is_acceptable(value: &http::HeaderValue) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Drops a malformed client-sent `x-request-id` so [`set_layer`] makes a fresh one.
pub fn drop_malformed<B>(mut req: http::Request<B>) -> http::Request<B> {
    if req
        .headers()
        .get(&X_REQUEST_ID)
        .is_some_and(|v| !is_acceptable(v))
    {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    req
}

/// Sets `x-request-id` on requests that have none.
pub fn set_layer() -> SetRequestIdLayer<MakeUuid> {
    SetRequestIdLayer::new(X_REQUEST_ID, MakeUuid)
}

/// Copies the request's `x-request-id` to the response.
pub fn propagate_layer() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(X_REQUEST_ID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v4_and_client_ids_are_checked() {
        let id = MakeUuid.make_request_id(&http::Request::new(())).unwrap();
        let s = id.header_value().to_str().unwrap().to_owned();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(is_acceptable(id.header_value()));
        assert!(!is_acceptable(&http::HeaderValue::from_static("a b")));
        assert!(!is_acceptable(
            &http::HeaderValue::from_str(&"a".repeat(65)).unwrap()
        ));
        let req = http::Request::builder()
            .header("x-request-id", "x\ty")
            .body(())
            .unwrap();
        assert!(drop_malformed(req).headers().get("x-request-id").is_none());
    }
}
