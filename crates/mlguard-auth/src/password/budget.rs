//! The work budget of a [`PasswordHasher`](super::PasswordHasher): at most so many Argon2
//! runs per second across the hasher and its clones, whatever their concurrency.
//!
//! The concurrency bound ([`PasswordHasher::limits`](super::PasswordHasher::limits)) keeps a
//! login flood from running more than one Argon2 computation per core at once, but a flood
//! that keeps every slot busy still takes a whole core per slot. The budget bounds the CPU
//! the flood can take: with `n` runs a second of `c` seconds each, Argon2 uses at most
//! `n × c` core-seconds per second. Over the budget a login is refused at once (the token
//! endpoint answers 503 `temporarily_unavailable` with a `Retry-After` computed from the
//! budget) and runs no hash.
//!
//! The budget is a token bucket (the generic cell rate algorithm, as `governor` and
//! mlguard-ratelimit use): `count` runs per `period`, refilled one every `period / count`, at
//! most [`burst`](HashBudget::burst) at once. Time comes from an injected
//! [`Clock`](mlguard_core::Clock), so tests are exact.

use crate::AuthError;
use mlguard_core::SharedClock;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

/// The share of the machine's CPU (all cores) the default budget lets Argon2 take, in percent:
/// 12. A login flood then leaves the API at least 88 % of the machine (less what the flood's
/// requests themselves cost), while a legitimate burst of logins still gets through.
pub const DEFAULT_BUDGET_SHARE_PERCENT: u64 = 12;

/// How fast the default budget assumes one core runs Argon2: 1,500,000 KiB of blocks a second
/// (one pass over 1 KiB blocks). The reference machine (docs/benchmarks.md, "Argon2id login
/// cost") does about 1.85 million (m = 19456 KiB, t = 2 in 21 ms); a slower assumption gives
/// a smaller budget, so a machine up to about 20 % slower still stays within
/// [`DEFAULT_BUDGET_SHARE_PERCENT`].
pub const ASSUMED_KIB_PER_SECOND_PER_CORE: u64 = 1_500_000;

/// The burst of the default budget, in seconds of its rate: 2. At least
/// [`DEFAULT_BUDGET_MIN_BURST`].
pub const DEFAULT_BUDGET_BURST_SECONDS: u32 = 2;

/// The smallest burst of the default budget: 8 runs, so a handful of logins in quick
/// succession (a user retrying a typo, a deployment's health checks) never waits for a refill.
pub const DEFAULT_BUDGET_MIN_BURST: u32 = 8;

/// The longest `period` a [`HashBudget`] accepts: one day.
pub const MAX_BUDGET_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// How many Argon2 runs (hashes and verifications) a [`PasswordHasher`](super::PasswordHasher)
/// may start per period: `count` per `period`, at most `burst` at once after a quiet time.
/// Validated when built.
///
/// ```
/// use std::time::Duration;
/// use mlguard_auth::password::HashBudget;
///
/// let budget = HashBudget::per_second(8).unwrap();
/// assert_eq!((budget.count(), budget.period(), budget.burst()), (8, Duration::from_secs(1), 8));
/// let budget = HashBudget::new(30, Duration::from_secs(60)).unwrap().with_burst(2).unwrap();
/// assert_eq!(budget.burst(), 2);
/// assert!(HashBudget::per_second(0).is_err());
/// assert!(HashBudget::new(1, Duration::ZERO).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashBudget {
    count: u32,
    period: Duration,
    burst: u32,
}

impl HashBudget {
    /// `count` runs per `period`, with a burst of `count` (as mlguard-ratelimit's quotas).
    ///
    /// # Errors
    /// [`AuthError::Config`] when `count` is 0, `period` is zero or longer than
    /// [`MAX_BUDGET_PERIOD`], or `period / count` is below one nanosecond.
    pub fn new(count: u32, period: Duration) -> Result<Self, AuthError> {
        let invalid = |why: &str| Err(AuthError::Config(format!("password hash budget: {why}")));
        if count == 0 {
            return invalid("the count must be at least 1");
        }
        if period.is_zero() || period > MAX_BUDGET_PERIOD {
            return invalid("the period must be above zero and at most a day");
        }
        if period.as_nanos() < u128::from(count) {
            return invalid("more than one run per nanosecond");
        }
        Ok(Self {
            count,
            period,
            burst: count,
        })
    }

