//! The default clock: wall time at start plus tokio's monotonic time since.

use mlguard_core::{Clock, SharedClock};
use std::time::{SystemTime, UNIX_EPOCH};

/// A [`Clock`] that reads the wall clock once, at creation, and then moves with
/// `tokio::time::Instant`: monotonic (a wall-clock step cannot refill or drain buckets), and it
/// follows tokio's paused test time (`#[tokio::test(start_paused = true)]`), so throttling and
/// refill tests run exactly and instantly. This is the layer's default clock.
///
/// ```
/// use mlguard_core::Clock;
/// let clock = mlguard_ratelimit::TokioClock::new();
/// assert!(clock.unix_secs() > 1_600_000_000);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: SystemTime,
    /// `base` in nanoseconds since the epoch, for [`TimeSource`]'s integer path.
    base_nanos: u64,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock starting at the current wall time.
    pub fn new() -> Self {
        let base = SystemTime::now();
        Self {
            base,
            base_nanos: nanos_since_epoch(base),
            start: tokio::time::Instant::now(),
        }
    }

    /// Nanoseconds since the epoch, now: the same instant as [`Clock::now`], in integers only
    /// (no `SystemTime` arithmetic, no virtual call).
    #[inline]
    fn now_nanos(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.base_nanos.saturating_add(elapsed)
    }
}

fn nanos_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Where a limiter reads the time: the default [`TokioClock`] directly (the request path reads
/// it as an integer), or any injected [`Clock`] through its trait object.
#[derive(Debug, Clone)]
pub(crate) enum TimeSource {
    Tokio(TokioClock),
    Shared(SharedClock),
}

impl TimeSource {
    /// Nanoseconds since the Unix epoch (0 before it, `u64::MAX` from the year 2554).
    #[inline]
    pub(crate) fn now_nanos(&self) -> u64 {
        match self {
            Self::Tokio(clock) => clock.now_nanos(),
            Self::Shared(clock) => nanos_since_epoch(clock.now()),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.base + self.start.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_integer_path_reads_the_same_instant_as_the_clock() {
        let clock = TokioClock::new();
        let source = TimeSource::Tokio(clock);
        for step in [0, 1, 999, 6_000_000_000] {
            tokio::time::advance(Duration::from_nanos(step)).await;
            assert_eq!(source.now_nanos(), nanos_since_epoch(clock.now()));
        }
        assert!(source.now_nanos() >= clock.base_nanos + 6_000_001_000);
    }
}
