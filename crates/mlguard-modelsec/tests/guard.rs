//! The composed guard: order of checks, budgets counting batch rows, output policy per
//! permission and per detector standing, the envelope on real iris statistics.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mlguard_core::{ManualClock, Principal};
use mlguard_modelsec::events::{ModelSecStats, PROBLEM_OUT_OF_DISTRIBUTION, PROBLEM_QUERY_BUDGET};
use mlguard_modelsec::{
    ExtractionAction, ExtractionDetector, ModelGuard, ModelOutput, OodAction, OodGuard, OutputPolicy,
    OutputPolicyResolver, QueryBudget,
};

#[derive(Debug, Clone, PartialEq)]
struct Answer {
    class: usize,
    probabilities: Option<Vec<f64>>,
}

impl ModelOutput for Answer {
    fn round_probabilities(&mut self, decimals: u32) {
        if let Some(p) = &mut self.probabilities {
            mlguard_modelsec::output::round_all(p, decimals);
        }
    }
    fn strip_probabilities(&mut self) {
        self.probabilities = None;
    }
}

fn predict(rows: &[Vec<f64>]) -> Vec<Answer> {
    rows.iter()
        .map(|x| {
            let p = model().predict(x).unwrap();
            Answer {
                class: p.class_index,
                probabilities: Some(p.probabilities),
            }
        })
        .collect()
}

fn guard(clock: &ManualClock, budget: &str, ood: OodAction, action: ExtractionAction) -> ModelGuard {
    let mut prada = mlguard_modelsec::PradaConfig::default();
    prada.feature_scale = Some(ranges());
    ModelGuard::builder(
        OutputPolicyResolver::new(OutputPolicy::Rounded { decimals: 2 })
            .full_with_permission("model:probabilities"),
    )
    .budget(
        QueryBudget::builder(budget)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    )
    .envelope(OodGuard::new(envelope(), ood))
    .extraction(
        ExtractionDetector::builder()
            .config(prada)
            .envelope(envelope())
            .action(action)
            .cooldown(Duration::from_secs(60))
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    )
    .build()
}

/// One request through the guard as a handler runs it (`ModelGuard::run`).
async fn serve(
    g: &ModelGuard,
    who: &Principal,
    rows: &[Vec<f64>],
) -> Result<Vec<Answer>, mlguard_core::Problem> {
    g.run(who, rows, |r| Ok(predict(r)), |a| a.class).await
}

#[tokio::test]
async fn probabilities_follow_the_permission() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let g = guard(&clock, "5000/day", OodAction::Log, ExtractionAction::Degrade);
    let rows = vec![vec![6.0, 2.9, 4.5, 1.5]];
    let admin = Principal::builder("admin")
        .permission("model:probabilities")
        .build();
    let client = Principal::builder("client").permission("model:predict").build();
    let full = serve(&g, &admin, &rows).await.unwrap();
    let rounded = serve(&g, &client, &rows).await.unwrap();
    assert_eq!(full[0].class, rounded[0].class);
    let p = full[0].probabilities.clone().unwrap();
    let r = rounded[0].probabilities.clone().unwrap();
    for (a, b) in p.iter().zip(&r) {
        assert!((a - b).abs() <= 0.005 + 1e-12);
        assert_eq!(*b, (b * 100.0).round() / 100.0);
    }
}