    /// `count` runs per second, with a burst of `count`.
    ///
    /// # Errors
    /// [`AuthError::Config`] when `count` is 0.
    pub fn per_second(count: u32) -> Result<Self, AuthError> {
        Self::new(count, Duration::from_secs(1))
    }

    /// The same rate with at most `burst` runs at once after a quiet time.
    ///
    /// # Errors
    /// [`AuthError::Config`] when `burst` is 0.
    pub fn with_burst(mut self, burst: u32) -> Result<Self, AuthError> {
        if burst == 0 {
            return Err(AuthError::Config(
                "password hash budget: the burst must be at least 1".into(),
            ));
        }
        self.burst = burst;
        Ok(self)
    }

    /// The default budget for Argon2 with memory cost `m_cost` (KiB) and time cost `t_cost` on
    /// `cores` cores: as many runs a second as take [`DEFAULT_BUDGET_SHARE_PERCENT`] of the
    /// cores when one core runs [`ASSUMED_KIB_PER_SECOND_PER_CORE`] (at least one a second),
    /// with a burst of [`DEFAULT_BUDGET_BURST_SECONDS`] of that rate, at least
    /// [`DEFAULT_BUDGET_MIN_BURST`].
    ///
    /// With OWASP's parameters (m = 19456, t = 2) that is 4 runs a second per core: 9 on 2
    /// cores (`2 × 12 % × 1.5e6 / 38912`), with a burst of 18.
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use mlguard_auth::password::HashBudget;
    ///
    /// let two = NonZeroUsize::new(2).unwrap();
    /// let budget = HashBudget::for_cost(19_456, 2, two);
    /// assert_eq!((budget.count(), budget.burst()), (9, 18));
    /// // Cheap hashes (tests' weak parameters) get a large budget.
    /// assert!(HashBudget::for_cost(256, 1, two).count() > 1_000);
    /// ```
    pub fn for_cost(m_cost: u32, t_cost: u32, cores: NonZeroUsize) -> Self {
        let work_kib = u128::from(m_cost.max(1)) * u128::from(t_cost.max(1));
        let cores = u128::try_from(cores.get()).unwrap_or(u128::MAX);
        let per_second = cores
            .saturating_mul(u128::from(DEFAULT_BUDGET_SHARE_PERCENT))
            .saturating_mul(u128::from(ASSUMED_KIB_PER_SECOND_PER_CORE))
            / (100 * work_kib);
        // At most a million a second (one per microsecond): the budget stays a budget.
        let count = u32::try_from(per_second.clamp(1, 1_000_000)).unwrap_or(1);
        let burst = count
            .saturating_mul(DEFAULT_BUDGET_BURST_SECONDS)
            .max(DEFAULT_BUDGET_MIN_BURST);
        Self {
            count,
            period: Duration::from_secs(1),
            burst,
        }
    }

    /// Runs per [`period`](Self::period).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period `count` runs are spread over.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Runs allowed at once after a quiet time.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// One run's share of the period, in nanoseconds (at least 1).
    fn interval_nanos(&self) -> u64 {
        let nanos = self.period.as_nanos() / u128::from(self.count);
        u64::try_from(nanos).unwrap_or(u64::MAX).max(1)
    }
}

impl fmt::Display for HashBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {:?} (burst {})", self.count, self.period, self.burst)
    }
}

/// A [`HashBudget`] being spent: the generic cell rate algorithm on one atomic, the
/// theoretical arrival time of the next run in nanoseconds since the Unix epoch.
pub(crate) struct TokenBucket {
    interval: u64,
    /// How far ahead of now the theoretical arrival time may be: `interval × (burst - 1)`.
    tolerance: u64,
    budget: HashBudget,
    clock: SharedClock,
    tat: AtomicU64,
}

