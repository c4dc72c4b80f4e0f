//! The bucket of the global key ([`crate::RateLimitKey::Global`]), kept apart from the keyed
//! store: there is only one, so it needs no hash, no shard, no eviction and no cap.
//!
//! **GCRA: one atomic word.** A GCRA state is one number, the theoretical arrival time (TAT), so
//! it lives in an `AtomicU64` and a check is a compare-and-swap loop (as governor does): read
//! the TAT, run the same [`Algorithm::check`] as every other store, and when the request is
//! allowed, swap in the new TAT only if nobody changed it meanwhile (else retry with theirs).
//! A TAT of 0 means "never seen": for GCRA it decides exactly like no state at all, because
//! `max(0, now) = now`.
//!
//! **Fixed window: a small lock.** Its state is two numbers (window start, units spent), and a
//! start of 0 is a real window near the epoch (a test clock may start there), so it keeps an
//! `Option<Cell>` under a `Mutex`, like one entry of the keyed store.

use crate::Quota;
use crate::algorithm::{Algorithm, Cell, Decision, Rates};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The global bucket of one limiter.
#[derive(Debug)]
pub(crate) struct GlobalCell {
    rates: Rates,
    state: State,
}

#[derive(Debug)]
enum State {
    /// GCRA: the TAT in nanoseconds since the epoch; 0 = never seen.
    Gcra(AtomicU64),
    /// Fixed window: the window and its spent units, `None` = never seen.
    Window(Mutex<Option<Cell>>),
}

impl GlobalCell {
    pub(crate) fn new(algorithm: Algorithm, quota: &Quota) -> Self {
        let state = match algorithm {
            Algorithm::Gcra => State::Gcra(AtomicU64::new(0)),
            Algorithm::FixedWindow => State::Window(Mutex::new(None)),
        };
        Self {
            rates: Rates::new(algorithm, quota),
            state,
        }
    }

    /// Checks `cost` units at `now` and records them when allowed: the same decision as the
    /// keyed store makes for a key with this state.
    #[inline(always)]
    pub(crate) fn check(&self, now: u64, cost: u32) -> Decision {
        let rates = &self.rates;
        match &self.state {
            State::Gcra(tat) => {
                let mut current = tat.load(Ordering::Acquire);
                loop {
                    let (next, decision) = rates.check(Some(Cell { a: current, b: 0 }), now, cost);
                    if !decision.allowed {
                        return decision;
                    }
                    match tat.compare_exchange_weak(current, next.a, Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => return decision,
                        Err(actual) => current = actual,
                    }
                }
            }
            State::Window(cell) => Self::check_window(rates, cell, now, cost),
        }
    }

    #[inline(never)]
    fn check_window(rates: &Rates, cell: &Mutex<Option<Cell>>, now: u64, cost: u32) -> Decision {
        let mut cell = cell.lock().unwrap_or_else(|e| e.into_inner());
        let (next, decision) = rates.check(*cell, now, cost);
        if decision.allowed {
            *cell = Some(next);
        }
        decision
    }

    /// Whether the bucket has a state (has let a request through).
    pub(crate) fn in_use(&self) -> bool {
        match &self.state {
            State::Gcra(tat) => tat.load(Ordering::Relaxed) != 0,
            State::Window(cell) => cell.lock().unwrap_or_else(|e| e.into_inner()).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OnFull;
    use crate::RateLimitKey;
    use crate::store::memory::MemoryStore;
    use proptest::prelude::*;
    use std::sync::Arc;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn quota(s: &str) -> Quota {
        s.parse().unwrap()
    }

    #[test]
    fn gcra_allows_exactly_the_burst_then_refills_one_per_interval() {
        let q = quota("10/minute");
        let cell = GlobalCell::new(Algorithm::Gcra, &q);
        let t0 = 1_000 * S;
        for i in 0..10 {
            let d = cell.check(t0, 1);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
        }
        let d = cell.check(t0, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(6));
        // One unit is back after exactly one emission interval (6 s), not a nanosecond before.
        assert!(!cell.check(t0 + 6 * S - 1, 1).allowed);
        assert!(cell.check(t0 + 6 * S, 1).allowed);
        assert!(!cell.check(t0 + 6 * S, 1).allowed);
        // A whole refill brings the whole burst back.
        let later = t0 + 6 * S + 60 * S;
        assert!(cell.check(later, 10).allowed);
        assert!(!cell.check(later, 1).allowed);
    }

    #[test]
    fn gcra_explicit_burst_and_cost() {
        let q = quota("60/minute; burst=3");
        let cell = GlobalCell::new(Algorithm::Gcra, &q);
        let t0 = 5 * S;
        assert!(cell.check(t0, 3).allowed);
        assert!(!cell.check(t0, 1).allowed);
        let d = cell.check(t0, 4);
        assert!(!d.allowed && d.impossible);
        assert!(cell.check(t0 + S, 1).allowed);
        assert!(!cell.check(t0 + S, 1).allowed);
    }

    #[test]
    fn fixed_window_at_the_epoch_is_a_real_window() {
        // A window starting at t = 0 must not be taken for "never seen".
        let q = quota("2/minute");
        let cell = GlobalCell::new(Algorithm::FixedWindow, &q);
        assert!(!cell.in_use());
        assert!(cell.check(0, 1).allowed);
        assert!(cell.in_use());
        assert!(cell.check(S, 1).allowed);
        assert!(!cell.check(2 * S, 1).allowed);
        assert!(cell.check(60 * S, 2).allowed);
    }

    #[test]
    fn threads_together_get_exactly_the_burst() {
        // 8 threads race for a burst of 1000 at one instant: exactly 1000 pass, none lost to a
        // lost update, none granted twice.
        for algorithm in [Algorithm::Gcra, Algorithm::FixedWindow] {
            let q = quota("1000/hour");
            let cell = Arc::new(GlobalCell::new(algorithm, &q));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let cell = Arc::clone(&cell);
                    std::thread::spawn(move || (0..500).filter(|_| cell.check(77 * S, 1).allowed).count())
                })
                .collect();
            let passed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(passed, 1000, "{algorithm:?}");
            assert!(!cell.check(77 * S, 1).allowed);
        }
    }

    proptest! {
        /// The global cell decides every step exactly as the keyed store decides for one key:
        /// random quotas, gaps (including zero and long idles) and costs (including 0 and more
        /// than the burst).
        #[test]
        fn decides_like_the_keyed_store(
            gcra in any::<bool>(),
            count in 1u32..20,
            period_s in 1u64..120,
            burst_extra in 0u32..5,
            start in 0u64..3 * S,
            steps in proptest::collection::vec((0u64..20 * S, 0u32..25), 1..120),
        ) {
            let algorithm = if gcra { Algorithm::Gcra } else { Algorithm::FixedWindow };
            let burst = if gcra { count + burst_extra } else { count };
            let q: Quota = format!("{count}/{period_s}s; burst={burst}").parse().unwrap();
            let cell = GlobalCell::new(algorithm, &q);
            let store = MemoryStore::new(algorithm, q, 10, OnFull::Reject);
            let mut now = start;
            for (gap, cost) in steps {
                now += gap;
                let fast = cell.check(now, cost);
                let (general, _) = store.check(&RateLimitKey::Global, now, cost).unwrap();
                prop_assert_eq!(fast, general, "at {} cost {}", now, cost);
            }
        }
    }
}
