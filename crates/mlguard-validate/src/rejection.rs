//! Why a JSON body was refused, and the problem body for each reason.

use crate::field_error::FieldError;
use axum::response::{IntoResponse, Response};
use mlguard_core::Problem;
use serde_json::{Value, json};
use thiserror::Error;

/// Why [`ValidatedJson`](crate::ValidatedJson) (or [`JsonConfig::parse`](crate::JsonConfig::parse))
/// refused a request. Turns into an RFC 9457 problem response; no variant carries input values.
///
/// | variant | status |
/// | --- | --- |
/// | [`UnsupportedMediaType`](Self::UnsupportedMediaType), [`UnsupportedEncoding`](Self::UnsupportedEncoding) | 415 |
/// | [`TooLarge`](Self::TooLarge) | 413 |
/// | [`BodyRead`](Self::BodyRead), [`Syntax`](Self::Syntax), [`TooDeep`](Self::TooDeep) | 400 |
/// | [`Decode`](Self::Decode), [`TooManyItems`](Self::TooManyItems), [`Invalid`](Self::Invalid) | 422 |
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `Content-Type` missing, repeated, not JSON, or with a non-UTF-8 charset.
    #[error("Content-Type must be application/json or application/*+json")]
    UnsupportedMediaType,
    /// A `Content-Encoding` other than `identity` (put a decompression layer in front).
    #[error("Content-Encoding is not supported")]
    UnsupportedEncoding,
    /// The body is longer than the limit (by `Content-Length` or while reading).
    #[error("request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read (the client went away, a transport error).
    #[error("failed to read the request body")]
    BodyRead,
    /// Not well-formed JSON (including numbers out of the `f64` range such as `1e309`).
    #[error("malformed JSON at line {line} column {column}: {reason}")]
    Syntax {
        /// serde_json's reason, a fixed phrase such as "expected value" (never input).
        reason: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Arrays and objects nested deeper than the limit.
    #[error("JSON nesting is deeper than {limit}")]
    TooDeep {
        /// The configured bound.
        limit: usize,
    },
    /// An array with more items than the limit.
    #[error("an array has more than {limit} items")]
    TooManyItems {
        /// The array, as a field error with code `max_items`.
        error: FieldError,
        /// The configured bound.
        limit: usize,
    },
    /// Well-formed JSON of the wrong shape: missing, unknown or duplicate fields, wrong types
    /// (an array where the type is a struct, too), listed with the validation errors of the
    /// fields that did decode.
    #[error("the body does not match the expected shape")]
    Decode {
        /// The listed errors, sorted by pointer, at most `max_reported_errors` of them.
        errors: Vec<FieldError>,
        /// How many errors there were in all.
        total: usize,
    },
    /// The value failed validation: every failing field, at most `max_reported_errors` of them.
    #[error("{total} validation error(s)")]
    Invalid {
        /// The listed errors.
        errors: Vec<FieldError>,
        /// How many errors there were in all.
        total: usize,
    },
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        self.to_problem().status()
    }

    /// The problem body.
    ///
    /// ```
    /// use mlguard_validate::Rejection;
    /// let p = Rejection::TooDeep { limit: 32 }.to_problem();
    /// assert_eq!(p.status(), 400);
    /// assert_eq!(p.detail(), "JSON nesting is deeper than 32");
    /// ```
    pub fn to_problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            Self::UnsupportedMediaType | Self::UnsupportedEncoding => Problem::unsupported_media_type(detail),
            Self::TooLarge { limit } => {
                Problem::payload_too_large(detail).with_extension("limit", json!(limit))
            }
            Self::BodyRead => Problem::bad_request(detail),
            Self::Syntax { line, column, .. } => Problem::bad_request(detail)
                .with_extension("line", json!(line))
                .with_extension("column", json!(column)),
            Self::TooDeep { limit } => Problem::bad_request(detail).with_extension("limit", json!(limit)),
            Self::TooManyItems { error, .. } => errors_problem(detail, std::slice::from_ref(error), 1),
            Self::Decode { errors, total } | Self::Invalid { errors, total } => {
                errors_problem(detail, errors, *total)
            }
        }
    }

    /// The per-field errors, empty for 400/413/415 rejections.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::TooManyItems { error, .. } => std::slice::from_ref(error),
            Self::Decode { errors, .. } | Self::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

fn errors_problem(detail: String, errors: &[FieldError], total: usize) -> Problem {
    let list = serde_json::to_value(errors).unwrap_or(Value::Array(Vec::new()));
    let mut p = Problem::unprocessable(detail).with_extension("errors", list);
    if total > errors.len() {
        p = p.with_extension("errors_omitted", json!(total - errors.len()));
    }
    p
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        // Not through mlguard-core's `axum` feature: it needs `axum/tokio` for `ConnectInfo`.
        self.to_problem().into_response_with(axum::body::Body::from)
    }
}
