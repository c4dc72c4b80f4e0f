//! The layer's response future: no boxing when the decision is synchronous.

pub(crate) use crate::headers::Fields;
use http::Response;
use mlguard_core::{Problem, ResponseBody};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The boxed future of the asynchronous paths (Redis, throttling, body keys).
pub(crate) type BoxedResponse<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody<B>>, E>> + Send>>;

pin_project! {
    /// The future of [`RateLimit`](crate::RateLimit): the inner service's response with the
    /// rate-limit fields added, or a problem response.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Plain { #[pin] future: F },
        Inner { #[pin] future: F, fields: Fields },
        Reject { problem: Option<Problem> },
        Boxed { future: BoxedResponse<B, E> },
    }
}

impl<F, B, E> std::fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    /// The inner service's future, and the fields to add to its response (`None`: every field
    /// is off, and the future carries no `Fields` at all).
    #[inline]
    pub(crate) fn inner(future: F, fields: Option<Fields>) -> Self {
        let kind = match fields {
            None => Kind::Plain { future },
            Some(fields) => Kind::Inner { future, fields },
        };
        Self { kind }
    }

    pub(crate) fn reject(problem: Problem) -> Self {
        Self {
            kind: Kind::Reject {
                problem: Some(problem),
            },
        }
    }

    pub(crate) fn boxed(future: BoxedResponse<B, E>) -> Self {
        Self {
            kind: Kind::Boxed { future },
        }
    }
}

pub(crate) fn add_fields<B>(response: &mut Response<B>, fields: Option<Fields>) {
    if let Some(fields) = fields {
        fields.append_to(response.headers_mut());
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Plain { future } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(ResponseBody::map_response(response)))
            }
            KindProj::Inner { future, fields } => {
                let mut response = ready!(future.poll(cx))?;
                std::mem::take(fields).append_to(response.headers_mut());
                Poll::Ready(Ok(ResponseBody::map_response(response)))
            }
            KindProj::Reject { problem } => {
                let problem = problem.take().unwrap_or_else(|| {
                    Problem::new(http::StatusCode::INTERNAL_SERVER_ERROR, "polled after completion")
                });
                Poll::Ready(Ok(ResponseBody::problem(problem)))
            }
            KindProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}
