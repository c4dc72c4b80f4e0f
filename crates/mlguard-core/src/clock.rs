//! Injectable time.
//!
//! Expiry checks, quotas and token lifetimes read the time through a [`Clock`], so tests can
//! set it ([`ManualClock`]) and be exact and fast instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Seconds since the Unix epoch (0 for times before it).
    fn unix_secs(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// The operating system's clock.
///
/// ```
/// use mlguard_core::{Clock, SystemClock};
/// assert!(SystemClock.unix_secs() > 1_600_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; clones share the same time. For tests.
///
/// ```
/// use std::time::Duration;
/// use mlguard_core::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(shared.unix_secs(), 1_005);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock set to `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(secs.saturating_mul(1_000_000_000))),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(by)));
    }

    /// Sets the clock to an absolute time.
    pub fn set(&self, to: SystemTime) {
        let n = to
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.nanos.store(n, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// A shared, type-erased clock, as layers store it.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at_unix(10);
        assert_eq!(c.unix_secs(), 10);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now(), UNIX_EPOCH + Duration::from_millis(11_500));
        c.set(UNIX_EPOCH + Duration::from_secs(3));
        assert_eq!(c.unix_secs(), 3);
        c.advance(Duration::MAX);
        assert!(c.unix_secs() > 0);
    }
}
