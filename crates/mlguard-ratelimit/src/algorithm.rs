//! The two algorithms, as pure functions of (state, now, quota, cost).
//!
//! The memory store runs these under a shard lock; the Redis script implements the same
//! arithmetic in Lua. Times are nanoseconds since the Unix epoch.

use crate::Quota;
use std::time::Duration;

/// How a quota is enforced.
///
/// | | GCRA (default) | fixed window (slowapi's default) |
/// |---|---|---|
/// | state per key | one timestamp (the theoretical arrival time) | window start and a counter |
/// | refill | continuous: one unit every `period / count` | all at once, when the window ends |
/// | at most at once | `burst` (default `count`) | `count` |
/// | worst case over any `period` | `count + burst` (a full burst, then the steady rate) | `2 × count` (the end of one window and the start of the next) |
/// | `Retry-After` | when the next unit has refilled | when the window ends |
///
/// GCRA is the better limiter: a client that spent its burst gets one request per emission
/// interval, not a whole new quota at a window boundary. Fixed window exists for parity with
/// slowapi (`limits`' `FixedWindowRateLimiter`: the window starts at a key's first request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// Generic cell rate algorithm: a token bucket kept as one timestamp.
    #[default]
    Gcra,
    /// A counter per key that resets `period` after the key's first request.
    FixedWindow,
}

impl Algorithm {
    /// A short name, used in Redis keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gcra => "gcra",
            Self::FixedWindow => "fw",
        }
    }
}

/// The outcome of one check against a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// Whether the request may pass.
    pub allowed: bool,
    /// Units that could still pass right now, after this request.
    pub remaining: u64,
    /// Time until the key's quota is whole again (GCRA: the bucket is full; fixed window: the
    /// window ends). The `t` of the `RateLimit` field.
    pub reset: Duration,
    /// When denied: time until this request's cost would pass. Zero when allowed.
    pub retry_after: Duration,
    /// The cost is larger than the quota can ever allow at once.
    pub impossible: bool,
}

/// One key's state. GCRA: `a` is the theoretical arrival time. Fixed window: `a` is the window
/// start and `b` the units spent in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Cell {
    pub(crate) a: u64,
    pub(crate) b: u32,
}

fn dur(nanos: u64) -> Duration {
    Duration::from_nanos(nanos)
}

impl Algorithm {
    /// Checks one request of `cost` units at `now`; returns the new state (to store when
    /// allowed) and the decision. (The stores keep [`Rates`] and call its `check`.)
    #[cfg(test)]
    pub(crate) fn check(self, cell: Option<Cell>, now: u64, quota: &Quota, cost: u32) -> (Cell, Decision) {
        Rates::new(self, quota).check(cell, now, cost)
    }

    /// When a stored cell stops mattering: removing it then changes no decision.
    #[cfg(test)]
    pub(crate) fn expires_at(self, cell: Cell, quota: &Quota) -> u64 {
        match self {
            Self::Gcra => cell.a,
            Self::FixedWindow => cell.a.saturating_add(quota.period_nanos()),
        }
    }
}

/// An algorithm with its quota's numbers worked out once (the per-request path does no
/// `Duration` arithmetic and no division for them): what a store keeps to check requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rates {
    algorithm: Algorithm,
    /// GCRA's emission interval `T` (ns).
    t: u64,
    /// GCRA's burst tolerance `T × burst` (ns).
    tau: u64,
    burst: u32,
    count: u32,
    period_nanos: u64,
    period: Duration,
}

impl Rates {
    pub(crate) fn new(algorithm: Algorithm, quota: &Quota) -> Self {
        let t = quota.emission_interval_nanos();
        Self {
            algorithm,
            t,
            tau: t.saturating_mul(u64::from(quota.burst())),
            burst: quota.burst(),
            count: quota.count(),
            period_nanos: quota.period_nanos(),
            period: quota.period(),
        }
    }

    /// See [`Algorithm::expires_at`].
    pub(crate) fn expires_at(&self, cell: Cell) -> u64 {
        match self.algorithm {
            Algorithm::Gcra => cell.a,
            Algorithm::FixedWindow => cell.a.saturating_add(self.period_nanos),
        }
    }

    /// See [`Algorithm::check`].
    #[inline(always)]
    pub(crate) fn check(&self, cell: Option<Cell>, now: u64, cost: u32) -> (Cell, Decision) {
        match self.algorithm {
            Algorithm::Gcra => self.gcra(cell, now, cost),
            Algorithm::FixedWindow => self.fixed_window(cell, now, cost),
        }
    }

    #[inline]
    fn gcra(&self, cell: Option<Cell>, now: u64, cost: u32) -> (Cell, Decision) {
        let (t, tau) = (self.t, self.tau);
        let tat = cell.map_or(now, |c| c.a.max(now));
        let new_tat = tat.saturating_add(t.saturating_mul(u64::from(cost)));
        let old = Cell { a: tat, b: 0 };
        if cost > self.burst {
            let decision = Decision {
                allowed: false,
                remaining: (tau - (tat - now).min(tau)) / t,
                reset: dur(tat - now),
                retry_after: self.period,
                impossible: true,
            };
            return (old, decision);
        }
        if new_tat - now <= tau {
            let decision = Decision {
                allowed: true,
                remaining: (tau - (new_tat - now)) / t,
                reset: dur(new_tat - now),
                retry_after: Duration::ZERO,
                impossible: false,
            };
            (Cell { a: new_tat, b: 0 }, decision)
        } else {
            let decision = Decision {
                allowed: false,
                remaining: (tau - (tat - now).min(tau)) / t,
                reset: dur(tat - now),
                retry_after: dur(new_tat - tau - now),
                impossible: false,
            };
            (old, decision)
        }
    }

