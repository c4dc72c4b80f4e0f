//! Problem bodies for the responses the framework makes itself.
//!
//! Framework rejections (unknown route 404, wrong method 405, body too large 413, timeout 408,
//! malformed JSON 400/415/422 from axum's extractors) come with plain-text bodies that differ
//! from every other error and may quote the client's input. [`ProblemBodiesLayer`] replaces any
//! error body that is not already JSON with an RFC 9457 problem body: a fixed `detail` per
//! status ([`detail_for`]), never the original text. Headers such as `Allow`, `Retry-After` and
//! `WWW-Authenticate` are kept, and so are the response extensions. JSON errors (problem
//! bodies, and a token endpoint's RFC 6749 errors) pass unchanged.
//!
//! For panics, use tower-http's `CatchPanicLayer::custom` with [`PanicProblem`] inside this
//! layer: the 500 is a problem body too, and the panic message never reaches the client.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use mlguard_core::{Problem, ResponseBody};
use pin_project_lite::pin_project;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tower_layer::Layer;
use tower_service::Service;

/// The fixed `detail` for a framework error status.
///
/// ```
/// use http::StatusCode;
/// assert_eq!(mlguard_http::problem::detail_for(StatusCode::NOT_FOUND), "No such resource");
/// ```
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

fn is_json<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.split(';').next().unwrap_or("").trim();
            ct.eq_ignore_ascii_case("application/json") || ct.eq_ignore_ascii_case(mlguard_core::PROBLEM_JSON)
        })
}

/// Replaces a non-JSON error body with a problem body; see the [module docs](self).
///
/// ```
/// # async fn demo() {
/// use mlguard_http::problem::problemize;
/// let plain = http::Response::builder().status(404).body("Not Found".to_owned()).unwrap();
/// let r = problemize(plain);
/// assert_eq!(r.headers()["content-type"], "application/problem+json");
/// # }
/// ```
pub fn problemize<B>(response: Response<B>) -> Response<ResponseBody<B>> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response.map(ResponseBody::inner);
    }
    let (mut parts, _body) = response.into_parts();
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(CONTENT_LENGTH);
    let mut problem = Problem::new(status, detail_for(status));
    for (name, value) in &parts.headers {
        problem = problem.with_header(name.clone(), value.clone());
    }
    let mut out = ResponseBody::problem(problem);
    *out.extensions_mut() = parts.extensions;
    out
}

/// Turns non-JSON error responses into problem bodies; see the [module docs](self).
///
/// ```
/// use mlguard_http::problem::{PanicProblem, ProblemBodiesLayer};
/// use tower::ServiceBuilder;
/// use tower_http::catch_panic::CatchPanicLayer;
/// let stack = ServiceBuilder::new()
///     .layer(ProblemBodiesLayer::new())
///     .layer(CatchPanicLayer::custom(PanicProblem));
/// # let _ = stack;
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct ProblemBodiesLayer;

impl ProblemBodiesLayer {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for ProblemBodiesLayer {
    type Service = ProblemBodies<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProblemBodies { inner }
    }
}

/// The service of [`ProblemBodiesLayer`].
#[derive(Debug, Clone)]
pub struct ProblemBodies<S> {
    inner: S,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for ProblemBodies<S>
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
        ResponseFuture {
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// Future of [`ProblemBodies`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(self.project().inner.poll(cx))?;
        Poll::Ready(Ok(problemize(response)))
    }
}

/// A 500 problem body for tower-http's `CatchPanicLayer::custom`. The panic payload is neither
/// sent nor logged (it may hold request data); one ERROR event (target `mlguard_http::panic`)
/// says a handler panicked.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanicProblem;

impl tower_http::catch_panic::ResponseForPanic for PanicProblem {
    type ResponseBody = Full<Bytes>;