impl fmt::Debug for TokenBucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBucket")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(budget: HashBudget, clock: SharedClock) -> Self {
        let interval = budget.interval_nanos();
        let tolerance = interval.saturating_mul(u64::from(budget.burst - 1));
        Self {
            interval,
            tolerance,
            budget,
            clock,
            tat: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        let since = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Takes one run from the budget, or says how long until one is available.
    pub(crate) fn try_take(&self) -> Result<(), Duration> {
        let now = self.now();
        let mut refused = Duration::ZERO;
        let taken = self.tat.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |tat| {
            let start = tat.max(now);
            let ahead = start - now;
            if ahead > self.tolerance {
                refused = Duration::from_nanos(ahead - self.tolerance);
                None
            } else {
                Some(start.saturating_add(self.interval))
            }
        });
        taken.map(|_| ()).map_err(|_| refused)
    }

    /// Gives back a run taken with [`try_take`](Self::try_take) that did not happen (the
    /// concurrency bound refused it).
    pub(crate) fn give_back(&self) {
        let _ = self.tat.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |tat| {
            Some(tat.saturating_sub(self.interval))
        });
    }
}

/// `Retry-After` in whole seconds for a wait of `wait`: rounded up, at least 1.
///
/// ```
/// use std::time::Duration;
/// use mlguard_auth::password::retry_after_secs;
/// assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
/// assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
/// assert_eq!(retry_after_secs(Duration::ZERO), 1);
/// ```
pub fn retry_after_secs(wait: Duration) -> u32 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlguard_core::ManualClock;
    use proptest::prelude::*;
    use std::sync::Arc;
    use std::time::SystemTime;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    fn bucket(budget: HashBudget) -> (ManualClock, TokenBucket) {
        let clock = ManualClock::at_unix(1_000_000);
        (clock.clone(), TokenBucket::new(budget, Arc::new(clock)))
    }

    #[test]
    fn a_full_bucket_gives_its_burst_then_refuses_until_the_next_refill() {
        // 2 a second: one every 500 ms, a burst of 2.
        let (clock, b) = bucket(HashBudget::per_second(2).unwrap());
        assert_eq!(b.try_take(), Ok(()));
        assert_eq!(b.try_take(), Ok(()));
        assert_eq!(b.try_take(), Err(Duration::from_millis(500)));
        clock.advance(Duration::from_millis(499));
        assert_eq!(b.try_take(), Err(Duration::from_millis(1)));
        // Exactly at the boundary the run is allowed, and the next one waits a full interval.
        clock.advance(Duration::from_millis(1));
        assert_eq!(b.try_take(), Ok(()));
        assert_eq!(b.try_take(), Err(Duration::from_millis(500)));
    }

    #[test]
    fn a_quiet_time_refills_up_to_the_burst_and_no_more() {
        let (clock, b) = bucket(HashBudget::per_second(4).unwrap().with_burst(3).unwrap());
        for _ in 0..3 {
            assert_eq!(b.try_take(), Ok(()));
        }
        assert!(b.try_take().is_err());
        clock.advance(Duration::from_secs(3600));
        for _ in 0..3 {
            assert_eq!(b.try_take(), Ok(()));
        }
        assert_eq!(b.try_take(), Err(Duration::from_millis(250)));
    }

    #[test]
    fn a_slow_budget_answers_its_own_retry_after() {
        // 6 a minute, burst 1: one every 10 s.
        let budget = HashBudget::new(6, Duration::from_secs(60))
            .unwrap()
            .with_burst(1)
            .unwrap();
        let (clock, b) = bucket(budget);
        assert_eq!(b.try_take(), Ok(()));
        let wait = b.try_take().unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        assert_eq!(retry_after_secs(wait), 10);
        clock.advance(Duration::from_millis(2_500));
        let wait = b.try_take().unwrap_err();
        assert_eq!((wait, retry_after_secs(wait)), (Duration::from_millis(7_500), 8));
        clock.advance(Duration::from_millis(7_500));
        assert_eq!(b.try_take(), Ok(()));
    }

    #[test]
    fn a_run_given_back_can_be_taken_again() {
        let (_clock, b) = bucket(HashBudget::per_second(1).unwrap());
        assert_eq!(b.try_take(), Ok(()));
        assert!(b.try_take().is_err());
        b.give_back();
        assert_eq!(b.try_take(), Ok(()));
        assert!(b.try_take().is_err());
    }

    #[test]
    fn a_clock_that_goes_back_refuses_rather_than_refills() {
        let (clock, b) = bucket(HashBudget::per_second(1).unwrap());
        assert_eq!(b.try_take(), Ok(()));
        clock.set(at(999_000, 0));
        assert!(b.try_take().is_err());
    }

    #[test]
    fn invalid_budgets_are_refused_when_built() {
        assert!(HashBudget::new(0, Duration::from_secs(1)).is_err());
        assert!(HashBudget::new(1, Duration::ZERO).is_err());
        assert!(HashBudget::new(1, MAX_BUDGET_PERIOD + Duration::from_nanos(1)).is_err());
        assert!(HashBudget::new(1, MAX_BUDGET_PERIOD).is_ok());
        assert!(HashBudget::new(11, Duration::from_nanos(10)).is_err());
        assert!(HashBudget::new(10, Duration::from_nanos(10)).is_ok());
        assert!(HashBudget::per_second(1).unwrap().with_burst(0).is_err());
    }

    #[test]
    fn the_default_follows_the_cores_and_the_cost() {
        let cores = |n| NonZeroUsize::new(n).unwrap();
        // OWASP: 38912 KiB of blocks per run; 12 % of 1.5e6 KiB/s per core.
        assert_eq!(HashBudget::for_cost(19_456, 2, cores(1)).count(), 4);
        assert_eq!(HashBudget::for_cost(19_456, 2, cores(2)).count(), 9);
        assert_eq!(HashBudget::for_cost(19_456, 2, cores(16)).count(), 74);
        assert_eq!(
            HashBudget::for_cost(19_456, 2, cores(1)).burst(),
            DEFAULT_BUDGET_MIN_BURST
        );
        assert_eq!(HashBudget::for_cost(19_456, 2, cores(16)).burst(), 148);
        // Twice the memory, half the runs; never below one a second.
        assert_eq!(HashBudget::for_cost(38_912, 2, cores(2)).count(), 4);
        assert_eq!(HashBudget::for_cost(4 * 1024 * 1024, 10, cores(1)).count(), 1);
        assert_eq!(HashBudget::for_cost(8, 1, cores(1024)).count(), 1_000_000);
    }

    proptest! {
        /// Over any sequence of takes at any times, the runs allowed up to a time `t` never
        /// exceed `burst + (t - first) / interval`, and a refused take's wait is exactly the
        /// time after which the same take succeeds.
        #[test]
        fn the_bucket_never_allows_more_than_its_rate_and_burst(
            count in 1u32..50,
            burst in 1u32..10,
            steps in proptest::collection::vec(0u64..400, 1..200),
        ) {
            let budget = HashBudget::per_second(count).unwrap().with_burst(burst).unwrap();
            let (clock, b) = bucket(budget);
            let interval = budget.interval_nanos();
            let mut elapsed = 0u64;
            let mut allowed = 0u64;
            for step in steps {
                clock.advance(Duration::from_millis(step));
                elapsed += step * 1_000_000;
                match b.try_take() {
                    Ok(()) => allowed += 1,
                    Err(wait) => {
                        prop_assert!(wait > Duration::ZERO);
                        let (probe_clock, probe) = (clock.clone(), &b);
                        probe_clock.advance(wait - Duration::from_nanos(1));
                        prop_assert!(probe.try_take().is_err());
                        probe_clock.advance(Duration::from_nanos(1));
                        prop_assert_eq!(probe.try_take(), Ok(()));
                        probe.give_back();
                        elapsed += u64::try_from(wait.as_nanos()).unwrap();
                    }
                }
                prop_assert!(allowed <= u64::from(burst) + elapsed / interval);
            }
        }
    }
}
