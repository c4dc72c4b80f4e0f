//! [`RateLimitLayer`], its builder, and the [`RateLimit`] service.

use crate::body_key;
use crate::clock::TimeSource;
use crate::cost::{CostFn, default_cost};
use crate::future::{Fields, ResponseFuture, add_fields};
use crate::headers::{HeaderPlan, valid_policy_name};
use crate::key::KeyKind;
use crate::stats::RateLimitStats;
use crate::{
    Algorithm, CheckError, Decision, KeyExtractor, MissingKey, OnFull, Quota, QuotaError, RateLimitError,
    RateLimitKey, RateLimiter, TokioClock,
};
use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body::Body;
use mlguard_core::misconfig::ReportGate;
use mlguard_core::{ClientIpResolver, Problem, RefusalFormat, ResponseBody, SharedClock, WwwAuthenticate};
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
use tower_layer::Layer;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default cap on keys tracked in memory per limit.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// Anything that names a quota: a string such as `"5/minute"` or a [`Quota`].
pub trait IntoQuota {
    /// The quota, or why not.
    fn into_quota(self) -> Result<Quota, QuotaError>;
}

impl IntoQuota for Quota {
    fn into_quota(self) -> Result<Quota, QuotaError> {
        Ok(self)
    }
}

impl IntoQuota for &str {
    fn into_quota(self) -> Result<Quota, QuotaError> {
        self.parse()
    }
}

impl IntoQuota for String {
    fn into_quota(self) -> Result<Quota, QuotaError> {
        self.parse()
    }
}

/// Throttling: delay a request that is over its quota, instead of rejecting it, when its turn
/// comes within `max_delay`; at most `max_waiters` requests wait at once (beyond: 429 at once).
///
/// ```
/// use std::time::Duration;
/// let throttle = mlguard_ratelimit::Throttle::new(Duration::from_secs(2), 64);
/// # let _ = throttle;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    max_delay: Duration,
    max_waiters: usize,
}

impl Throttle {
    /// Delay up to `max_delay`, with at most `max_waiters` waiting.
    pub fn new(max_delay: Duration, max_waiters: usize) -> Self {
        Self {
            max_delay,
            max_waiters,
        }
    }
}

#[derive(Debug)]
struct ThrottleState {
    max_delay: Duration,
    waiters: Arc<Semaphore>,
}

struct Config {
    limiter: RateLimiter,
    key: KeyExtractor,
    missing: MissingKey,
    /// `None`: the default cost (the request's `RateLimitCost`, or 1).
    cost: Option<CostFn>,
    name: String,
    headers: HeaderPlan,
    throttle: Option<ThrottleState>,
    /// Memory only and no body key: the decision is taken in `call`, no boxed future.
    sync: bool,
    /// Besides `sync`: the key and the cost come from the request's headers and extensions
    /// (no custom key or cost function), so `call` need not take the request apart.
    head_only: bool,
    format: RefusalFormat,
    misconfig: ReportGate,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("policy", &self.name)
            .field("quota", self.limiter.quota())
            .field("algorithm", &self.limiter.algorithm())
            .field("key", &self.key)
            .field("missing", &self.missing)
            .field("throttle", &self.throttle)
            .finish_non_exhaustive()
    }
}

/// A rate limit as a tower layer. Cheap to clone; every clone (and every service it makes)
/// counts against the same buckets.
///
/// ```
/// use mlguard_ratelimit::{Algorithm, KeyExtractor, RateLimitLayer};
/// let layer = RateLimitLayer::builder()
///     .quota("5/minute")
///     .algorithm(Algorithm::FixedWindow)
///     .key(KeyExtractor::body_field("username"))
///     .policy_name("token-user")
///     .build()
///     .unwrap();
/// assert_eq!(layer.limiter().quota().count(), 5);
/// assert!(RateLimitLayer::builder().quota("5/fortnight").build().is_err());
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RateLimitLayer {
    config: Arc<Config>,
}

impl RateLimitLayer {
    /// Starts a builder. Defaults: GCRA, keyed by the client address (no proxy trusted; IPv6
    /// per /64), missing key rejected with 400, cost 1 (or [`crate::RateLimitCost`]), policy
    /// name `default`, IETF fields on, `X-RateLimit-*` off, no throttling, up to
    /// [`DEFAULT_MAX_KEYS`] keys in memory (soonest-expiring evicted beyond).
    pub fn builder() -> RateLimitLayerBuilder {
        RateLimitLayerBuilder::default()
    }

