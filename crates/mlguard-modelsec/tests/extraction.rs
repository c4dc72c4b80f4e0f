//! The extraction detector against query streams over the iris model: synthetic streams alarm,
//! natural-looking ones do not; actions, cool-downs, metrics and audit events.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mlguard_core::{ManualClock, Principal};
use mlguard_modelsec::events::{ModelSecStats, PROBLEM_EXTRACTION_SUSPECTED};
use mlguard_modelsec::{ExtractionAction, ExtractionDetector, PrincipalState, Standing};

#[tokio::test]
async fn uniform_random_queries_alarm_within_the_first_fifty() {
    for seed in 0..3 {
        let clock = ManualClock::at_unix(1_800_000_000);
        let d = detector(&clock, ExtractionAction::Degrade, true);
        let eve = Principal::builder(format!("eve-{seed}")).build();
        let at = first_alarm(&d, &eve, &uniform(seed, 500)).await;
        assert!(at.is_some_and(|i| i < 50), "seed {seed}: first alarm at {at:?}");
        assert_eq!(ModelSecStats::get(&d.stats().extraction_alarms), 1);
        // Degraded for the cool-down, then normal again.
        assert_eq!(d.check(&eve).await.unwrap(), Standing::Degraded);
        clock.advance(Duration::from_secs(3601));
        assert_eq!(d.check(&eve).await.unwrap(), Standing::Normal);
    }
}

#[tokio::test]
async fn natural_looking_iris_queries_do_not_alarm() {
    for seed in 0..3 {
        let clock = ManualClock::at_unix(1_800_000_000);
        let d = detector(&clock, ExtractionAction::Block, true);
        let alice = Principal::builder(format!("alice-{seed}")).build();
        let at = first_alarm(&d, &alice, &jittered(100 + seed, 1500)).await;
        assert_eq!(at, None, "seed {seed}: false alarm");
        assert_eq!(d.check(&alice).await.unwrap(), Standing::Normal);
    }
}

#[tokio::test]
async fn prada_alone_alarms_on_line_searches() {
    // Without an envelope only PRADA runs: sweeping one feature at a time gives many tiny
    // and a few large distances, far from normal.
    let clock = ManualClock::at_unix(1_800_000_000);
    let d = detector(&clock, ExtractionAction::Log, false);
    let eve = Principal::builder("eve").build();
    let at = first_alarm(&d, &eve, &line_search(1, 600)).await;
    // The test needs `min_distances` (100) distances first.
    assert!(at.is_some_and(|i| i < 150), "first alarm at {at:?}");
}

#[test]
fn prada_alone_does_not_see_uniform_queries_in_four_dimensions() {
    // Measured, not assumed: the nearest-neighbour distances of uniform points in a
    // 4-dimensional box are close to normal, so PRADA's W stays high. This is why the detector
    // also watches the out-of-distribution rate. If this starts failing, PRADA got better here:
    // update the docs.
    let config = config();
    let scale = ranges();
    let queries = uniform(7, 1000);
    let classes = classes(&queries);
    let mut state = PrincipalState::default();
    let mut lowest = f64::INFINITY;
    for (x, c) in queries.iter().zip(&classes) {
        let xs: Vec<f64> = x.iter().zip(&scale).map(|(v, s)| v / s).collect();
        if let Some(w) = state.observe(&config, &xs, u32::try_from(*c).unwrap()) {
            lowest = lowest.min(w);
        }
    }
    assert!(lowest > config.delta, "lowest W {lowest}");
}