#[tokio::test]
async fn batch_rows_spend_the_budget_and_refusals_are_429_problems() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let g = guard(&clock, "10/day", OodAction::Log, ExtractionAction::Log);
    let who = Principal::builder("c").build();
    let rows = jittered(1, 4);
    serve(&g, &who, &rows).await.unwrap();
    serve(&g, &who, &rows).await.unwrap();
    let refused = serve(&g, &who, &rows).await.unwrap_err(); // 8 spent, 4 more do not fit
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.type_uri(), PROBLEM_QUERY_BUDGET);
    assert!(refused.headers().contains_key("retry-after"));
    serve(&g, &who, &rows[..2]).await.unwrap(); // the last 2 still fit
    // More rows than the budget could ever allow.
    let huge = jittered(2, 11);
    assert_eq!(
        serve(&g, &Principal::builder("d").build(), &huge)
            .await
            .unwrap_err()
            .status(),
        429
    );
    assert_eq!(
        ModelSecStats::get(&g.budget().unwrap().stats().budget_exhausted),
        2
    );
    // A new window restores it.
    clock.advance(Duration::from_secs(86_400));
    serve(&g, &who, &rows).await.unwrap();
}

#[tokio::test]
async fn the_envelope_rejects_implausible_iris_inputs_with_422() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let g = guard(&clock, "5000/day", OodAction::Reject, ExtractionAction::Log);
    let who = Principal::builder("c").build();
    // Every real iris row passes.
    for chunk in iris_rows().chunks(50) {
        serve(&g, &who, chunk).await.unwrap();
    }
    // Each value plausible on its own, the combination not: setosa petals, virginica sepals.
    for bad in [
        vec![7.7, 2.6, 1.2, 2.3],
        vec![4.5, 4.2, 6.5, 0.2],
        vec![5.0, 3.0, 40.0, 1.0],
    ] {
        let p = serve(&g, &who, &[vec![5.1, 3.5, 1.4, 0.2], bad.clone()])
            .await
            .unwrap_err();
        let body = p.to_json();
        assert_eq!(body["status"], 422, "{bad:?}");
        assert_eq!(body["code"], "out_of_distribution");
        assert_eq!(body["type"], PROBLEM_OUT_OF_DISTRIBUTION);
        assert_eq!(body["row"], 1);
    }
    // With `log`, the same inputs are answered and counted.
    let logging = guard(&clock, "5000/day", OodAction::Log, ExtractionAction::Log);
    serve(&logging, &who, &[vec![7.7, 2.6, 1.2, 2.3]]).await.unwrap();
    assert_eq!(
        ModelSecStats::get(&logging.envelope().unwrap().stats().ood_inputs),
        1
    );
}

#[tokio::test]
async fn degrade_strips_probabilities_for_the_cool_down_then_restores_them() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let g = guard(&clock, "5000/day", OodAction::Log, ExtractionAction::Degrade);
    let eve = Principal::builder("eve")
        .permission("model:probabilities")
        .build();
    let probe = uniform(11, 60);
    let answers = serve(&g, &eve, &probe).await.unwrap();
    assert!(
        answers.iter().all(|a| a.probabilities.is_none()),
        "the alarming request is degraded"
    );
    let natural = vec![vec![5.1, 3.5, 1.4, 0.2]];
    assert!(
        serve(&g, &eve, &natural).await.unwrap()[0]
            .probabilities
            .is_none()
    );
    // Other principals keep their answers.
    let bob = Principal::builder("bob")
        .permission("model:probabilities")
        .build();
    assert!(
        serve(&g, &bob, &natural).await.unwrap()[0]
            .probabilities
            .is_some()
    );
    // After the cool-down (the alarm cleared eve's history), natural queries get them back.
    clock.advance(Duration::from_secs(61));
    assert!(
        serve(&g, &eve, &natural).await.unwrap()[0]
            .probabilities
            .is_some()
    );
}

#[tokio::test]
async fn a_blocked_principal_is_refused_before_the_budget_is_charged() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let g = guard(&clock, "100/day", OodAction::Log, ExtractionAction::Block);
    let eve = Principal::builder("eve").build();
    let refused = serve(&g, &eve, &uniform(12, 60)).await.unwrap_err();
    assert_eq!(refused.status(), 403);
    assert!(refused.type_uri().ends_with("extraction-suspected"));
    for _ in 0..100 {
        assert_eq!(
            serve(&g, &eve, &[vec![5.1, 3.5, 1.4, 0.2]])
                .await
                .unwrap_err()
                .status(),
            403
        );
    }
    // 60 rows were charged before the alarm; the 100 refused requests were not.
    clock.advance(Duration::from_secs(61));
    let rows = jittered(3, 40);
    serve(&g, &eve, &rows).await.unwrap();
}

