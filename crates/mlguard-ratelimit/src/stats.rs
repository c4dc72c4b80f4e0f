//! Counters a server can export (Prometheus, logs): what the limiter decided and what went wrong.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters, shared by every clone of a layer. Read them with [`snapshot`](Self::snapshot).
///
/// ```
/// let stats = mlguard_ratelimit::RateLimitStats::default();
/// assert_eq!(stats.snapshot().allowed, 0);
/// ```
#[derive(Debug, Default)]
pub struct RateLimitStats {
    pub(crate) allowed: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) delayed: AtomicU64,
    pub(crate) missing_key: AtomicU64,
    pub(crate) misconfigured: AtomicU64,
    pub(crate) store_full: AtomicU64,
    pub(crate) evicted_live: AtomicU64,
    pub(crate) backend_errors: AtomicU64,
    pub(crate) fallback_decisions: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Requests let through (including delayed ones).
    pub allowed: u64,
    /// Requests answered 429.
    pub rejected: u64,
    /// Requests that waited (throttling) and then passed.
    pub delayed: u64,
    /// Requests with no key for the configured extractor (rejected or sent to the fallback).
    pub missing_key: u64,
    /// Requests answered 500 because the server did not provide what the key needs (no peer
    /// address, no authentication layer in front); an error is logged once a minute.
    pub misconfigured: u64,
    /// New keys refused because the store was full ([`crate::OnFull::Reject`]), answered 503.
    pub store_full: u64,
    /// Keys forgotten before they expired to make room for new ones.
    pub evicted_live: u64,
    /// Backend (Redis) calls that failed or timed out.
    pub backend_errors: u64,
    /// Requests decided by the local fallback limiter (or refused with 503) because the
    /// backend failed.
    pub fallback_decisions: u64,
}

impl RateLimitStats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            allowed: get(&self.allowed),
            rejected: get(&self.rejected),
            delayed: get(&self.delayed),
            missing_key: get(&self.missing_key),
            misconfigured: get(&self.misconfigured),
            store_full: get(&self.store_full),
            evicted_live: get(&self.evicted_live),
            backend_errors: get(&self.backend_errors),
            fallback_decisions: get(&self.fallback_decisions),
        }
    }

    #[inline]
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