#[tokio::test]
async fn block_refuses_the_alarming_query_and_the_cool_down() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let d = detector(&clock, ExtractionAction::Block, true);
    let eve = Principal::builder("eve").build();
    let queries = uniform(3, 200);
    let classes = classes(&queries);
    let mut refused = None;
    for (i, (q, c)) in queries.iter().zip(&classes).enumerate() {
        if let Err(p) = d.observe(&eve, std::slice::from_ref(q), &[*c]).await {
            refused = Some((i, p));
            break;
        }
    }
    let (_, problem) = refused.expect("an alarm");
    assert_eq!(problem.status(), 403);
    assert!(problem.type_uri().ends_with("extraction-suspected"));
    assert_eq!(problem.type_uri(), PROBLEM_EXTRACTION_SUSPECTED);
    assert_eq!(problem.headers()["retry-after"], "3600");
    // Before the model runs, the next request is refused too.
    clock.advance(Duration::from_secs(600));
    let again = d.check(&eve).await.unwrap_err();
    assert_eq!(again.headers()["retry-after"], "3000");
    // Another principal is not affected.
    assert_eq!(
        d.check(&Principal::builder("bob").build()).await.unwrap(),
        Standing::Normal
    );
    clock.advance(Duration::from_secs(3000));
    assert_eq!(d.check(&eve).await.unwrap(), Standing::Normal);
}

#[tokio::test]
async fn a_batch_counts_every_row() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let d = detector(&clock, ExtractionAction::Degrade, true);
    let eve = Principal::builder("eve").build();
    let queries = uniform(4, 100);
    let seen = d.observe(&eve, &queries, &classes(&queries)).await.unwrap();
    assert!(seen.alarm);
    assert_eq!(seen.standing, Standing::Degraded);
    // One alarm per cool-down, however many rows keep coming.
    let more = uniform(5, 100);
    let seen = d.observe(&eve, &more, &classes(&more)).await.unwrap();
    assert!(!seen.alarm);
    assert_eq!(ModelSecStats::get(&d.stats().extraction_alarms), 1);
}

/// A `tracing` writer into a shared buffer.
#[test]
fn prada_false_alarms_on_replays_of_few_rows_and_the_ood_rate_does_not() {
    // Measured, not assumed (see the `prada` module docs): benign clients replaying iris's 45
    // held-out rows with ±0.1 cm of noise. If PRADA stops tripping here, update the docs.
    use rand::{Rng, SeedableRng};
    let (_, held_out) = mlguard_model::iris().stratified_split(0.3, 0).unwrap();
    let rows: Vec<Vec<f64>> = held_out
        .features()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    assert_eq!(rows.len(), 45);
    let env = envelope();
    let config = config();
    let scale = ranges();
    let (mut prada, mut ood) = (0, 0);
    for client in 0..50u64 {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(client);
        let mut state = PrincipalState::default();
        let (mut p, mut o) = (false, false);
        for _ in 0..200 {
            let r = &rows[rng.gen_range(0..rows.len())];
            let x: Vec<f64> = r.iter().map(|v| v + rng.gen_range(-0.1..=0.1)).collect();
            let class = u32::try_from(classes(std::slice::from_ref(&x))[0]).unwrap();
            let xs: Vec<f64> = x.iter().zip(&scale).map(|(a, b)| a / b).collect();
            p |= state
                .observe(&config, &xs, class)
                .is_some_and(|w| w < config.delta);
            o |= state
                .observe_envelope(&config.ood_rate, !env.check(&x).is_inside())
                .is_some_and(|share| share > config.ood_rate.max_fraction);
        }
        prada += usize::from(p);
        ood += usize::from(o);
    }
    assert!(prada >= 5, "PRADA tripped for {prada} of 50 benign clients");
    assert_eq!(
        ood, 0,
        "the out-of-distribution rate tripped for {ood} of 50 benign clients"
    );

    // With PRADA's alarms off, the same detector does not alarm on such a client.
    let mut quiet = config.clone();
    quiet.alarms = false;
    let clock = ManualClock::at_unix(1_800_000_000);
    let d = ExtractionDetector::builder()
        .config(quiet)
        .envelope(envelope())
        .clock(Arc::new(clock))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        for client in 0..50u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(client);
            let who = Principal::builder(format!("benign-{client}")).build();
            let queries: Vec<Vec<f64>> = (0..200)
                .map(|_| {
                    rows[rng.gen_range(0..rows.len())]
                        .iter()
                        .map(|v| v + rng.gen_range(-0.1..=0.1))
                        .collect()
                })
                .collect();
            assert_eq!(first_alarm(&d, &who, &queries).await, None, "client {client}");
        }
    });
}
