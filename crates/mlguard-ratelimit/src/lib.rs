//! Rate limiting as a tower layer: GCRA and fixed window, in memory or in Redis.
//!
//! **What it protects against:** credential stuffing and password guessing on a login route
//! (per address *and* per username), one client or key starving the model for everyone, and
//! the classic failure modes of rate limiters themselves:
//!
//! - a client picking a fresh bucket with a forged `X-Forwarded-For` (addresses come from
//!   [`mlguard_core::ClientIpResolver`], which believes forwarding headers only from trusted
//!   proxies), or with each of the 2^64 addresses of its IPv6 /64 (aggregated to a prefix);
//! - memory growing without bound under a flood of distinct keys (idle keys are swept out as a
//!   side effect of inserts, and a hard cap holds; no thread to spawn);
//! - `Retry-After: 0` (always rounded up, at least 1), a 500 when a client's request has no
//!   key (a configured 4xx or a fallback key instead), per-connection limiters that limit
//!   nothing (every clone shares one `Arc`'d state);
//! - a limit that silently refuses everyone: an app served without the peer address, or a
//!   per-principal limit with no authentication in front, answers 500 `server misconfigured`
//!   and logs an error naming the fix, never a 4xx that blames the client;
//! - several instances each allowing the full quota (the Redis backend shares one quota).
//!
//! # Example
//!
//! slowapi's tutorial limits, in axum: `5/minute` by client address on `/token` (plus a
//! per-username limit read from the form body), `10/minute` by principal on `/predict`.
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use mlguard_core::{ClientIpResolver, TrustedProxies};
//! use mlguard_ratelimit::{KeyExtractor, MissingKey, RateLimitLayer};
//! use std::convert::Infallible;
//! use std::net::SocketAddr;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Behind a reverse proxy on 10.0.0.0/8; without one, `ClientIpResolver::new()`.
//!     let resolver = ClientIpResolver::new()
//!         .with_trusted_proxies("10.0.0.0/8".parse::<TrustedProxies>()?);
//!
//!     let token_by_ip = RateLimitLayer::builder()
//!         .quota("5/minute")
//!         .key(KeyExtractor::client_ip(resolver.clone()))
//!         .policy_name("token-ip")
//!         .build()?;
//!     let token_by_user = RateLimitLayer::builder()
//!         .quota("5/minute")
//!         .key(KeyExtractor::body_field("username"))
//!         .on_missing_key(MissingKey::Fallback(KeyExtractor::client_ip(resolver.clone())))
//!         .policy_name("token-user")
//!         .build()?;
//!     let predict_by_principal = RateLimitLayer::builder()
//!         .quota("10/minute")
//!         .key(KeyExtractor::principal()) // the typed id the authentication layer wrote
//!         .on_missing_key(MissingKey::Fallback(KeyExtractor::client_ip(resolver)))
//!         .policy_name("predict")
//!         .build()?;
//!
//!     let app = Router::new()
//!         .route(
//!             "/token",
//!             post(|| async { "token" })
//!                 .layer::<_, Infallible>(token_by_user)
//!                 .layer(token_by_ip),
//!         )
//!         .route("/predict", post(|| async { "prediction" }).layer(predict_by_principal));
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//!     // ConnectInfo gives the layer the peer address.
//!     axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//!     Ok(())
//! }
//! ```
//!
//! # Algorithms
//!
//! [`Algorithm::Gcra`] (default) and [`Algorithm::FixedWindow`] (slowapi's default, for
//! parity); the table in [`Algorithm`]'s docs compares them, burst behaviour included. In short:
//! GCRA lets `burst` (default: the count) through at once and then one request per
//! `period / count`; a fixed window lets `count` through per window, so up to `2 × count` can
//! pass around a window boundary.
//!
//! GCRA is implemented here, not taken from governor: governor's keyed store (a `DashMap`)
//! grows until the user calls `retain_recent` from a task of their own, has no cap on keys, and
//! has no fixed window; and the Redis script must do the same arithmetic. One small
//! implementation ([`Algorithm`], ~60 lines of arithmetic) serves the memory store, the Redis
//! Lua script and exact `Retry-After` / `RateLimit` values, on an injectable
//! [`mlguard_core::Clock`].
//!
//! # Keys, cost, missing keys
//!
//! [`KeyExtractor`]: client address, the principal's typed id ([`KeyExtractor::principal`]: an
//! API key and a user of the same name are two buckets), principal subject, API key id, a form
//! or JSON body field
//! (buffered up to a bound, 413 beyond, re-attached for the handler), global, or a function.
//! A request without a key gets [`MissingKey::Reject`] (a 4xx problem; 400 by default) or
//! [`MissingKey::Fallback`]; it is logged and counted. A key the *server* failed to provide is
//! a 500 `server misconfigured` with an error log naming the fix (at most once a minute per
//! layer), counted in [`StatsSnapshot::misconfigured`]: a client-address key without a peer
//! address (serve axum with `into_make_service_with_connect_info::<SocketAddr>()` and turn on
//! this crate's `axum` feature, or insert a `mlguard_core::PeerAddr`), or a principal key with
//! no authentication layer in front (no principal and no [`mlguard_core::Anonymous`] mark).
//!
//! Refusals to gRPC requests (`content-type: application/grpc`) are `grpc-status`
//! RESOURCE_EXHAUSTED (8) with the detail as `grpc-message` and the `RateLimit` fields as
//! metadata, not problem bodies ([`RateLimitLayerBuilder::refusal_format`]).
//!
//! A request costs 1 unit, or the [`RateLimitCost`] a previous layer put in its extensions
//! (e.g. the rows of a batch prediction), or what [`RateLimitLayerBuilder::cost_fn`] says.
//! Per-route quotas: one layer per route (`.layer(...)` on the route), each with its own
//! state and policy name.
//!
//! # Responses
//!
//! Over the limit: `429` with an RFC 9457 problem body and `Retry-After` in whole seconds,
//! rounded up, never 0. Every response of a limited route carries the IETF fields of
//! draft-ietf-httpapi-ratelimit-headers-10 (see [`headers`]): `RateLimit-Policy:
//! "default";q=10;w=60` and `RateLimit: "default";r=3;t=42`; `X-RateLimit-Limit`,
//! `-Remaining`, `-Reset` on request. A full store in [`OnFull::Reject`] mode, or Redis failing
//! closed, answers `503` with `Retry-After: 1`.
//!
//! [`Throttle`] delays an over-quota request until its turn (up to a bound, with a cap on
//! waiters; beyond either: 429 at once) instead of rejecting it. It sleeps on tokio's timer,
//! so tests run on paused time.
//!
//! # Memory
//!
//! The memory store is sharded (up to 64 shards, each a `Mutex<HashMap>`). A key stops mattering
//! when its bucket is full again (GCRA) or its window ended; each shard drops such keys when a
//! new key arrives and its sweep interval (the quota's refill time, 1 to 60 s) has passed, so
//! idle keys go with no thread. At most `max_keys` keys are tracked ([`DEFAULT_MAX_KEYS`] =
//! 100 000); a new key at a full shard takes an expired key's place, or else
//! [`OnFull::EvictSoonestExpiring`] (default: forget the key, of a sample of 8, closest to
//! expiry) or [`OnFull::Reject`] (503). Measured with
//! `cargo run --release -p mlguard-ratelimit --example memory_per_key` (resident memory over one
//! million keys, hash-table slack included): 88 bytes per address key, 116 per 16-byte text key
//! (text keys are cut at [`MAX_KEY_LEN`] bytes); so the default cap costs about 9 to 12 MB per
//! limit at worst. The global key ([`KeyExtractor::global`]) is kept apart from the keyed
//! store, in one bucket of its own (for GCRA one atomic word updated by compare-and-swap, for a
//! fixed window one small lock): no hashing, no shard, never evicted, and it takes none of the
//! `max_keys` places.
//!
//! # Redis (feature `redis`)
//!
//! `RedisBackend` keeps the state in Redis: one Lua script, loaded once and run with
//! `EVALSHA` (the redis crate's `Script` falls back to loading it on `NOSCRIPT`), does GCRA or
//! fixed window atomically, with the time from Redis's own `TIME`, so instances with skewed
//! clocks agree. Keys carry TTLs (until the bucket is full again, or the window ends). Each call
//! is bounded by a timeout (default 100 ms, connecting included); on failure the layer fails
//! open to a local in-memory limiter of the same quota (default) or closed with 503, logs it,
//! counts it in [`RateLimitStats`], and skips Redis for a backoff (1 s) so a dead Redis costs
//! one timeout per backoff, not one per request.
//!
//! # Defaults
//!
//! | setting | default | why |
//! |---|---|---|
//! | algorithm | GCRA | no double quota at window boundaries |
//! | burst | the count | slowapi's behaviour |
//! | key | client address, no proxy trusted, IPv6 per /64 | the only key every request has; a /64 is one subscriber |
//! | missing key | 400 | the client's request lacks what the route is limited by |
//! | key the server did not provide | 500, error logged once a minute | the server's mistake, not the client's |
//! | refusal format | gRPC for `application/grpc` requests, problem+json otherwise | each client reads its own protocol |
//! | cost | 1, or [`RateLimitCost`] | |
//! | headers | IETF on, `X-RateLimit-*` off | the draft is the standard track |
//! | max keys | 100 000, evict soonest-expiring | bounded memory without refusing clients |
//! | body bound (field keys) | 16 KiB | a login form is far smaller |
//! | clock | [`TokioClock`] | monotonic, follows paused test time |
//! | Redis | 100 ms timeout, fail open locally, 1 s backoff | a limiter outage should not be an API outage |
//!
//! # Features
//!
//! - `redis`: the Redis backend (`RedisBackend`, `OnRedisFailure`).
//! - `axum`: the peer address from axum's `ConnectInfo<SocketAddr>` (turns on `mlguard-core/axum`),
//!   for per-address limits in an app served with `into_make_service_with_connect_info`.

mod algorithm;
mod body_key;
mod clock;
mod cost;
mod error;
mod future;
pub mod headers;
mod key;
mod layer;
mod limiter;
pub mod metrics;
mod quota;
mod stats;
mod store;

pub use algorithm::{Algorithm, Decision};
pub use clock::TokioClock;
pub use cost::RateLimitCost;
pub use error::RateLimitError;
pub use future::ResponseFuture;
pub use key::{DEFAULT_MAX_BODY, DEFAULT_V6_PREFIX, KeyExtractor, MAX_KEY_LEN, MissingKey, RateLimitKey};
pub use layer::{DEFAULT_MAX_KEYS, IntoQuota, RateLimit, RateLimitLayer, RateLimitLayerBuilder, Throttle};
pub use limiter::{CheckError, RateLimiter};
pub use quota::{MAX_COUNT, MAX_PERIOD, Quota, QuotaError};
pub use stats::{RateLimitStats, StatsSnapshot};
pub use store::memory::OnFull;
#[cfg(feature = "redis")]
pub use store::redis::{OnRedisFailure, RedisBackend};