    #[inline]
    fn fixed_window(&self, cell: Option<Cell>, now: u64, cost: u32) -> (Cell, Decision) {
        let period = self.period_nanos;
        let limit = self.count;
        let current = cell.filter(|c| c.a.saturating_add(period) > now && c.a <= now);
        let (start, spent) = current.map_or((now, 0), |c| (c.a, c.b));
        let reset = dur(start.saturating_add(period) - now);
        let remaining_before = u64::from(limit.saturating_sub(spent));
        if cost > limit {
            let decision = Decision {
                allowed: false,
                remaining: remaining_before,
                reset,
                retry_after: self.period,
                impossible: true,
            };
            return (Cell { a: start, b: spent }, decision);
        }
        if u64::from(spent) + u64::from(cost) <= u64::from(limit) {
            let spent = spent + cost;
            let decision = Decision {
                allowed: true,
                remaining: u64::from(limit - spent),
                reset,
                retry_after: Duration::ZERO,
                impossible: false,
            };
            (Cell { a: start, b: spent }, decision)
        } else {
            let decision = Decision {
                allowed: false,
                remaining: remaining_before,
                reset,
                retry_after: reset,
                impossible: false,
            };
            (Cell { a: start, b: spent }, decision)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn run(alg: Algorithm, quota: &str, times_s: &[f64]) -> Vec<bool> {
        let quota: Quota = quota.parse().unwrap();
        let mut cell = None;
        times_s
            .iter()
            .map(|t| {
                let now = 1_000 * S + (t * 1e9) as u64;
                let (next, d) = alg.check(cell, now, &quota, 1);
                if d.allowed {
                    cell = Some(next);
                }
                d.allowed
            })
            .collect()
    }

    #[test]
    fn gcra_allows_the_burst_then_one_per_interval() {
        // 10/minute: 10 at once, then one every 6 s.
        let mut times = vec![0.0; 11];
        times.extend([5.9, 6.0, 6.1, 12.0]);
        let got = run(Algorithm::Gcra, "10/minute", &times);
        let mut want = vec![true; 10];
        want.extend([false, false, true, false, true]);
        assert_eq!(got, want);
    }

    #[test]
    fn gcra_retry_after_is_exact() {
        let quota: Quota = "10/minute".parse().unwrap();
        let now = 1_000 * S;
        let mut cell = None;
        for _ in 0..10 {
            cell = Some(Algorithm::Gcra.check(cell, now, &quota, 1).0);
        }
        let (_, d) = Algorithm::Gcra.check(cell, now + S, &quota, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(5));
        assert_eq!(d.reset, Duration::from_secs(59));
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn gcra_explicit_burst_is_separate_from_the_rate() {
        let got = run(
            Algorithm::Gcra,
            "60/minute; burst=3",
            &[0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        );
        assert_eq!(got, [true, true, true, false, true, false]);
    }

    #[test]
    fn fixed_window_resets_at_the_window_end() {
        let got = run(
            Algorithm::FixedWindow,
            "3/minute",
            &[0.0, 10.0, 20.0, 59.9, 60.0, 60.0, 60.0, 61.0],
        );
        assert_eq!(got, [true, true, true, false, true, true, true, false]);
    }

    #[test]
    fn fixed_window_reports_the_window_end() {
        let quota: Quota = "2/minute".parse().unwrap();
        let t0 = 1_000 * S;
        let (c, d) = Algorithm::FixedWindow.check(None, t0, &quota, 1);
        assert_eq!((d.remaining, d.reset), (1, Duration::from_secs(60)));
        let (c, _) = Algorithm::FixedWindow.check(Some(c), t0, &quota, 1);
        let (_, d) = Algorithm::FixedWindow.check(Some(c), t0 + 15 * S, &quota, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(45));
    }

    #[test]
    fn cost_counts_units_and_too_large_is_impossible() {
        let quota: Quota = "10/minute".parse().unwrap();
        for alg in [Algorithm::Gcra, Algorithm::FixedWindow] {
            let (c, d) = alg.check(None, S, &quota, 7);
            assert!(d.allowed);
            assert_eq!(d.remaining, 3, "{alg:?}");
            let (_, d) = alg.check(Some(c), S, &quota, 4);
            assert!(!d.allowed && !d.impossible);
            let (_, d) = alg.check(None, S, &quota, 11);
            assert!(!d.allowed && d.impossible);
            assert_eq!(d.retry_after, Duration::from_secs(60));
        }
    }

    #[test]
    fn expiry_marks_a_state_equal_to_none() {
        let quota: Quota = "10/minute".parse().unwrap();
        for alg in [Algorithm::Gcra, Algorithm::FixedWindow] {
            let (c, _) = alg.check(None, S, &quota, 10);
            let at = alg.expires_at(c, &quota);
            let fresh = alg.check(None, at, &quota, 10).1;
            assert_eq!(alg.check(Some(c), at, &quota, 10).1, fresh, "{alg:?}");
            assert!(!alg.check(Some(c), at - 1, &quota, 10).1.allowed, "{alg:?}");
        }
    }
}