    fn response_for_panic(&mut self, _err: Box<dyn Any + Send + 'static>) -> Response<Self::ResponseBody> {
        tracing::error!(target: "mlguard_http::panic", "a request handler panicked");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            detail_for(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::{ServiceBuilder, ServiceExt};

    async fn answer(
        status: u16,
        content_type: &str,
        body: &'static str,
    ) -> (Response<ResponseBody<Full<Bytes>>>, String) {
        let ct = content_type.to_owned();
        let svc =
            ServiceBuilder::new()
                .layer(ProblemBodiesLayer::new())
                .service_fn(move |_req: Request<()>| {
                    let ct = ct.clone();
                    async move {
                        let r = Response::builder()
                            .status(status)
                            .header(CONTENT_TYPE, ct)
                            .header("allow", "GET")
                            .body(Full::new(Bytes::from_static(body.as_bytes())))
                            .unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
        let r = svc.oneshot(Request::new(())).await.unwrap();
        let (parts, b) = r.into_parts();
        let text = String::from_utf8(b.collect().await.unwrap().to_bytes().to_vec()).unwrap();
        (
            Response::from_parts(parts, ResponseBody::full(Bytes::new())),
            text,
        )
    }

    /// Mutant (issue 20): `PanicProblem::response_for_panic` into an empty 200. A panicking
    /// handler behind `CatchPanicLayer::custom(PanicProblem)` answers a 500 problem body that
    /// does not carry the panic message.
    #[tokio::test]
    async fn a_panic_is_a_500_problem_without_its_message() {
        let svc = ServiceBuilder::new()
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(PanicProblem))
            .service_fn(|_req: Request<()>| async move {
                if true {
                    panic!("secret request data");
                }
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
            });
        let r = svc.oneshot(Request::new(())).await.unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers()["content-type"], mlguard_core::PROBLEM_JSON);
        let body = String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        assert!(
            body.contains(detail_for(StatusCode::INTERNAL_SERVER_ERROR)),
            "{body}"
        );
        assert!(!body.contains("secret"), "{body}");
    }

    /// Mutants (issue 20): `detail_for` into a constant, each arm deleted, the `>= 500` guard.
    /// Each framework status has its own fixed text; every 5xx the server's, any other 4xx the
    /// generic one.
    #[test]
    fn each_framework_status_has_its_own_detail() {
        let cases = [
            (400, "The request is malformed"),
            (404, "No such resource"),
            (405, "Method not allowed on this resource"),
            (408, "The request took too long"),
            (413, "The request body is too large"),
            (415, "Expected a body with Content-Type: application/json"),
            (422, "The request body does not match the expected schema"),
            (500, "The server could not handle the request"),
            (503, "The server could not handle the request"),
            (599, "The server could not handle the request"),
            (401, "The request failed"),
            (418, "The request failed"),
            (499, "The request failed"),
        ];
        for (status, detail) in cases {
            assert_eq!(
                detail_for(StatusCode::from_u16(status).unwrap()),
                detail,
                "{status}"
            );
        }
    }

    #[tokio::test]
    async fn plain_text_errors_become_problems_json_errors_and_successes_pass() {
        for status in [404, 405, 408, 413, 415] {
            let (r, body) = answer(status, "text/plain", "Failed to parse <script>").await;
            assert_eq!(r.status(), status);
            assert_eq!(r.headers()["content-type"], mlguard_core::PROBLEM_JSON);
            assert_eq!(r.headers()["allow"], "GET", "headers kept");
            assert!(
                !body.contains("<script>"),
                "the original text is not echoed: {body}"
            );
            assert!(body.contains(detail_for(StatusCode::from_u16(status).unwrap())));
        }
        let (r, body) = answer(400, "application/json", r#"{"error":"invalid_grant"}"#).await;
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(body, r#"{"error":"invalid_grant"}"#);
        let (r, body) = answer(200, "text/plain", "fine").await;
        assert_eq!(r.status(), 200);
        assert_eq!(body, "fine");
    }
}
