//! Refusals counted and audited where they leave the routes: [`RefusalMetricsLayer`] around a
//! service's routes (inside the routing, where the route template is known) counts each 401 by
//! its typed reason, each 403 and each 429 by route, and each refused login of the token
//! endpoint, and writes an `access_denied` audit event ([`crate::audit::access_denied`]) for each
//! 401 and 403 of a known route.
//!
//! **What it protects against:** attacks nobody sees. A credential-stuffing run against
//! `/token`, a scanner trying stolen API keys, a client hammering a route it may not use: each
//! shows as a rising counter a dashboard or alert can watch, and as audit events with the
//! client address, without a line of code in the handlers. The reasons are read from the typed
//! values the layers put into the responses ([`AuthFailure`],
//! [`TokenOutcome`]), never from the body or the request's headers; the route label is the
//! route template (never the raw path, so a scanner cannot grow the metrics store).
//!
//! | name (with the layer's prefix) | labels | when |
//! |---|---|---|
//! | `{prefix}auth_failures_total` | `route`, `reason` ([`AuthFailure::as_str`], `unknown` when no layer said) | a 401 |
//! | `{prefix}auth_failures_total` | `route`, `reason` = `bad_credentials` | the token endpoint refused credentials or a refresh token (`invalid_grant`) |
//! | `{prefix}authz_denials_total` | `route` | a 403 |
//! | `{prefix}rate_limited_total` | `route` | a 429 |
//!
//! ```
//! use axum::{Router, routing::get};
//! use mlguard_auth::refusals::RefusalMetricsLayer;
//!
//! let app: Router = Router::new()
//!     .route("/predict", get(|| async { "ok" }))
//!     // Records through the `metrics` facade; `record_with` sends it to a registry of your own.
//!     .layer(RefusalMetricsLayer::new("svc_"));
//! # let _ = app;
//! ```

use crate::AuthFailure;
use crate::token::TokenOutcome;
use http::{Extensions, Request, Response, StatusCode};
use metrics::counter;
use pin_project_lite::pin_project;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower_layer::Layer;
use tower_service::Service;

/// The `route` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

type RouteLabel = dyn Fn(&Extensions) -> Option<String> + Send + Sync;
type RecordWith = dyn Fn(&mut dyn FnMut()) + Send + Sync;

#[derive(Clone)]
struct Settings {
    auth_failures: String,
    authz_denials: String,
    rate_limited: String,
    route: Arc<RouteLabel>,
    record_with: Option<Arc<RecordWith>>,
}

/// Counts and audits refusals; see the [module docs](self). Cheap to clone.
#[derive(Clone)]
#[must_use]
pub struct RefusalMetricsLayer {
    settings: Arc<Settings>,
}

impl fmt::Debug for RefusalMetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefusalMetricsLayer")
            .field("auth_failures", &self.settings.auth_failures)
            .field("own_recorder", &self.settings.record_with.is_some())
            .finish_non_exhaustive()
    }
}

impl RefusalMetricsLayer {
    /// Counters named `{prefix}auth_failures_total`, `{prefix}authz_denials_total` and
    /// `{prefix}rate_limited_total`, recorded through the `metrics` facade's current recorder;
    /// the route label from axum's `MatchedPath` (feature `axum`; without it, every request is
    /// [`UNMATCHED`] until [`route_label`](Self::route_label) says otherwise).
    pub fn new(prefix: &str) -> Self {
        Self {
            settings: Arc::new(Settings {
                auth_failures: format!("{prefix}auth_failures_total"),
                authz_denials: format!("{prefix}authz_denials_total"),
                rate_limited: format!("{prefix}rate_limited_total"),
                route: Arc::new(matched_path),
                record_with: None,
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Arc::unwrap_or_clone(self.settings);
        change(&mut settings);
        Self {
            settings: Arc::new(settings),
        }
    }

    /// The route template of a request, from its extensions (`None`: [`UNMATCHED`]). Never
    /// the raw path.
    pub fn route_label(self, route: impl Fn(&Extensions) -> Option<String> + Send + Sync + 'static) -> Self {
        self.with(|s| s.route = Arc::new(route))
    }

    /// Runs each recording inside `record`: to count into a recorder of the service's own, e.g.
    /// `move |emit| registry.record(emit)` with mlguard-http's `prometheus::Registry`, or
    /// `metrics::with_local_recorder`.
    pub fn record_with(self, record: impl Fn(&mut dyn FnMut()) + Send + Sync + 'static) -> Self {
        self.with(|s| s.record_with = Some(Arc::new(record)))
    }
}

#[cfg(feature = "axum")]
fn matched_path(extensions: &Extensions) -> Option<String> {
    extensions
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

#[cfg(not(feature = "axum"))]
fn matched_path(_: &Extensions) -> Option<String> {
    None
}

impl<S> Layer<S> for RefusalMetricsLayer {
    type Service = RefusalMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RefusalMetrics {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The service of [`RefusalMetricsLayer`].
#[derive(Clone)]
pub struct RefusalMetrics<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> fmt::Debug for RefusalMetrics<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefusalMetrics").finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RefusalMetrics<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let seen = Seen {
            route: (self.settings.route)(req.extensions()),
            peer: mlguard_core::client_ip::peer_addr(req.extensions()).map(|a| a.ip()),
            settings: self.settings.clone(),
        };
        ResponseFuture {
            inner: self.inner.call(req),
            seen: Some(seen),
        }
    }
}

struct Seen {
    route: Option<String>,
    peer: Option<IpAddr>,
    settings: Arc<Settings>,
}

impl Seen {
    fn record(self, status: StatusCode, extensions: &Extensions) {
        // Set by this crate's layers on each refusal, and by the token endpoint on each answer.
        let failure = extensions.get::<AuthFailure>().copied();
        let refused_grant = extensions
            .get::<TokenOutcome>()
            .and_then(TokenOutcome::failure_reason)
            .is_some_and(|f| f.is_invalid_grant());
        if let Some(route) = &self.route
            && matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        {
            let reason = failure.map_or("-", AuthFailure::as_str);
            crate::audit::access_denied(route, status, reason, self.peer);
        }
        let s = &self.settings;
        let route = self.route.as_deref().unwrap_or(UNMATCHED).to_owned();
        let mut emit = || {
            match status {
                StatusCode::UNAUTHORIZED => {
                    let reason = failure.map_or("unknown", AuthFailure::as_str);
                    counter!(s.auth_failures.clone(), "route" => route.clone(), "reason" => reason)
                        .increment(1);
                }
                StatusCode::FORBIDDEN => {
                    counter!(s.authz_denials.clone(), "route" => route.clone()).increment(1);
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    counter!(s.rate_limited.clone(), "route" => route.clone()).increment(1);
                }
                _ => {}
            }
            if refused_grant {
                counter!(s.auth_failures.clone(), "route" => route.clone(), "reason" => "bad_credentials")
                    .increment(1);
            }
        };
        match &s.record_with {
            Some(record) => record(&mut emit),
            None => emit(),
        }
    }
}

pin_project! {
    /// Future of [`RefusalMetrics`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        seen: Option<Seen>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Some(seen), Ok(response)) = (this.seen.take(), &result) {
            seen.record(response.status(), response.extensions());
        }
        Poll::Ready(result)
    }
}
