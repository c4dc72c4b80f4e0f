//! The shared state of one limit: quota, algorithm, clock, store(s) and counters.

use crate::algorithm::Decision;
use crate::clock::TimeSource;
use crate::stats::RateLimitStats;
use crate::store::global::GlobalCell;
use crate::store::memory::MemoryStore;
use crate::{Algorithm, OnFull, Quota, RateLimitKey};
use std::sync::Arc;

/// Why a check could not be decided against the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The memory store is full and configured to refuse new keys ([`OnFull::Reject`]).
    #[error("the rate limiter tracks as many keys as it may")]
    StoreFull,
    /// The shared backend failed and the layer is configured to fail closed.
    #[error("the rate limit backend is unavailable")]
    BackendUnavailable,
}

/// One limit's state, shared by every clone of its layer (one `Arc`). Get it from
/// [`RateLimitLayer::limiter`](crate::RateLimitLayer::limiter) to check keys yourself (for
/// example in a handler) or to read its counters.
///
/// ```
/// use mlguard_ratelimit::{RateLimitKey, RateLimitLayer};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let layer = RateLimitLayer::builder().quota("2/minute").build()?;
/// let key = RateLimitKey::custom("alice");
/// assert!(layer.limiter().check(&key, 1).await?.allowed);
/// assert!(layer.limiter().check(&key, 1).await?.allowed);
/// assert!(!layer.limiter().check(&key, 1).await?.allowed);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    quota: Quota,
    algorithm: Algorithm,
    clock: TimeSource,
    /// The bucket of [`RateLimitKey::Global`]: one atomic word (GCRA) or one small lock (fixed
    /// window), outside the keyed store (no hash, no shard, never evicted).
    global: GlobalCell,
    memory: MemoryStore,
    stats: Arc<RateLimitStats>,
    #[cfg(feature = "redis")]
    redis: Option<crate::store::redis::RedisStore>,
}

impl RateLimiter {
    pub(crate) fn new(
        quota: Quota,
        algorithm: Algorithm,
        clock: TimeSource,
        max_keys: usize,
        on_full: OnFull,
        #[cfg(feature = "redis")] redis: Option<crate::store::redis::RedisStore>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                quota,
                algorithm,
                clock,
                global: GlobalCell::new(algorithm, &quota),
                memory: MemoryStore::new(algorithm, quota, max_keys, on_full),
                stats: Arc::new(RateLimitStats::default()),
                #[cfg(feature = "redis")]
                redis,
            }),
        }
    }

    /// The quota.
    pub fn quota(&self) -> &Quota {
        &self.inner.quota
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.algorithm
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<RateLimitStats> {
        &self.inner.stats
    }

    /// Keys the memory store tracks now (with Redis: the local fallback's keys). The global
    /// key ([`RateLimitKey::Global`]) counts once it has been checked; it is kept apart from the
    /// keyed store and takes none of its [`max_keys`](Self::max_keys) places.
    pub fn tracked_keys(&self) -> usize {
        self.inner.memory.len() + usize::from(self.inner.global.in_use())
    }

    /// The most keys the memory store will ever track.
    pub fn max_keys(&self) -> usize {
        self.inner.memory.capacity()
    }

    pub(crate) fn is_memory_only(&self) -> bool {
        #[cfg(feature = "redis")]
        if self.inner.redis.is_some() {
            return false;
        }
        true
    }

    /// Checks `cost` units for `key` in the memory store, now.
    #[inline(always)]
    pub fn check_local(&self, key: &RateLimitKey, cost: u32) -> Result<Decision, CheckError> {
        let inner = &*self.inner;
        let now = inner.clock.now_nanos();
        if let RateLimitKey::Global = key {
            return Ok(inner.global.check(now, cost));
        }
        self.check_memory(key, now, cost)
    }

    #[inline(never)]
    fn check_memory(&self, key: &RateLimitKey, now: u64, cost: u32) -> Result<Decision, CheckError> {
        match self.inner.memory.check(key, now, cost) {
            Ok((decision, evicted)) => {
                if evicted {
                    RateLimitStats::bump(&self.inner.stats.evicted_live);
                }
                Ok(decision)
            }
            Err(_) => {
                RateLimitStats::bump(&self.inner.stats.store_full);
                Err(CheckError::StoreFull)
            }
        }
    }

    /// Checks `cost` units for `key` in the configured backend (memory, or Redis with its
    /// failure policy), and spends them when allowed.
    pub async fn check(&self, key: &RateLimitKey, cost: u32) -> Result<Decision, CheckError> {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.inner.redis {
            match redis.check(key, cost).await {
                Ok(decision) => return Ok(decision),
                Err(failed) => {
                    if failed.attempted {
                        RateLimitStats::bump(&self.inner.stats.backend_errors);
                    }
                    RateLimitStats::bump(&self.inner.stats.fallback_decisions);
                    return match redis.on_failure() {
                        crate::OnRedisFailure::FailOpenLocal => self.check_local(key, cost),
                        crate::OnRedisFailure::FailClosed => Err(CheckError::BackendUnavailable),
                    };
                }
            }
        }
        self.check_local(key, cost)
    }
}
