//! Validated, bounded JSON input with RFC 9457 errors, and sanitizing helpers.
//!
//! The FastAPI tutorial gets request validation from pydantic for free; this crate gives an
//! axum service the same, plus the bounds pydantic leaves to the server in front of it.
//!
//! **What it protects against**
//!
//! - *Memory and CPU exhaustion by large or deep bodies:* the body limit (413) is enforced
//!   while reading, with or without `Content-Length`; nesting depth (400) and array lengths
//!   (422) are checked by a one-pass, non-recursive pre-scan ([`scan`]) before serde sees
//!   the bytes, so 100 000 `[` cost microseconds, not a stack overflow.
//! - *Content-type confusion:* only `application/json` and `application/*+json` (UTF-8) are
//!   read (415), so an HTML form post (CSRF-able without a preflight) never reaches the handler.
//! - *Mass assignment / parameter pollution:* unknown fields are refused when the type says
//!   `#[serde(deny_unknown_fields)]` (422); values outside validator rules are refused (422).
//! - *Non-finite model inputs:* NaN and infinity cannot come from JSON here (`"NaN"` is a
//!   string, `1e309` is refused as out of range, 400), and [`validators`] refuse them anywhere.
//! - *Reflected input in errors:* problem bodies name the field (JSON Pointer), the rule and a
//!   message, never the value; keys from the input are clamped to 64 characters, and at most
//!   [`JsonConfig::max_reported_errors`] errors are listed.
//! - *Stored XSS, log injection, normalization tricks, unbounded text:* the [`Sanitizer`]
//!   ([`sanitize`] module docs say which step stops which).
//!
//! # Statuses
//!
//! | condition | status | body |
//! | --- | --- | --- |
//! | `Content-Type` missing or not JSON; `Content-Encoding` not identity | 415 | problem |
//! | body over [`JsonConfig::max_body_bytes`] (64 KiB) | 413 | problem, `limit` |
//! | malformed or truncated JSON, trailing data, number out of range, body unreadable | 400 | problem, `line`, `column` |
//! | nesting deeper than [`JsonConfig::max_depth`] (32) | 400 | problem, `limit` |
//! | an array longer than [`JsonConfig::max_array_len`] (1 024) | 422 | `errors`, code `max_items` |
//! | wrong types, missing, unknown or duplicate fields (every one), an array where the type is a struct | 422 | `errors`, with the validation errors of the fields that did decode |
//! | validation failure (every field) | 422 | `errors`, see [`FieldError`] |
//!
//! Like FastAPI, one 422 lists every problem at once (up to
//! [`JsonConfig::max_reported_errors`]): `{"sepal_length": 500}` names the value out of range
//! and the three missing fields. A struct is read only from a JSON object, at any depth, although
//! serde's derive alone also accepts the array of its fields (`[5.1, 3.5, 1.4, 0.2]`): the
//! schema is an object, and a client must not depend on field order. Limits of the listing:
//! inside `#[serde(untagged)]`, internally tagged enums and `#[serde(flatten)]`, serde buffers
//! the input and the first error ends the listing there (the array check too does not apply
//! inside the buffered part); validator reports Rust field names, so a field renamed with
//! `#[serde(rename)]` appears under its Rust name in validation errors (decoding errors use the
//! JSON name), and a validation error on such a field is not dropped when the field also
//! failed to decode.
//!
//! # Example: an iris prediction endpoint
//!
//! ```
//! use axum::{Extension, Json, Router, routing::post};
//! use http_body_util::BodyExt;
//! use mlguard_validate::{JsonConfig, ValidatedJson, validators::finite};
//! use serde::{Deserialize, Serialize};
//! use tower::ServiceExt;
//! use validator::Validate;
//!
//! /// Measurements in centimetres, with generous bounds around the iris data set.
//! #[derive(Deserialize, Validate)]
//! #[serde(deny_unknown_fields)]
//! struct PredictRequest {
//!     #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
//!     sepal_length: f64,
//!     #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
//!     sepal_width: f64,
//!     #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
//!     petal_length: f64,
//!     #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
//!     petal_width: f64,
//! }
//!
//! #[derive(Serialize)]
//! struct Prediction {
//!     class: &'static str,
//! }
//!
//! async fn predict(ValidatedJson(req): ValidatedJson<PredictRequest>) -> Json<Prediction> {
//!     let class = if req.petal_length < 2.5 { "setosa" } else { "versicolor or virginica" };
//!     Json(Prediction { class })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = JsonConfig::builder().max_body_bytes(4 * 1024).max_depth(4).build()?;
//! let app = Router::new().route("/predict", post(predict)).layer(Extension(config));
//!
//! let call = |body: &'static str| {
//!     let req = http::Request::post("/predict")
//!         .header("content-type", "application/json")
//!         .body(axum::body::Body::from(body))
//!         .unwrap();
//!     app.clone().oneshot(req)
//! };
//!
//! let ok = call(r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#).await?;
//! assert_eq!(ok.status(), 200);
//!
//! let bad = call(r#"{"sepal_length":51,"sepal_width":3.5,"petal_length":1.4,"petal_width":-1}"#).await?;
//! assert_eq!(bad.status(), 422);
//! assert_eq!(bad.headers()["content-type"], "application/problem+json");
//! let body: serde_json::Value = serde_json::from_slice(&bad.into_body().collect().await?.to_bytes())?;
//! assert_eq!(body["errors"][0]["pointer"], "/petal_width");
//! assert_eq!(body["errors"][0]["code"], "range");
//! assert_eq!(body["errors"][1]["pointer"], "/sepal_length");
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod content_type;
mod decode;
mod extract;
mod field_error;
mod parse;
mod pointer;
mod rejection;
pub mod sanitize;
pub mod scan;
pub mod validators;

pub use config::{ConfigError, JsonConfig, JsonConfigBuilder};
pub use extract::{ValidatedJson, read_json_body};
pub use field_error::{FieldError, field_errors_from_validation};
pub use rejection::Rejection;
pub use sanitize::{Html, Normalization, Sanitizer};
