//! Where per-key state lives: in memory (always, also as the Redis fallback) or in Redis.

pub(crate) mod global;
pub(crate) mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;
