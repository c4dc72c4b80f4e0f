//! Load shedding and in-flight caps: no one waits in a queue, and no one holds every slot.
//!
//! - [`ShedLayer`]: at most N requests in flight in all; the next one is answered 503 at once.
//!   tower's `ConcurrencyLimit` queues excess requests (without bound, while the client waits);
//!   under a flood the queue only grows. This layer refuses instead: a request that finds no
//!   free slot gets a `503` problem with `Retry-After: 1`, and the slots are shared by every
//!   clone of the layer's service (one `Arc<Semaphore>`), so per-connection clones count
//!   together.
//! - [`PerKeyInFlightLayer`]: at most N requests in flight *per key* (a principal, a client
//!   address, anything a function reads from the request head); the next one of that key is
//!   answered 503 with `Retry-After: 1` at once, other keys are not affected. With a global
//!   shed limit alone, one client that holds its requests open (a body sent one byte a second)
//!   takes every slot and everyone else gets 503; capped per key, it takes at most its share.
//! - [`BodyReadTimeoutLayer`]: the request body must arrive within a deadline (shorter than the
//!   whole-request timeout), else `408` with a problem body; so a slow body holds its slot for
//!   the deadline at most, not for the whole request timeout.
//!
//! Where they go (see the crate docs): a per-address cap before authentication (it needs only
//! the peer address), then the shedding, the whole-request timeout, the body limit and the body
//! read deadline; a per-principal cap after authentication, around the handler that reads the
//! body (the principal is known only once authentication ran).
//!
//! Body size and whole-request time limits are tower-http's `RequestBodyLimitLayer` and
//! `TimeoutLayer`: use them next to these (the crate docs show the order). These layers are
//! generic tower layers (any body, any key type).

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use mlguard_core::{ClientIp, ClientIpResolver, Problem, ResponseBody};
use pin_project_lite::pin_project;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_layer::Layer;
use tower_service::Service;

/// A limit that cannot work, refused at construction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// A cap of 0 requests in flight would refuse every request (503 for everyone): a
    /// misconfiguration to fix, not something to round up silently.
    #[error("{what}: the limit of requests in flight must be at least 1, not 0")]
    ZeroLimit {
        /// Which limit (`shed`, `client address`, `principal`, ...).
        what: &'static str,
    },
}

fn nonzero(max: usize, what: &'static str) -> Result<usize, LimitsError> {
    if max == 0 {
        Err(LimitsError::ZeroLimit { what })
    } else {
        Ok(max)
    }
}

/// Sheds load above `max` requests in flight; see the [module docs](self).
///
/// ```
/// use mlguard_http::limits::{LimitsError, ShedLayer};
/// let layer = ShedLayer::try_new(256)?;
/// assert_eq!(layer.available(), 256);
/// assert!(matches!(ShedLayer::try_new(0), Err(LimitsError::ZeroLimit { .. })));
/// # Ok::<(), LimitsError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ShedLayer {
    slots: Arc<Semaphore>,
}

