//! The response body and future that mlguard layers return.
//!
//! A layer either passes the request to the inner service or rejects it with a [`Problem`].
//! [`ResponseBody`] is the inner service's body or the problem's JSON, so a layer works with any
//! body type (axum, hyper, tonic) and rejections need no boxing. [`ResponseFuture`] is the
//! matching future for layers that decide synchronously, before calling the inner service.

use crate::Problem;
use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pin_project! {
    /// Either the inner service's body or a problem body.
    ///
    /// ```
    /// use http_body::Body;
    /// use mlguard_core::{Problem, ResponseBody};
    ///
    /// let response = ResponseBody::<String>::problem(Problem::forbidden("no"));
    /// assert_eq!(response.status(), 403);
    /// assert!(response.body().size_hint().exact().unwrap_or(0) > 0);
    /// ```
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: BodyKind<B>,
    }
}

pin_project! {
    #[project = BodyKindProj]
    #[derive(Debug)]
    enum BodyKind<B> {
        Inner { #[pin] body: B },
        Full { body: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// Wraps the inner service's body.
    pub fn inner(body: B) -> Self {
        Self {
            kind: BodyKind::Inner { body },
        }
    }

    /// Fixed bytes.
    pub fn full(bytes: Bytes) -> Self {
        Self {
            kind: BodyKind::Full { body: Some(bytes) },
        }
    }

    /// A complete rejection response for `problem`.
    pub fn problem(problem: Problem) -> Response<Self> {
        problem.into_response_with(Self::full)
    }

    /// Maps an inner service's response into this body type.
    pub fn map_response(response: Response<B>) -> Response<Self> {
        response.map(Self::inner)
    }
}

impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        Self {
            kind: BodyKind::Full { body: None },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            BodyKindProj::Inner { body } => body.poll_frame(cx),
            BodyKindProj::Full { body } => {
                Poll::Ready(body.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Inner { body } => body.is_end_stream(),
            BodyKind::Full { body } => body.as_ref().is_none_or(|b| b.is_empty()),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Inner { body } => body.size_hint(),
            BodyKind::Full { body } => SizeHint::with_exact(body.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

pin_project! {
    /// The future of a layer that either calls the inner service or rejects at once.
    ///
    /// ```
    /// use mlguard_core::{Problem, ResponseFuture};
    /// # async fn demo() {
    /// let fut: ResponseFuture<std::future::Ready<Result<http::Response<String>, ()>>> =
    ///     ResponseFuture::reject(Problem::forbidden("no"));
    /// let response = fut.await.unwrap();
    /// assert_eq!(response.status(), 403);
    /// # }
    /// ```
    #[project = ResponseFutureProj]
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Reject { problem: Option<Problem> },
    }
}

impl<F> ResponseFuture<F> {
    /// Waits for the inner service's future.
    pub fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    /// Resolves at once to a rejection.
    pub fn reject(problem: Problem) -> Self {
        Self {
            kind: Kind::Reject {
                problem: Some(problem),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(ResponseBody::map_response(response)))
            }
            KindProj::Reject { problem } => {
                // Polled again after completion: answer with a generic 500 rather than panic.
                let problem = problem.take().unwrap_or_else(|| {
                    Problem::new(http::StatusCode::INTERNAL_SERVER_ERROR, "polled after completion")
                });
                Poll::Ready(Ok(ResponseBody::problem(problem)))
            }
        }
    }
}

/// Whether a body-read error means "over the size limit": an
/// [`http_body_util::LengthLimitError`] anywhere in the error's source chain.
///
/// Limits are enforced by whichever layer is outermost (a server's `RequestBodyLimitLayer`, a
/// layer's own `Limited`), and frameworks wrap the error (axum's `axum::Error`), so checking
/// only the outer error type answers 400 where 413 is right.
///
/// ```
/// use http_body_util::{BodyExt, Full, Limited};
/// use mlguard_core::body::is_length_limit_error;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let body = Limited::new(Full::new(bytes::Bytes::from_static(b"0123456789")), 4);
/// let err = body.collect().await.unwrap_err();
/// assert!(is_length_limit_error(err.as_ref()));
/// # }
/// ```
pub fn is_length_limit_error(mut error: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        match error.source() {
            Some(next) => error = next,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[derive(Debug)]
    struct Wrapper(Box<dyn std::error::Error + Send + Sync>);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    #[tokio::test]
    async fn length_limit_is_found_through_wrappers() {
        let body = http_body_util::Limited::new(Full::new(Bytes::from_static(b"0123456789")), 4);
        let err = body.collect().await.unwrap_err();
        let wrapped = Wrapper(err);
        assert!(is_length_limit_error(&wrapped));
        let other = Wrapper("io".into());
        assert!(!is_length_limit_error(&other));
    }

    #[tokio::test]
    async fn problem_body_yields_the_json_once() {
        let response = ResponseBody::<Full<Bytes>>::problem(Problem::forbidden("nope"));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["detail"], "nope");
    }

    #[tokio::test]
    async fn inner_body_passes_through() {
        let body = ResponseBody::inner(Full::new(Bytes::from_static(b"hello")));
        assert_eq!(body.size_hint().exact(), Some(5));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
    }

    #[tokio::test]
    async fn default_body_is_empty() {
        let body = ResponseBody::<Full<Bytes>>::default();
        assert!(body.is_end_stream());
        assert!(body.collect().await.unwrap().to_bytes().is_empty());
    }
}
