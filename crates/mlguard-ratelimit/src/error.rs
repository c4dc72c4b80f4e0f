//! Configuration errors, reported once by [`crate::RateLimitLayerBuilder::build`].

use crate::QuotaError;

/// Why a rate limit layer could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// The quota string or value is invalid.
    #[error("invalid quota: {0}")]
    Quota(#[from] QuotaError),
    /// No quota was given.
    #[error("a rate limit needs a quota")]
    MissingQuota,
    /// A fixed window has no burst: it allows `count` per window.
    #[error("an explicit burst only applies to GCRA, not to a fixed window")]
    BurstWithFixedWindow,
    /// The policy name is not a token of letters, digits, `-`, `_` or `.` (1 to 64 bytes).
    #[error("policy name {0:?} must be 1 to 64 letters, digits, '-', '_' or '.'")]
    PolicyName(String),
    /// The status for a missing key is not a 4xx.
    #[error("a missing key must be rejected with a 4xx status, not {0}")]
    MissingKeyStatus(u16),
    /// `max_keys` or the throttle's waiter cap is 0.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// The Redis URL or connection settings are invalid.
    #[error("invalid Redis configuration: {0}")]
    Redis(String),
}