impl ShedLayer {
    /// At most `max` requests in flight.
    ///
    /// # Errors
    /// [`LimitsError::ZeroLimit`] for 0.
    pub fn try_new(max: usize) -> Result<Self, LimitsError> {
        Ok(Self {
            slots: Arc::new(Semaphore::new(nonzero(max, "shed")?)),
        })
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
                metrics::counter!(crate::metric_names::SHED).increment(1);
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
        state: State<F, OwnedSemaphorePermit>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, P> {
        Inner { #[pin] fut: F, permit: Option<P> },
        Shed { problem: Option<Problem> },
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().state.poll_state(cx)
    }
}

impl<F, P, B, E> State<F, P>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    /// The inner response (the slot `P` given back as soon as it is ready), or the problem.
    fn poll_state(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Response<ResponseBody<B>>, E>> {
        match self.project() {
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

/// The detail of a request refused by a [`PerKeyInFlightLayer`] unless set with
/// [`PerKeyInFlightLayer::detail`].
pub const PER_KEY_DETAIL: &str = "Too many requests of yours are in flight; retry shortly";

type KeyFn<K> = dyn Fn(&Parts) -> Option<K> + Send + Sync;

struct PerKeyState<K> {
    max: usize,
    in_flight: Mutex<HashMap<K, usize>>,
    key: Box<KeyFn<K>>,
    detail: String,
    name: String,
    warned_missing: AtomicBool,
    /// Set when a request without a key is the server's mistake: the fix to log.
    missing_key_fix: Option<&'static str>,
    misconfig_reports: mlguard_core::misconfig::ReportGate,
}

impl<K: Hash + Eq + Clone + Send + 'static> PerKeyState<K> {
    /// Takes a slot of `key`, or `None` when it holds `max` already.
    fn acquire(self: &Arc<Self>, key: K) -> Option<InFlightGuard<K>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let count = map.entry(key.clone()).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(InFlightGuard {
            state: self.clone(),
            key: Some(key),
        })
    }
}

/// Gives a key's slot back (what an [`InFlightGuard`] needs of the state, without bounds).
trait Release<K>: Send + Sync {
    fn release(&self, key: &K);
}

impl<K: Hash + Eq + Send> Release<K> for PerKeyState<K> {
    fn release(&self, key: &K) {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = map.get_mut(key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Keys leave with their last request: the map never holds more keys than
                // there are requests in flight.
                map.remove(key);
            }
        }
    }
}

/// A slot of one key; given back when dropped (the response is ready, or the request was
/// cancelled).
struct InFlightGuard<K> {
    state: Arc<dyn Release<K>>,
    key: Option<K>,
}

impl<K> Drop for InFlightGuard<K> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.state.release(&key);
        }
    }
}

/// At most `max` requests in flight per key; see the [module docs](self).
///
/// The key comes from a function of the request head (`http::request::Parts`: headers and
/// extensions), e.g. the principal an authentication layer wrote, or the client address. A
/// request whose key is at its cap is answered `503` with `Retry-After: 1` and a problem body at
/// once (the inner service is not called); a slot comes back when the inner service's response
/// is ready. State is shared by every clone (one `Arc`), and a key is forgotten as soon as it
/// has nothing in flight, so memory is bounded by the requests in flight.
///
/// A request for which the function finds no key is **not capped** (other limits still apply);
/// the first such request is logged as a warning, because it usually means the layer sits in
/// the wrong place (a per-principal cap before authentication, a per-address cap on a server
/// that does not record the peer address).
///
/// ```
/// use mlguard_http::limits::PerKeyInFlightLayer;
/// use mlguard_core::{Principal, PrincipalId};
///
/// // Per principal: put it after the authentication layer.
/// let per_principal = PerKeyInFlightLayer::try_new(4, |parts: &http::request::Parts| {
///     Principal::from_extensions(&parts.extensions).map(Principal::id)
/// })?
/// .name("principal");
/// assert_eq!(per_principal.max(), 4);
/// # let _: PerKeyInFlightLayer<PrincipalId> = per_principal;
/// # Ok::<(), mlguard_http::limits::LimitsError>(())
/// ```
#[must_use]
pub struct PerKeyInFlightLayer<K> {
    state: Arc<PerKeyState<K>>,
}

