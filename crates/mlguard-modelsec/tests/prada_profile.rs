//! A fixed workload of `PrincipalState::observe` for profiling (issue 17): 2,000 observes of
//! pseudo-random 4-d queries over 3 classes, after 600 of warm-up so the window of distances
//! is full (500) and every observe runs the Shapiro-Wilk test. `drive` is `#[inline(never)]`
//! so that callgrind can count it alone:
//!
//! ```text
//! cargo test --release -p mlguard-modelsec --test prada_profile --no-run
//! valgrind --tool=callgrind --toggle-collect='*prada_profile*drive*' \
//!     target/release/deps/prada_profile-<hash> --test-threads=1
//! ```

use mlguard_modelsec::{PradaConfig, PrincipalState};

/// A small deterministic generator (xorshift64*), values in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        #[allow(clippy::cast_precision_loss)]
        let f = v as f64 / (1u64 << 53) as f64;
        f
    }

    fn query(&mut self) -> ([f64; 4], u32) {
        let x = [self.next(), self.next(), self.next(), self.next()];
        let class = u32::from(self.next() < 0.3) + u32::from(self.next() < 0.3);
        (x, class)
    }
}

/// The measured part: `n` observes; returns how many ran the test.
#[inline(never)]
fn drive(state: &mut PrincipalState, config: &PradaConfig, rng: &mut Rng, n: usize) -> usize {
    let mut tested = 0;
    for _ in 0..n {
        let (x, class) = rng.query();
        tested += usize::from(state.observe(config, &x, class).is_some());
    }
    tested
}

#[test]
fn two_thousand_observes_after_warm_up_all_run_the_test() {
    let config = PradaConfig::default();
    let mut state = PrincipalState::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..600 {
        let (x, class) = rng.query();
        let _ = state.observe(&config, &x, class);
    }
    assert_eq!(state.distances.len(), config.max_distances);
    assert_eq!(drive(&mut state, &config, &mut rng, 2000), 2000);
    assert_eq!(state.distances.len(), config.max_distances);
    // Uniform points in a 4-d box: nearest-neighbour distances look normal (module docs).
    assert!(state.last_w.is_some_and(|w| w > 0.9), "{:?}", state.last_w);
}