    /// The shared limiter (quota, counters, direct checks).
    pub fn limiter(&self) -> &RateLimiter {
        &self.config.limiter
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            inner,
            config: self.config.clone(),
        }
    }
}

/// Builds a [`RateLimitLayer`]; see [`RateLimitLayer::builder`].
#[must_use]
pub struct RateLimitLayerBuilder {
    quota: Option<Result<Quota, QuotaError>>,
    algorithm: Algorithm,
    key: KeyExtractor,
    missing: MissingKey,
    cost: Option<CostFn>,
    name: String,
    ietf: bool,
    x_headers: bool,
    throttle: Option<Throttle>,
    max_keys: usize,
    on_full: OnFull,
    clock: Option<SharedClock>,
    format: RefusalFormat,
    #[cfg(feature = "redis")]
    redis: Option<crate::RedisBackend>,
}

impl fmt::Debug for RateLimitLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayerBuilder")
            .field("quota", &self.quota)
            .field("algorithm", &self.algorithm)
            .field("key", &self.key)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Default for RateLimitLayerBuilder {
    fn default() -> Self {
        Self {
            quota: None,
            algorithm: Algorithm::default(),
            key: KeyExtractor::client_ip(ClientIpResolver::new()),
            missing: MissingKey::default(),
            cost: None,
            name: "default".to_owned(),
            ietf: true,
            x_headers: false,
            throttle: None,
            max_keys: DEFAULT_MAX_KEYS,
            on_full: OnFull::default(),
            clock: None,
            format: RefusalFormat::Auto,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }
}

impl RateLimitLayerBuilder {
    /// The quota: `"5/minute"`, `"10/minute; burst=20"`, or a [`Quota`]. Checked by
    /// [`build`](Self::build).
    pub fn quota(mut self, quota: impl IntoQuota) -> Self {
        self.quota = Some(quota.into_quota());
        self
    }

    /// GCRA (default) or fixed window.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Whose bucket a request counts against.
    pub fn key(mut self, key: KeyExtractor) -> Self {
        self.key = key;
        self
    }

    /// What happens when the key is missing (default: 400).
    pub fn on_missing_key(mut self, missing: MissingKey) -> Self {
        self.missing = missing;
        self
    }

    /// A function giving each request's cost in quota units (default: the request's
    /// [`crate::RateLimitCost`] extension, or 1). A cost of 0 passes without spending.
    pub fn cost_fn<F>(mut self, f: F) -> Self
    where
        F: Fn(&Parts) -> u32 + Send + Sync + 'static,
    {
        self.cost = Some(Arc::new(f));
        self
    }

    /// The policy name in the `RateLimit-Policy` / `RateLimit` fields and in Redis keys
    /// (default `default`). Give each limit on a route its own name.
    pub fn policy_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Whether to send the IETF `RateLimit-Policy` and `RateLimit` fields (default on).
    pub fn ietf_headers(mut self, on: bool) -> Self {
        self.ietf = on;
        self
    }

    /// Whether to send `X-RateLimit-Limit`, `-Remaining` and `-Reset` (default off).
    pub fn x_ratelimit_headers(mut self, on: bool) -> Self {
        self.x_headers = on;
        self
    }

    /// Delay instead of rejecting (see [`Throttle`]).
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The most keys kept in memory (default [`DEFAULT_MAX_KEYS`]), and what a full store does.
    pub fn max_keys(mut self, max_keys: usize, on_full: OnFull) -> Self {
        self.max_keys = max_keys;
        self.on_full = on_full;
        self
    }

    /// The clock (default [`TokioClock`]); a `mlguard_core::ManualClock` makes tests exact.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How refusals are written (default [`RefusalFormat::Auto`]: `grpc-status`
    /// RESOURCE_EXHAUSTED with the detail for gRPC requests, problem bodies otherwise).
    pub fn refusal_format(mut self, format: RefusalFormat) -> Self {
        self.format = format;
        self
    }

    /// Keeps the state in Redis, shared by every instance (feature `redis`).
    #[cfg(feature = "redis")]
    pub fn redis(mut self, backend: crate::RedisBackend) -> Self {
        self.redis = Some(backend);
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(self) -> Result<RateLimitLayer, RateLimitError> {
        let quota = self.quota.ok_or(RateLimitError::MissingQuota)??;
        if self.algorithm == Algorithm::FixedWindow && quota.burst() != quota.count() {
            return Err(RateLimitError::BurstWithFixedWindow);
        }
        if !valid_policy_name(&self.name) {
            return Err(RateLimitError::PolicyName(self.name.chars().take(80).collect()));
        }
        if let MissingKey::Reject(status) = &self.missing
            && !status.is_client_error()
        {
            return Err(RateLimitError::MissingKeyStatus(status.as_u16()));
        }
        if self.max_keys == 0 {
            return Err(RateLimitError::Zero("max_keys"));
        }
        if self.throttle.is_some_and(|t| t.max_waiters == 0) {
            return Err(RateLimitError::Zero("the throttle's max_waiters"));
        }
        let clock = self
            .clock
            .map_or_else(|| TimeSource::Tokio(TokioClock::new()), TimeSource::Shared);
        #[cfg(feature = "redis")]
        let redis = self
            .redis
            .map(|b| b.into_store(&self.name, self.algorithm, quota))
            .transpose()?;
        let limiter = RateLimiter::new(
            quota,
            self.algorithm,
            clock,
            self.max_keys,
            self.on_full,
            #[cfg(feature = "redis")]
            redis,
        );
        let needs_body =
            self.key.needs_body() || matches!(&self.missing, MissingKey::Fallback(k) if k.needs_body());
        let sync = limiter.is_memory_only() && !needs_body;
        let head_only = self.cost.is_none() && self.key.reads_head_only();
        Ok(RateLimitLayer {
            config: Arc::new(Config {
                headers: HeaderPlan::new(&self.name, &quota, self.ietf, self.x_headers),
                limiter,
                key: self.key,
                missing: self.missing,
                cost: self.cost,
                name: self.name,
                throttle: self.throttle.map(|t| ThrottleState {
                    max_delay: t.max_delay,
                    waiters: Arc::new(Semaphore::new(t.max_waiters.min(Semaphore::MAX_PERMITS))),
                }),
                sync,
                head_only,
                format: self.format,
                misconfig: ReportGate::default(),
            }),
        })
    }
}

/// The rate-limiting service made by [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    config: Arc<Config>,
}

enum Step {
    Pass(Option<Fields>),
    Reject(Problem),
    Wait(Duration, Decision),
}

impl Config {
    fn cost_of(&self, parts: &Parts) -> u32 {
        match &self.cost {
            Some(f) => f(parts),
            None => default_cost(&parts.extensions),
        }
    }

    fn missing_problem(&self, status: StatusCode, extractor: &KeyExtractor) -> Problem {
        let detail = format!(
            "This endpoint is rate limited by {}, and the request carries none.",
            extractor.describe()
        );
        if status == StatusCode::UNAUTHORIZED {
            Problem::unauthorized(detail, &WwwAuthenticate::bearer())
        } else {
            Problem::new(status, detail)
        }
    }

    fn note_missing(&self, extractor: &KeyExtractor, parts: &Parts) {
        RateLimitStats::bump(&self.limiter.stats().missing_key);
        tracing::warn!(
            target: "mlguard_ratelimit",
            policy = %self.name,
            key = %extractor.describe(),
            path = %parts.uri.path(),
            "request has no rate limit key"
        );
    }

    /// The refusal of a request whose key `extractor` did not find: 500 and a logged fix when
    /// the server did not provide it, else the configured `status` (counted as missing when
    /// `count`).
    fn no_key(&self, extractor: &KeyExtractor, status: StatusCode, parts: &Parts, count: bool) -> Problem {
        if let Some(fix) = extractor.server_gap(parts) {
            RateLimitStats::bump(&self.limiter.stats().misconfigured);
            if self.misconfig.should_report() {
                tracing::error!(
                    target: "mlguard_ratelimit",
                    policy = %self.name,
                    key = %extractor.describe(),
                    fix,
                    "server misconfigured: the rate limit {:?} is keyed by {}, but {fix}",
                    self.name,
                    extractor.describe(),
                );
            }
            return Problem::server_misconfigured();
        }
        if count {
            self.note_missing(extractor, parts);
        }
        self.missing_problem(status, extractor)
    }

    /// The key from the head only (no body extractor configured).
    fn key_sync(&self, parts: &Parts) -> Result<RateLimitKey, Problem> {
        if let Some(key) = self.key.key_of(parts) {
            return Ok(key);
        }
        match &self.missing {
            MissingKey::Reject(status) => Err(self.no_key(&self.key, *status, parts, true)),
            MissingKey::Fallback(fallback) => {
                self.note_missing(&self.key, parts);
                fallback
                    .key_of(parts)
                    .ok_or_else(|| self.no_key(fallback, StatusCode::BAD_REQUEST, parts, false))
            }
        }
    }

    async fn extract<B>(
        extractor: &KeyExtractor,
        req: Request<B>,
    ) -> Result<(Request<B>, Option<RateLimitKey>), Problem>
    where
        B: Body<Data = Bytes> + From<Bytes>,
        B::Error: Into<BoxError>,
    {
        if let KeyKind::BodyField { name, max_body } = &extractor.kind {
            return body_key::extract(req, name, *max_body).await;
        }
        let (parts, body) = req.into_parts();
        let key = extractor.key_of(&parts);
        Ok((Request::from_parts(parts, body), key))
    }

    async fn key_async<B>(&self, req: Request<B>) -> Result<(Request<B>, RateLimitKey), Problem>
    where
        B: Body<Data = Bytes> + From<Bytes>,
        B::Error: Into<BoxError>,
    {
        let (req, key) = Self::extract(&self.key, req).await?;
        if let Some(key) = key {
            return Ok((req, key));
        }
        let (parts, body) = req.into_parts();
        let fallback = match &self.missing {
            MissingKey::Reject(status) => return Err(self.no_key(&self.key, *status, &parts, true)),
            MissingKey::Fallback(fallback) => fallback,
        };
        self.note_missing(&self.key, &parts);
        let (req, key) = Self::extract(fallback, Request::from_parts(parts, body)).await?;
        match key {
            Some(key) => Ok((req, key)),
            None => {
                let (parts, _) = req.into_parts();
                Err(self.no_key(fallback, StatusCode::BAD_REQUEST, &parts, false))
            }
        }
    }

    fn too_many(&self, d: &Decision) -> Problem {
        RateLimitStats::bump(&self.limiter.stats().rejected);
        let detail = if d.impossible {
            format!(
                "This request costs more than the quota ({}) allows at once.",
                self.limiter.quota()
            )
        } else {
            format!("Rate limit exceeded: {}.", self.limiter.quota())
        };
        let mut problem = Problem::too_many_requests(detail, d.retry_after);
        for (name, value) in self.headers.fields(d).into_iter().flat_map(Fields::into_pairs) {
            problem = problem.with_header(name, value);
        }
        problem
    }

    #[inline]
    fn step(&self, result: Result<Decision, CheckError>) -> Step {
        match result {
            Ok(d) if d.allowed => {
                RateLimitStats::bump(&self.limiter.stats().allowed);
                Step::Pass(self.headers.fields(&d))
            }
            other => self.step_refused(other),
        }
    }

    /// [`step`](Self::step) for a request that does not pass at once.
    #[inline(never)]
    fn step_refused(&self, result: Result<Decision, CheckError>) -> Step {
        match result {
            Ok(d) if d.allowed => {
                RateLimitStats::bump(&self.limiter.stats().allowed);
                Step::Pass(self.headers.fields(&d))
            }
            Ok(d) => match &self.throttle {
                Some(t) if !d.impossible && d.retry_after <= t.max_delay => Step::Wait(d.retry_after, d),
                _ => Step::Reject(self.too_many(&d)),
            },
            Err(CheckError::StoreFull) => Step::Reject(Problem::service_unavailable(
                "The rate limiter is at capacity; try again shortly.",
                Some(Duration::from_secs(1)),
            )),
            Err(CheckError::BackendUnavailable) => Step::Reject(Problem::service_unavailable(
                "The rate limit service is unavailable; try again shortly.",
                Some(Duration::from_secs(1)),
            )),
        }
    }

    /// Waits (bounded in time and in waiters) until the request fits, or rejects it.
    async fn wait(&self, key: &RateLimitKey, cost: u32, first: Duration, decision: Decision) -> Step {
        let Some(throttle) = &self.throttle else {
            return Step::Reject(self.too_many(&decision));
        };
        let Ok(_permit) = throttle.waiters.clone().try_acquire_owned() else {
            return Step::Reject(self.too_many(&decision));
        };
        let deadline = tokio::time::Instant::now() + throttle.max_delay;
        let mut wait = first;
        loop {
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
            match self.limiter.check(key, cost).await {
                Ok(d) if d.allowed => {
                    RateLimitStats::bump(&self.limiter.stats().delayed);
                    RateLimitStats::bump(&self.limiter.stats().allowed);
                    return Step::Pass(self.headers.fields(&d));
                }
                Ok(d) if tokio::time::Instant::now() + d.retry_after <= deadline => wait = d.retry_after,
                other => {
                    return match self.step(other) {
                        Step::Wait(_, d) => Step::Reject(self.too_many(&d)),
                        step => step,
                    };
                }
            }
        }
    }
}

async fn finish<S, ReqBody, ResBody>(
    config: &Config,
    mut inner: S,
    req: Request<ReqBody>,
    step: Step,
    key: &RateLimitKey,
    cost: u32,
    format: RefusalFormat,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    let step = match step {
        Step::Wait(first, d) => config.wait(key, cost, first, d).await,
        step => step,
    };
    match step {
        Step::Pass(fields) => {
            let mut response = inner.call(req).await?;
            add_fields(&mut response, fields);
            Ok(ResponseBody::map_response(response))
        }
        Step::Reject(problem) => Ok(ResponseBody::problem(problem.with_format(format))),
        Step::Wait(_, d) => Ok(ResponseBody::problem(config.too_many(&d).with_format(format))),
    }
}

impl<S> RateLimit<S> {
    /// The synchronous path's answer when the request does not pass at once: a refusal, or a
    /// throttled wait (boxed, with its own clones of the config and the inner service).
    fn sync_refusal<ReqBody, ResBody>(
        &mut self,
        req: Request<ReqBody>,
        step: Step,
        key: RateLimitKey,
        cost: u32,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        ReqBody: Send + 'static,
        ResBody: Send + 'static,
    {
        let format = self.config.format.resolve(req.headers());
        match step {
            Step::Pass(fields) => ResponseFuture::inner(self.inner.call(req), fields),
            Step::Reject(problem) => ResponseFuture::reject(problem.with_format(format)),
            step @ Step::Wait(..) => {
                let config = self.config.clone();
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::boxed(Box::pin(async move {
                    finish(&config, inner, req, step, &key, cost, format).await
                }))
            }
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body<Data = Bytes> + From<Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.config.sync {
            // The decision is taken here, on a borrowed config: the `Arc` is cloned only for
            // the throttled (boxed) path.
            let config = &*self.config;
            if config.head_only
                && let Some(key) = config.key.key_of_head(req.headers(), req.extensions())
            {
                // The common case: key and cost read in place, the request never taken apart.
                let cost = default_cost(req.extensions());
                let result = config.limiter.check_local(&key, cost);
                if let Ok(d) = &result
                    && d.allowed
                {
                    RateLimitStats::bump(&config.limiter.stats().allowed);
                    let fields = config.headers.fields(d);
                    return ResponseFuture::inner(self.inner.call(req), fields);
                }
                let step = config.step(result);
                return self.sync_refusal(req, step, key, cost);
            }
            let (parts, body) = req.into_parts();
            let key = match config.key_sync(&parts) {
                Ok(key) => key,
                Err(problem) => {
                    let format = config.format.resolve(&parts.headers);
                    return ResponseFuture::reject(problem.with_format(format));
                }
            };
            let cost = config.cost_of(&parts);
            let req = Request::from_parts(parts, body);
            return match config.step(config.limiter.check_local(&key, cost)) {
                Step::Pass(fields) => ResponseFuture::inner(self.inner.call(req), fields),
                step => self.sync_refusal(req, step, key, cost),
            };
        }
        let format = self.config.format.resolve(req.headers());
        let config = self.config.clone();
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::boxed(Box::pin(async move {
            let (req, key) = match config.key_async(req).await {
                Ok(found) => found,
                Err(problem) => return Ok(ResponseBody::problem(problem.with_format(format))),
            };
            let (parts, body) = req.into_parts();
            let cost = config.cost_of(&parts);
            let req = Request::from_parts(parts, body);
            let step = config.step(config.limiter.check(&key, cost).await);
            finish(&config, inner, req, step, &key, cost, format).await
        }))
    }
}