impl<K> Clone for PerKeyInFlightLayer<K> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<K> fmt::Debug for PerKeyInFlightLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerKeyInFlightLayer")
            .field("name", &self.state.name)
            .field("max", &self.state.max)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> PerKeyInFlightLayer<K> {
    /// At most `max` requests in flight for each key `key` finds.
    ///
    /// # Errors
    /// [`LimitsError::ZeroLimit`] for 0.
    pub fn try_new<F>(max: usize, key: F) -> Result<Self, LimitsError>
    where
        F: Fn(&Parts) -> Option<K> + Send + Sync + 'static,
    {
        Ok(Self {
            state: Arc::new(PerKeyState {
                max: nonzero(max, "per-key in-flight")?,
                in_flight: Mutex::new(HashMap::new()),
                key: Box::new(key),
                detail: PER_KEY_DETAIL.to_owned(),
                name: "key".to_owned(),
                warned_missing: AtomicBool::new(false),
                missing_key_fix: None,
                misconfig_reports: mlguard_core::misconfig::ReportGate::new(
                    mlguard_core::misconfig::DEFAULT_REPORT_INTERVAL,
                ),
            }),
        })
    }

    /// The `detail` of the 503 problem (default [`PER_KEY_DETAIL`]). Call before cloning.
    pub fn detail(self, detail: impl Into<String>) -> Self {
        self.rebuild(|s| s.detail = detail.into())
    }

    /// What the key is (`principal`, `client address`), for logs. Call before cloning.
    pub fn name(self, name: impl Into<String>) -> Self {
        self.rebuild(|s| s.name = name.into())
    }

    fn rebuild(self, change: impl FnOnce(&mut PerKeyState<K>)) -> Self {
        match Arc::try_unwrap(self.state) {
            Ok(mut state) => {
                change(&mut state);
                Self {
                    state: Arc::new(state),
                }
            }
            // Already shared: keep the shared state (and its counts) unchanged.
            Err(state) => Self { state },
        }
    }

    /// The cap per key.
    pub fn max(&self) -> usize {
        self.state.max
    }

    /// Requests of `key` in flight now.
    pub fn in_flight(&self, key: &K) -> usize {
        let map = self.state.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).copied().unwrap_or(0)
    }

    /// Keys with a request in flight now.
    pub fn keys(&self) -> usize {
        self.state
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

impl<S, K> Layer<S> for PerKeyInFlightLayer<K> {
    type Service = PerKeyInFlight<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        PerKeyInFlight {
            inner,
            state: self.state.clone(),
        }
    }
}

/// What the per-address cap logs when it cannot see the peer address.
const MISSING_PEER_FIX: &str = "serve with the peer address: mlguard_http::server, or axum's \
     into_make_service_with_connect_info::<SocketAddr>() with mlguard-core's `axum` feature";

/// The detail of a request refused by [`PerKeyInFlightLayer::per_client_address`].
pub const PER_ADDRESS_DETAIL: &str = "Too many requests from your address are in flight; retry shortly";

impl PerKeyInFlightLayer<IpAddr> {
    /// At most `max` requests in flight per client address, before authentication.
    ///
    /// The address is the [`ClientIp`] an earlier layer resolved, or else the peer address
    /// (`ConnectInfo` / [`mlguard_core::client_ip::PeerAddr`], which [`crate::server`] records)
    /// resolved through `resolver` (so forwarding headers count only from trusted proxies).
    /// IPv6 addresses are counted per `/v6_prefix` network (64: what one subscriber usually
    /// gets). Without a peer address (served without connect info) the server is misconfigured:
    /// requests are answered 500 `server misconfigured` (never a 4xx blaming the client) and
    /// the fix is logged as an error, at most once a minute.
    ///
    /// ```
    /// use mlguard_core::ClientIpResolver;
    /// use mlguard_http::limits::PerKeyInFlightLayer;
    /// let layer = PerKeyInFlightLayer::per_client_address(32, ClientIpResolver::new(), 64)?;
    /// assert_eq!(layer.max(), 32);
    /// # Ok::<(), mlguard_http::limits::LimitsError>(())
    /// ```
    ///
    /// # Errors
    /// [`LimitsError::ZeroLimit`] for 0.
    pub fn per_client_address(
        max: usize,
        resolver: ClientIpResolver,
        v6_prefix: u8,
    ) -> Result<Self, LimitsError> {
        nonzero(max, "client address")?;
        Ok(Self::try_new(max, move |parts: &Parts| {
            let ip = match parts.extensions.get::<ClientIp>() {
                Some(ip) => *ip,
                None => {
                    let peer = mlguard_core::client_ip::peer_addr(&parts.extensions)?;
                    ClientIp(resolver.resolve(peer.ip(), &parts.headers))
                }
            };
            Some(ip.aggregated(v6_prefix))
        })?
        .name("client address")
        .detail(PER_ADDRESS_DETAIL)
        .rebuild(|s| s.missing_key_fix = Some(MISSING_PEER_FIX)))
    }
}

/// The service of [`PerKeyInFlightLayer`].
pub struct PerKeyInFlight<S, K> {
    inner: S,
    state: Arc<PerKeyState<K>>,
}