#[tokio::test]
async fn envelope_rejections_feed_the_detector() {
    // With `reject`, uniform probes are refused one by one with 422; they still count towards
    // the out-of-distribution rate, and with `block` the prober is then refused with 403.
    let clock = ManualClock::at_unix(1_800_000_000);
    let g = guard(&clock, "5000/day", OodAction::Reject, ExtractionAction::Block);
    let eve = Principal::builder("eve").build();
    let mut statuses = Vec::new();
    for q in uniform(13, 80) {
        statuses.push(
            serve(&g, &eve, &[q])
                .await
                .map_or_else(|p| p.status().as_u16(), |_| 200),
        );
    }
    let first_403 = statuses.iter().position(|s| *s == 403).expect("blocked");
    assert!(first_403 < 40, "{statuses:?}");
    assert!(statuses[..first_403].contains(&422));
    assert!(statuses[first_403..].iter().all(|s| *s == 403));
}

/// `ModelGuardBuilder::training_envelope`: with training statistics, the envelope guards inputs
/// and the detector watches the out-of-distribution rate; without, no envelope, PRADA only.
#[tokio::test]
async fn training_envelope_sets_up_envelope_and_detector() {
    let who = Principal::builder("t").build();
    let with = ModelGuard::builder(OutputPolicyResolver::new(OutputPolicy::LabelOnly))
        .training_envelope(Some(envelope()), OodAction::Reject, ExtractionDetector::builder())
        .unwrap()
        .build();
    assert!(with.admit(&who, &[iris_rows()[0].clone()]).await.is_ok());
    let refused = with
        .admit(&who, &[vec![99.0, 99.0, 99.0, 99.0]])
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 422);
    // The detector got the envelope: uniform queries over the feature box alarm on the
    // out-of-distribution rate.
    let detector = with.extraction().unwrap();
    let eve = Principal::builder("eve").build();
    assert!(first_alarm(detector, &eve, &uniform(7, 200)).await.is_some());

    let without = ModelGuard::builder(OutputPolicyResolver::new(OutputPolicy::LabelOnly))
        .training_envelope(None, OodAction::Reject, ExtractionDetector::builder())
        .unwrap()
        .build();
    assert!(without.envelope().is_none() && without.extraction().is_some());
    assert!(without.admit(&who, &[vec![99.0, 99.0, 99.0, 99.0]]).await.is_ok());

    // Detector settings are still checked.
    let bad = ModelGuard::builder(OutputPolicyResolver::new(OutputPolicy::LabelOnly)).training_envelope(
        None,
        OodAction::Log,
        ExtractionDetector::builder().cooldown(Duration::ZERO),
    );
    assert!(bad.is_err());
}

/// `at_most` caps every principal, including holders of the full permission.
#[tokio::test]
async fn at_most_caps_the_full_permission() {
    let g = ModelGuard::builder(
        OutputPolicyResolver::new(OutputPolicy::LabelOnly)
            .full_with_permission("model:probabilities")
            .at_most(OutputPolicy::Rounded { decimals: 1 }),
    )
    .build();
    let rows = vec![vec![6.0, 2.9, 4.5, 1.5]];
    let admin = Principal::builder("admin")
        .permission("model:probabilities")
        .build();
    let client = Principal::builder("client").build();
    let p = serve(&g, &admin, &rows).await.unwrap()[0]
        .probabilities
        .clone()
        .unwrap();
    assert!(p.iter().all(|v| *v == (v * 10.0).round() / 10.0), "{p:?}");
    assert_eq!(serve(&g, &client, &rows).await.unwrap()[0].probabilities, None);
}
