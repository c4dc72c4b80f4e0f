//! Load shedding: at most N requests in flight; the next one is answered 503 at once.
//!
//! tower's `ConcurrencyLimit` queues excess requests (without bound, while the client waits);
//! under a flood the queue only grows. This layer refuses instead: a request that finds no free
//! slot gets a `503` problem with `Retry-After: 1`, and the slots are shared by every clone of
//! the layer's service (one `Arc<Semaphore>`), so per-connection clones count together.
//!
//! Body size and whole-request time limits are tower-http's `RequestBodyLimitLayer` and
//! `TimeoutLayer`, wired in [`crate::app`].

use http::{Request, Response};
use mlguard_core::{Problem, ResponseBody};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_layer::Layer;
use tower_service::Service;

/// Sheds load above `max` requests in flight; see the [module docs](self).
///
/// ```
/// let layer = ml_api::http::limits::ShedLayer::new(256);
/// assert_eq!(layer.available(), 256);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ShedLayer {
    slots: Arc<Semaphore>,
}

impl ShedLayer {
    /// At most `max` requests in flight (at least 1).
    pub fn new(max: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max.max(1))),
        }
    }

    /// Free slots now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            slots: self.slots.clone(),
        }
    }
}

/// The service of [`ShedLayer`].
#[derive(Debug, Clone)]
pub struct Shed<S> {
    inner: S,
    slots: Arc<Semaphore>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Shed<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        match self.slots.clone().try_acquire_owned() {
            Ok(permit) => ResponseFuture {
                state: State::Inner {
                    fut: self.inner.call(req),
                    permit: Some(permit),
                },
            },
            Err(_) => {
                tracing::warn!("request shed: concurrency limit reached");
                let problem = Problem::service_unavailable(
                    "The server is at its concurrency limit; retry shortly",
                    Some(Duration::from_secs(1)),
                );
                ResponseFuture {
                    state: State::Shed {
                        problem: Some(problem),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// Future of [`Shed`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Inner { #[pin] fut: F, permit: Option<OwnedSemaphorePermit> },
        Shed { problem: Option<Problem> },
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { fut, permit } => {
                let response = ready!(fut.poll(cx));
                drop(permit.take());
                Poll::Ready(response.map(ResponseBody::map_response))
            }
            StateProj::Shed { problem } => {
                let problem = problem
                    .take()
                    .unwrap_or_else(|| Problem::service_unavailable("overloaded", None));
                Poll::Ready(Ok(ResponseBody::problem(problem)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{ServiceBuilder, ServiceExt};

    #[tokio::test]
    async fn excess_requests_are_shed_and_slots_come_back() {
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let layer = ShedLayer::new(2);
        let svc = ServiceBuilder::new()
            .layer(layer.clone())
            .service_fn(move |_req: Request<()>| {
                let mut rx = release_rx.clone();
                async move {
                    let _ = rx.wait_for(|v| *v).await;
                    Ok::<_, std::convert::Infallible>(Response::new(
                        http_body_util::Empty::<bytes::Bytes>::new(),
                    ))
                }
            });
        let a = tokio::spawn(svc.clone().oneshot(Request::new(())));
        let b = tokio::spawn(svc.clone().oneshot(Request::new(())));
        while layer.available() > 0 {
            tokio::task::yield_now().await;
        }
        let shed = svc.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(shed.status(), 503);
        assert_eq!(shed.headers()["retry-after"], "1");
        release_tx.send(true).unwrap();
        assert_eq!(a.await.unwrap().unwrap().status(), 200);
        assert_eq!(b.await.unwrap().unwrap().status(), 200);
        assert_eq!(layer.available(), 2);
        assert_eq!(svc.oneshot(Request::new(())).await.unwrap().status(), 200);
    }
}