impl<S: Clone, K> Clone for PerKeyInFlight<S, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: self.state.clone(),
        }
    }
}

impl<S: fmt::Debug, K> fmt::Debug for PerKeyInFlight<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerKeyInFlight")
            .field("inner", &self.inner)
            .field("name", &self.state.name)
            .field("max", &self.state.max)
            .finish()
    }
}

impl<S, K, ReqB, ResB> Service<Request<ReqB>> for PerKeyInFlight<S, K>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = PerKeyFuture<S::Future, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let key = (self.state.key)(&parts);
        let req = Request::from_parts(parts, body);
        let Some(key) = key else {
            if let Some(fix) = self.state.missing_key_fix {
                // The server's mistake, not the client's: 500, and the fix in the log.
                if self.state.misconfig_reports.should_report() {
                    tracing::error!(cap = %self.state.name, fix, "in-flight cap cannot see the client address: server misconfigured");
                }
                return PerKeyFuture {
                    state: State::Shed {
                        problem: Some(Problem::server_misconfigured()),
                    },
                };
            }
            if !self.state.warned_missing.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    cap = %self.state.name,
                    "in-flight cap found no key for a request; such requests are not capped \
                     (is the layer placed where its key is known?)"
                );
            }
            return PerKeyFuture {
                state: State::Inner {
                    fut: self.inner.call(req),
                    permit: None,
                },
            };
        };
        match self.state.acquire(key) {
            Some(guard) => PerKeyFuture {
                state: State::Inner {
                    fut: self.inner.call(req),
                    permit: Some(guard),
                },
            },
            None => {
                tracing::warn!(cap = %self.state.name, max = self.state.max, "request refused: in-flight cap of its key reached");
                metrics::counter!(crate::metric_names::IN_FLIGHT_REFUSED, "cap" => self.state.name.clone())
                    .increment(1);
                let problem =
                    Problem::service_unavailable(self.state.detail.clone(), Some(Duration::from_secs(1)));
                PerKeyFuture {
                    state: State::Shed {
                        problem: Some(problem),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// Future of [`PerKeyInFlight`].
    pub struct PerKeyFuture<F, K> {
        #[pin]
        state: State<F, InFlightGuard<K>>,
    }
}

impl<F, B, E, K> Future for PerKeyFuture<F, K>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().state.poll_state(cx)
    }
}

/// The detail of the 408 answered by [`BodyReadTimeoutLayer`].
pub const BODY_READ_TIMEOUT_DETAIL: &str = "The request body did not arrive in time";

/// The request body must arrive within `timeout` of the request reaching this layer, else the
/// answer is `408` with a problem body; see the [module docs](self).
///
/// The body is wrapped: when the deadline passes while the handler waits for more of it, the
/// body yields an error ([`BodyReadTimeout`]) and the handler's answer (whatever it made of
/// the error: 400, 413) is replaced with the 408. A body that arrives in time, or a handler
/// that never reads its body, is not affected. The deadline counts from the request, not
/// between frames, so a body sent one byte a second cannot keep it alive. Use a `timeout`
/// shorter than the whole-request timeout (which still bounds the handler's own work).
///
/// ```
/// use mlguard_http::limits::BodyReadTimeoutLayer;
/// use std::time::Duration;
/// let layer = BodyReadTimeoutLayer::new(Duration::from_secs(5));
/// assert_eq!(layer.timeout(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct BodyReadTimeoutLayer {
    timeout: Duration,
}

