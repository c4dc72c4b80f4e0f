//! The service and future shared by [`ApiKeyLayer`](crate::ApiKeyLayer),
//! [`BearerAuthLayer`](crate::BearerAuthLayer) and [`AuthLayer`](crate::AuthLayer).

use crate::outcome::{AuthCheck, Authenticator, Outcome, Refusal};
use http::{Request, Response};
use mlguard_core::{Problem, RefusalFormat, ResponseBody};
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower_service::Service;

/// The authenticating service: on success the request reaches `S` with a
/// [`Principal`](mlguard_core::Principal) in its
/// extensions and without the credential headers; on failure it gets a 401 problem response
/// (503 when a store cannot answer) with the [`AuthFailure`](crate::AuthFailure) in its
/// extensions.
pub struct AuthService<S> {
    inner: S,
    config: Arc<dyn Authenticator>,
    format: RefusalFormat,
}

impl<S: Clone> Clone for AuthService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            format: self.format,
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("format", &self.format)
            .finish()
    }
}

impl<S> AuthService<S> {
    pub(crate) fn new(inner: S, config: Arc<dyn Authenticator>, format: RefusalFormat) -> Self {
        Self {
            inner,
            config,
            format,
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = AuthFuture<S, B, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // gRPC clients get `grpc-status`, others a problem body (RefusalFormat::Auto).
        let format = self.format.resolve(req.headers());
        match self.config.authenticate(req.headers(), req.uri()) {
            Outcome::Done(Err(refusal)) => AuthFuture::reject(refusal, format),
            Outcome::Done(Ok(authenticated)) => {
                self.config.strip(req.headers_mut());
                authenticated.insert_into(req.extensions_mut());
                AuthFuture {
                    state: State::Inner {
                        future: self.inner.call(req),
                    },
                }
            }
            Outcome::Pending(check) => {
                // The ready service goes with the request; this one keeps a fresh clone.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                AuthFuture {
                    state: State::Pending {
                        check,
                        service: Some(ready),
                        request: Some(req),
                        config: self.config.clone(),
                        format,
                    },
                }
            }
        }
    }
}

pin_project! {
    /// The response future of [`AuthService`]. Rejections decided synchronously need no
    /// allocation; only checks that need I/O are boxed.
    pub struct AuthFuture<S, B, F> {
        #[pin]
        state: State<S, B, F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, F> {
        Pending {
            check: AuthCheck,
            service: Option<S>,
            request: Option<Request<B>>,
            config: Arc<dyn Authenticator>,
            format: RefusalFormat,
        },
        Inner { #[pin] future: F },
        Reject { refusal: Option<Refusal>, format: RefusalFormat },
    }
}

impl<S, B, F> AuthFuture<S, B, F> {
    fn reject(refusal: Refusal, format: RefusalFormat) -> Self {
        Self {
            state: State::Reject {
                refusal: Some(refusal),
                format,
            },
        }
    }
}

impl<S, B, F> fmt::Debug for AuthFuture<S, B, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFuture").finish_non_exhaustive()
    }
}

impl<S, B, F, ResBody, E> Future for AuthFuture<S, B, F>
where
    S: Service<Request<B>, Response = Response<ResBody>, Error = E, Future = F>,
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Pending {
                    check,
                    service,
                    request,
                    config,
                    format,
                } => {
                    let result = ready!(check.as_mut().poll(cx));
                    let (Some(mut service), Some(mut request)) = (service.take(), request.take()) else {
                        return Poll::Ready(Ok(ResponseBody::problem(polled_after_completion())));
                    };
                    match result {
                        Err(refusal) => return Poll::Ready(Ok(refused(refusal, *format))),
                        Ok(authenticated) => {
                            config.strip(request.headers_mut());
                            authenticated.insert_into(request.extensions_mut());
                            let future = service.call(request);
                            this.state.set(State::Inner { future });
                        }
                    }
                }
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(ResponseBody::map_response(response)));
                }
                StateProj::Reject { refusal, format } => {
                    return Poll::Ready(Ok(match refusal.take() {
                        Some(refusal) => refused(refusal, *format),
                        None => ResponseBody::problem(polled_after_completion()),
                    }));
                }
            }
        }
    }
}

/// The refusal's problem response, with its [`AuthFailure`](crate::AuthFailure) in the extensions.
fn refused<B>(refusal: Refusal, format: RefusalFormat) -> Response<ResponseBody<B>> {
    let mut response = ResponseBody::problem(refusal.problem.with_format(format));
    response.extensions_mut().insert(refusal.failure);
    response
}

fn polled_after_completion() -> Problem {
    Problem::new(http::StatusCode::INTERNAL_SERVER_ERROR, "polled after completion")
}
