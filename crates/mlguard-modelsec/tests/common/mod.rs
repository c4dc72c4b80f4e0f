//! Shared helpers: an iris model with training statistics, and query streams.
#![allow(dead_code, unreachable_pub)]

use std::sync::OnceLock;

use mlguard_core::{ManualClock, Principal};
use mlguard_model::{Model, iris};
use mlguard_modelsec::{Envelope, ExtractionAction, ExtractionDetector, PradaConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;

/// A 20-tree iris forest (format-2 statistics included), trained once per test binary.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        mlguard_model::ForestParams::new()
            .n_trees(20)
            .train_iris(std::time::UNIX_EPOCH)
            .unwrap()
            .model
    })
}

/// The envelope of the model's training statistics, as a server builds it.
pub fn envelope() -> Envelope {
    Envelope::from_training_stats(model().training_stats().unwrap()).unwrap()
}

/// Per-feature training ranges, for PRADA's feature scaling.
pub fn ranges() -> Vec<f64> {
    envelope().training_ranges()
}

pub fn iris_rows() -> Vec<Vec<f64>> {
    iris().features().rows().into_iter().map(|r| r.to_vec()).collect()
}

/// Uniform random points over the training feature box (Tramèr et al.'s random queries).
pub fn uniform(seed: u64, n: usize) -> Vec<Vec<f64>> {
    let s = model().training_stats().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..4).map(|i| rng.gen_range(s.min[i]..=s.max[i])).collect())
        .collect()
}

/// Real iris rows with ±0.1 cm of uniform noise on every feature: natural-looking traffic.
pub fn jittered(seed: u64, n: usize) -> Vec<Vec<f64>> {
    let rows = iris_rows();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let r = &rows[rng.gen_range(0..rows.len())];
            r.iter().map(|v| v + rng.gen_range(-0.1..=0.1)).collect()
        })
        .collect()
}

/// Line searches: from a real row, sweep one feature at a time over its training range in 20
/// steps (the first phase of Tramèr et al.'s path-finding attack on trees).
pub fn line_search(seed: u64, n: usize) -> Vec<Vec<f64>> {
    let s = model().training_stats().unwrap();
    let rows = iris_rows();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut base = rows[rng.gen_range(0..rows.len())].clone();
    let mut out = Vec::with_capacity(n);
    let (mut feature, mut step) = (0usize, 0u32);
    while out.len() < n {
        if step == 20 {
            step = 0;
            feature = (feature + 1) % 4;
            if feature == 0 {
                base = rows[rng.gen_range(0..rows.len())].clone();
            }
        }
        let mut x = base.clone();
        x[feature] = s.min[feature] + (s.max[feature] - s.min[feature]) * f64::from(step) / 19.0;
        step += 1;
        out.push(x);
    }
    out
}

/// The model's predicted class for each query.
pub fn classes(queries: &[Vec<f64>]) -> Vec<usize> {
    queries
        .iter()
        .map(|x| model().predict(x).map_or(0, |p| p.class_index))
        .collect()
}

/// The detector configuration of the extraction tests: features scaled by the training ranges.
pub fn config() -> PradaConfig {
    let mut c = PradaConfig::default();
    c.feature_scale = Some(ranges());
    c
}

pub fn detector(clock: &ManualClock, action: ExtractionAction, with_envelope: bool) -> ExtractionDetector {
    let mut b = ExtractionDetector::builder()
        .config(config())
        .action(action)
        .cooldown(Duration::from_secs(3600))
        .clock(Arc::new(clock.clone()));
    if with_envelope {
        b = b.envelope(envelope());
    }
    b.build().unwrap()
}

/// Feeds `queries` one request each; returns the index of the first alarm.
pub async fn first_alarm(d: &ExtractionDetector, who: &Principal, queries: &[Vec<f64>]) -> Option<usize> {
    let classes = classes(queries);
    for (i, (q, c)) in queries.iter().zip(&classes).enumerate() {
        match d.observe(who, std::slice::from_ref(q), &[*c]).await {
            Ok(seen) if seen.alarm => return Some(i),
            Ok(_) => {}
            Err(_) => return Some(i),
        }
    }
    None
}
