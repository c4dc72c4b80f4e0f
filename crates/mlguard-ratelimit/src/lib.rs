//! Rate limiting as a tower layer: GCRA and fixed window, in memory or in Redis.
//!
//! Work in progress.

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
