//! The default clock: wall time at start plus tokio's monotonic time since.

use mlguard_core::Clock;
use std::time::SystemTime;

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
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock starting at the current wall time.
    pub fn new() -> Self {
        Self {
            base: SystemTime::now(),
            start: tokio::time::Instant::now(),
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