impl BodyReadTimeoutLayer {
    /// Bodies must arrive within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// The deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl<S> Layer<S> for BodyReadTimeoutLayer {
    type Service = BodyReadTimeoutService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyReadTimeoutService {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service of [`BodyReadTimeoutLayer`].
#[derive(Debug, Clone)]
pub struct BodyReadTimeoutService<S> {
    inner: S,
    timeout: Duration,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for BodyReadTimeoutService<S>
where
    S: Service<Request<DeadlineBody<ReqB>>, Response = Response<ResB>>,
    ReqB: Body,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = BodyReadTimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let expired = Arc::new(AtomicBool::new(false));
        let deadline = tokio::time::Instant::now() + self.timeout;
        let req = req.map(|inner| DeadlineBody {
            inner,
            deadline,
            sleep: None,
            expired: expired.clone(),
            done: false,
        });
        BodyReadTimeoutFuture {
            fut: self.inner.call(req),
            expired,
        }
    }
}

pin_project! {
    /// Future of [`BodyReadTimeoutService`].
    pub struct BodyReadTimeoutFuture<F> {
        #[pin]
        fut: F,
        expired: Arc<AtomicBool>,
    }
}

impl<F, B, E> Future for BodyReadTimeoutFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.fut.poll(cx))?;
        if this.expired.load(Ordering::Acquire) {
            tracing::info!("request refused: its body did not arrive in time");
            metrics::counter!(crate::metric_names::BODY_READ_TIMEOUTS).increment(1);
            let problem = Problem::new(StatusCode::REQUEST_TIMEOUT, BODY_READ_TIMEOUT_DETAIL);
            return Poll::Ready(Ok(ResponseBody::problem(problem)));
        }
        Poll::Ready(Ok(response.map(ResponseBody::inner)))
    }
}

/// The error a [`DeadlineBody`] yields when its deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive in time")]
#[non_exhaustive]
pub struct BodyReadTimeout;

pin_project! {
    /// A request body with a deadline; see [`BodyReadTimeoutLayer`].
    pub struct DeadlineBody<B> {
        #[pin]
        inner: B,
        deadline: tokio::time::Instant,
        // Made only when the body first has to wait: a body already there costs no timer.
        sleep: Option<Pin<Box<tokio::time::Sleep>>>,
        expired: Arc<AtomicBool>,
        done: bool,
    }
}

