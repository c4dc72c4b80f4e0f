//! The `ValidatedJson<T>` axum extractor.

use crate::config::JsonConfig;
use crate::content_type::{HeaderProblem, check_headers};
use crate::rejection::Rejection;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;
use validator::Validate;

/// An axum extractor for a JSON body that is bounded, well-formed, of the right shape, and
/// valid by `T`'s [`Validate`] rules; otherwise the request is refused with a problem body
/// (see [`Rejection`] for the status of each case).
///
/// Limits come from a [`JsonConfig`] in the request extensions, or the defaults. The body
/// is read by this extractor under its own limit, whatever `axum::extract::DefaultBodyLimit`
/// says; a `tower_http::limit::RequestBodyLimitLayer` in front still applies and also
/// answers 413.
///
/// ```
/// use axum::{Router, routing::post};
/// use mlguard_validate::ValidatedJson;
/// use serde::Deserialize;
/// use validator::Validate;
///
/// #[derive(Deserialize, Validate)]
/// #[serde(deny_unknown_fields)]
/// struct Comment {
///     #[validate(length(min = 1, max = 500))]
///     text: String,
/// }
///
/// async fn post_comment(ValidatedJson(c): ValidatedJson<Comment>) -> String {
///     format!("{} characters", c.text.chars().count())
/// }
///
/// let app: Router = Router::new().route("/comments", post(post_comment));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[must_use]
pub struct ValidatedJson<T>(pub T);

impl<T> ValidatedJson<T> {
    /// The validated value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ValidatedJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, S> FromRequest<S> for ValidatedJson<T>
where
    T: DeserializeOwned + Validate,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let config = req.extensions().get::<JsonConfig>().copied().unwrap_or_default();
        let body = read_json_body(req, &config).await?;
        config.parse_validated(&body).map(ValidatedJson)
    }
}

/// Checks the headers and reads the body under `config`'s size limit.
///
/// Use it to build your own extractor; [`ValidatedJson`] is this plus
/// [`JsonConfig::parse_validated`].
///
/// # Errors
///
/// [`Rejection::UnsupportedMediaType`], [`Rejection::UnsupportedEncoding`],
/// [`Rejection::TooLarge`] or [`Rejection::BodyRead`].
pub async fn read_json_body(req: Request, config: &JsonConfig) -> Result<Bytes, Rejection> {
    check_headers(req.headers()).map_err(|p| match p {
        HeaderProblem::MediaType => Rejection::UnsupportedMediaType,
        HeaderProblem::Encoding => Rejection::UnsupportedEncoding,
    })?;
    let limit = config.max_body_bytes();
    // Refuse early, before reading anything, when the client announced too much.
    if declared_length(req.headers()).is_some_and(|n| n > limit as u64) {
        return Err(Rejection::TooLarge { limit });
    }
    // Enforced again while reading: Content-Length may be absent (chunked) or a lie.
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if mlguard_core::body::is_length_limit_error(e.as_ref()) => Err(Rejection::TooLarge { limit }),
        Err(_) => Err(Rejection::BodyRead),
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}
