//! Server misconfiguration, reported loudly and never blamed on the client.
//!
//! A layer that reads something only the server can provide (the peer address, a
//! [`Principal`](crate::Principal) written by an authentication layer in front of it) and does
//! not find it cannot tell the client anything useful: every request would fail the same way.
//! It answers [`Problem::server_misconfigured`](crate::Problem::server_misconfigured) (500, a
//! fixed detail that reveals nothing) and logs an error that names the fix; a [`ReportGate`]
//! keeps that error to one line per interval however many requests hit it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The interval of [`ReportGate::default`]: one report a minute.
pub const DEFAULT_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Lets one report through per interval (the first one at once).
///
/// ```
/// use std::time::Duration;
/// let gate = mlguard_core::misconfig::ReportGate::new(Duration::from_secs(60));
/// assert!(gate.should_report());
/// assert!(!gate.should_report());
/// ```
#[derive(Debug)]
pub struct ReportGate {
    start: Instant,
    every: Duration,
    // Milliseconds since `start` of the next allowed report, plus one; 0 = never reported.
    next: AtomicU64,
}

impl Default for ReportGate {
    fn default() -> Self {
        Self::new(DEFAULT_REPORT_INTERVAL)
    }
}

impl ReportGate {
    /// A gate that lets one report through every `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            start: Instant::now(),
            every,
            next: AtomicU64::new(0),
        }
    }

    /// Whether to report now; at most once per interval across all threads.
    pub fn should_report(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let every = u64::try_from(self.every.as_millis()).unwrap_or(u64::MAX);
        let next = self.next.load(Ordering::Relaxed);
        if next != 0 && now.saturating_add(1) < next {
            return false;
        }
        let new = now.saturating_add(every).saturating_add(1);
        self.next
            .compare_exchange(next, new, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_interval_reports_every_time_and_a_long_one_once() {
        let always = ReportGate::new(Duration::ZERO);
        assert!(always.should_report());
        assert!(always.should_report());
        let once = ReportGate::default();
        assert!(once.should_report());
        for _ in 0..100 {
            assert!(!once.should_report());
        }
    }
}