impl<B> fmt::Debug for DeadlineBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadlineBody")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let deadline = *this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        *this.done = true;
        this.expired.store(true, Ordering::Release);
        Poll::Ready(Some(Err(Box::new(BodyReadTimeout))))
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{ServiceBuilder, ServiceExt};

    #[test]
    fn a_zero_cap_is_refused_not_rounded_up() {
        // It used to become 1 silently: a configured "0" then served one request at a time.
        assert_eq!(
            ShedLayer::try_new(0).unwrap_err(),
            LimitsError::ZeroLimit { what: "shed" }
        );
        assert!(PerKeyInFlightLayer::try_new(0, principal_of).is_err());
        assert!(PerKeyInFlightLayer::per_client_address(0, ClientIpResolver::new(), 64).is_err());
        assert_eq!(ShedLayer::try_new(1).unwrap().available(), 1);
    }

    #[tokio::test]
    async fn the_per_address_cap_without_a_peer_address_is_a_server_misconfiguration() {
        // Served without connect info, every request used to pass uncapped (a warning once):
        // the cap silently did nothing. Now it is the server's 500, never a client's 4xx.
        let layer = PerKeyInFlightLayer::per_client_address(4, ClientIpResolver::new(), 64).unwrap();
        let svc = ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_req: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
            });
        let refused = svc.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(refused.status(), 500);
        let mut served = Request::new(());
        served
            .extensions_mut()
            .insert(mlguard_core::client_ip::PeerAddr(([192, 0, 2, 1], 4000).into()));
        assert_eq!(svc.oneshot(served).await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn excess_requests_are_shed_and_slots_come_back() {
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let layer = ShedLayer::try_new(2).unwrap();
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
        let recorder = crate::metric_names::tests::CountingRecorder::default();
        let mut ready = svc.clone();
        let ready = ready.ready().await.unwrap();
        // `call` decides (and counts) at once; run it inside the local recorder.
        let shed = metrics::with_local_recorder(&recorder, || ready.call(Request::new(())));
        let shed = shed.await.unwrap();
        assert_eq!(
            recorder.get(crate::metric_names::SHED),
            1,
            "the shed request is counted"
        );
        assert_eq!(shed.status(), 503);
        assert_eq!(shed.headers()["retry-after"], "1");
        release_tx.send(true).unwrap();
        assert_eq!(a.await.unwrap().unwrap().status(), 200);
        assert_eq!(b.await.unwrap().unwrap().status(), 200);
        assert_eq!(layer.available(), 2);
        assert_eq!(svc.oneshot(Request::new(())).await.unwrap().status(), 200);
    }

    fn principal_of(parts: &Parts) -> Option<String> {
        parts
            .headers
            .get("x-who")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    fn from(who: &str) -> Request<()> {
        let mut req = Request::new(());
        req.headers_mut().insert("x-who", who.parse().unwrap());
        req
    }

    #[tokio::test]
    async fn one_key_at_its_cap_does_not_block_another() {
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let layer = PerKeyInFlightLayer::try_new(2, principal_of)
            .unwrap()
            .name("test");
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
        let a = tokio::spawn(svc.clone().oneshot(from("mallory")));
        let b = tokio::spawn(svc.clone().oneshot(from("mallory")));
        while layer.in_flight(&"mallory".to_owned()) < 2 {
            tokio::task::yield_now().await;
        }
        let refused = svc.clone().oneshot(from("mallory")).await.unwrap();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(refused.headers()["content-type"], "application/problem+json");
        // Another key gets in while mallory is at its cap.
        let c = tokio::spawn(svc.clone().oneshot(from("alice")));
        while layer.in_flight(&"alice".to_owned()) < 1 {
            tokio::task::yield_now().await;
        }
        release_tx.send(true).unwrap();
        for h in [a, b, c] {
            assert_eq!(h.await.unwrap().unwrap().status(), 200);
        }
        // Slots come back and keys with nothing in flight are forgotten.
        assert_eq!(layer.keys(), 0);
        assert_eq!(svc.clone().oneshot(from("mallory")).await.unwrap().status(), 200);
        // No key: not capped.
        assert_eq!(svc.oneshot(Request::new(())).await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn a_cancelled_request_gives_its_slot_back() {
        let layer = PerKeyInFlightLayer::try_new(1, principal_of).unwrap();
        let svc = ServiceBuilder::new()
            .layer(layer.clone())
            .service_fn(|_req: Request<()>| async {
                std::future::pending::<()>().await;
                Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
            });
        let held = tokio::spawn(svc.clone().oneshot(from("bob")));
        while layer.in_flight(&"bob".to_owned()) < 1 {
            tokio::task::yield_now().await;
        }
        held.abort();
        let _ = held.await;
        assert_eq!(layer.in_flight(&"bob".to_owned()), 0);
        assert_eq!(layer.keys(), 0);
    }

    /// A body that yields `first`, then ends (`ends`) or never sends anything more.
    struct Scripted {
        first: Option<bytes::Bytes>,
        ends: bool,
    }

    impl Body for Scripted {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
            match self.first.take() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None if self.ends => Poll::Ready(None),
                None => Poll::Pending,
            }
        }
    }

    async fn read_all<B>(req: Request<B>) -> Result<Response<String>, std::convert::Infallible>
    where
        B: Body,
    {
        use http_body_util::BodyExt;
        Ok(match req.into_body().collect().await {
            Ok(_) => Response::new("read".to_owned()),
            Err(_) => {
                let mut r = Response::new("read failed".to_owned());
                *r.status_mut() = StatusCode::BAD_REQUEST;
                r
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_is_408_at_the_deadline_and_a_prompt_one_passes() {
        let svc = ServiceBuilder::new()
            .layer(BodyReadTimeoutLayer::new(Duration::from_secs(5)))
            .service_fn(read_all);
        let stalled = Request::new(Scripted {
            first: Some(bytes::Bytes::from_static(b"{")),
            ends: false,
        });
        let started = tokio::time::Instant::now();
        let r = svc.clone().oneshot(stalled).await.unwrap();
        assert_eq!(r.status(), 408);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(5),
            "paused clock: exactly the deadline"
        );

        let prompt = Request::new(Scripted {
            first: Some(bytes::Bytes::from_static(b"{}")),
            ends: true,
        });
        let r = svc.oneshot(prompt).await.unwrap();
        assert_eq!(r.status(), 200);
    }

    #[test]
    fn the_builders_report_what_they_were_given() {
        let layer = PerKeyInFlightLayer::try_new(4, principal_of)
            .unwrap()
            .name("principal");
        assert_eq!(layer.max(), 4);
        assert_eq!(PerKeyInFlightLayer::try_new(1, principal_of).unwrap().max(), 1);
        let debug = format!("{layer:?}");
        assert!(debug.starts_with("PerKeyInFlightLayer"), "{debug}");
        assert!(
            debug.contains("\"principal\"") && debug.contains("max: 4"),
            "{debug}"
        );
        let svc = layer.layer(tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(()))
        }));
        let debug = format!("{svc:?}");
        assert!(debug.starts_with("PerKeyInFlight {"), "{debug}");
        assert!(
            debug.contains("\"principal\"") && debug.contains("max: 4"),
            "{debug}"
        );

        let timeout = Duration::from_millis(1500);
        assert_eq!(BodyReadTimeoutLayer::new(timeout).timeout(), timeout);
    }

    #[tokio::test]
    async fn keys_counts_the_keys_with_a_request_in_flight() {
        let (release_tx, release_rx) = tokio::sync::watch::channel(false);
        let layer = PerKeyInFlightLayer::try_new(2, principal_of).unwrap();
        let svc = ServiceBuilder::new()
            .layer(layer.clone())
            .service_fn(move |_req: Request<()>| {
                let mut rx = release_rx.clone();
                async move {
                    let _ = rx.wait_for(|v| *v).await;
                    Ok::<_, std::convert::Infallible>(Response::new(()))
                }
            });
        let a = tokio::spawn(svc.clone().oneshot(from("alice")));
        let b = tokio::spawn(svc.clone().oneshot(from("bob")));
        let c = tokio::spawn(svc.clone().oneshot(from("bob")));
        while layer.in_flight(&"bob".to_owned()) < 2 || layer.in_flight(&"alice".to_owned()) < 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(layer.keys(), 2);
        release_tx.send(true).unwrap();
        for h in [a, b, c] {
            assert_eq!(h.await.unwrap().unwrap().status(), 200);
        }
        assert_eq!(layer.keys(), 0);
    }

    /// Counts the `WARN` events it sees.
    #[derive(Clone, Default)]
    struct Warnings(Arc<std::sync::atomic::AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
        fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    #[tokio::test]
    async fn a_request_without_a_key_is_warned_about_once_not_per_request() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let warnings = Warnings::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
        let layer = PerKeyInFlightLayer::try_new(1, principal_of).unwrap();
        let svc = ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_req: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(())) });
        for _ in 0..3 {
            assert_eq!(svc.clone().oneshot(Request::new(())).await.unwrap().status(), 200);
        }
        assert_eq!(warnings.0.load(Ordering::Relaxed), 1, "one warning for the first");
    }

    fn deadline_body<B>(inner: B) -> DeadlineBody<B> {
        DeadlineBody {
            inner,
            deadline: tokio::time::Instant::now() + Duration::from_secs(5),
            sleep: None,
            expired: Arc::new(AtomicBool::new(false)),
            done: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_body_ends_when_its_body_ends_or_its_deadline_passes_not_before() {
        use http_body_util::{BodyExt, Empty, Full};
        // A body with data left is not at its end, and says how much is left.
        let full = deadline_body(Full::new(bytes::Bytes::from_static(b"hello")));
        assert!(!full.is_end_stream());
        assert_eq!(full.size_hint().exact(), Some(5));
        let debug = format!("{full:?}");
        assert!(
            debug.starts_with("DeadlineBody") && debug.contains("deadline"),
            "{debug}"
        );
        // An empty body is at its end from the start.
        let empty = deadline_body(Empty::<bytes::Bytes>::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
        // A stalled body is not at its end until its deadline has passed, then it is.
        let mut stalled = deadline_body(Scripted {
            first: None,
            ends: false,
        });
        assert!(!stalled.is_end_stream());
        let frame = stalled.frame().await;
        assert!(matches!(frame, Some(Err(ref e)) if e.is::<BodyReadTimeout>()));
        assert!(stalled.is_end_stream(), "the deadline ended it");
        assert!(stalled.frame().await.is_none());
    }
}
