//! Keys read from the request body: buffer up to a bound, read one field, re-attach the body.

use crate::RateLimitKey;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, Request};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use mlguard_core::Problem;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Buffers the body (at most `max` bytes: 413 beyond), reads field `name` from a form or JSON
/// object body, and returns the request with the same bytes as its body.
pub(crate) async fn extract<B>(
    req: Request<B>,
    name: &str,
    max: usize,
) -> Result<(Request<B>, Option<RateLimitKey>), Problem>
where
    B: Body<Data = Bytes> + From<Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    let bytes = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if mlguard_core::body::is_length_limit_error(e.as_ref()) => return Err(too_large(max)),
        Err(_) => return Err(Problem::bad_request("The request body could not be read.")),
    };
    let key = field(&parts.headers, &bytes, name).map(|v| RateLimitKey::field(&v));
    Ok((Request::from_parts(parts, B::from(bytes)), key))
}

fn too_large(max: usize) -> Problem {
    Problem::payload_too_large(format!("The request body is larger than {max} bytes."))
}

/// The field's value, trimmed and ASCII-lowercased (so `Alice` and `alice ` share one bucket);
/// `None` when absent, empty, or the body is neither a form nor a JSON object.
pub(crate) fn field(headers: &HeaderMap, body: &[u8], name: &str) -> Option<String> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let value = if content_type == "application/x-www-form-urlencoded" {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)?
    } else if content_type == "application/json" || content_type.ends_with("+json") {
        match serde_json::from_slice::<serde_json::Value>(body)
            .ok()?
            .get(name)?
        {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        }
    } else {
        return None;
    };
    let value = value.trim().to_ascii_lowercase();
    (!value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn reads_form_and_json_fields() {
        let form = headers("application/x-www-form-urlencoded");
        assert_eq!(
            field(
                &form,
                b"grant_type=password&username=Alice&password=x",
                "username"
            )
            .as_deref(),
            Some("alice")
        );
        assert_eq!(field(&form, b"username=&password=x", "username"), None);
        let json = headers("application/json; charset=utf-8");
        assert_eq!(
            field(&json, br#"{"username":"bob"}"#, "username").as_deref(),
            Some("bob")
        );
        assert_eq!(
            field(&json, br#"{"username":42}"#, "username").as_deref(),
            Some("42")
        );
        assert_eq!(field(&json, br#"{"username":["x"]}"#, "username"), None);
        assert_eq!(field(&json, b"not json", "username"), None);
        assert_eq!(field(&headers("text/plain"), b"username=a", "username"), None);
    }
}
