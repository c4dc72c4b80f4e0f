//! Prediction inputs: every bad input is a typed error; good ones give consistent predictions.

mod common;

use std::sync::Arc;

use common::*;
use mlguard_model::{Classifier, InputError, iris};

const GOOD: [f64; 4] = [5.9, 3.0, 5.1, 1.8];

#[test]
fn wrong_feature_counts_are_refused() {
    let m = small_model();
    for sample in [
        &[][..],
        &[5.1][..],
        &[5.1, 3.5, 1.4][..],
        &[5.1, 3.5, 1.4, 0.2, 1.0][..],
    ] {
        assert_eq!(
            m.predict(sample),
            Err(InputError::WrongFeatureCount {
                expected: 4,
                found: sample.len()
            })
        );
    }
}

#[test]
fn nan_is_refused_and_named() {
    let mut s = GOOD;
    s[1] = f64::NAN;
    assert_eq!(
        small_model().predict(&s),
        Err(InputError::NotANumber {
            feature: "sepal width".into()
        })
    );
}

#[test]
fn infinities_are_refused() {
    for v in [f64::INFINITY, f64::NEG_INFINITY] {
        let mut s = GOOD;
        s[3] = v;
        assert_eq!(
            small_model().predict(&s),
            Err(InputError::Infinite {
                feature: "petal width".into()
            })
        );
    }
}

#[test]
fn implausible_values_are_refused_by_the_model_ranges() {
    let m = small_model();
    for v in [0.0, -1.0, 100.000_001, 1e300, -0.0, -f64::MIN_POSITIVE] {
        let mut s = GOOD;
        s[0] = v;
        match m.predict(&s) {
            Err(InputError::OutOfRange {
                feature,
                value,
                range,
            }) => {
                assert_eq!(feature, "sepal length");
                assert_eq!(value.to_bits(), v.to_bits());
                assert_eq!(range, "(0, 100]");
            }
            other => panic!("{v}: {other:?}"),
        }
    }
    // Both ends of (0, 100]: the smallest positive value and 100 itself are plausible.
    for v in [f64::MIN_POSITIVE, 100.0] {
        let mut s = GOOD;
        s[0] = v;
        assert!(m.predict(&s).is_ok(), "{v}");
    }
}

#[test]
fn ranges_can_be_cleared() {
    let mut m = small_model().clone();
    m.set_ranges(&[None, None, None, None]).unwrap();
    assert!(m.predict(&[-1.0, 0.0, 500.0, 2.0]).is_ok());
    assert!(m.set_ranges(&[None]).is_err());
    // NaN stays refused without ranges.
    assert!(matches!(
        m.predict(&[f64::NAN; 4]),
        Err(InputError::NotANumber { .. })
    ));
}

#[test]
fn batch_names_the_first_bad_row() {
    let m = small_model();
    let batch = vec![GOOD.to_vec(), GOOD.to_vec(), vec![1.0, 2.0], vec![f64::NAN; 4]];
    match m.predict_batch(&batch) {
        Err(InputError::InRow { row: 2, source }) => {
            assert!(matches!(*source, InputError::WrongFeatureCount { found: 2, .. }));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.predict_batch(&[]).unwrap(), vec![]);
}

#[test]
fn batch_equals_one_by_one_and_probabilities_are_vote_fractions() {
    let m = small_model();
    let rows: Vec<Vec<f64>> = iris().features().rows().into_iter().map(|r| r.to_vec()).collect();
    let batch = m.predict_batch(&rows).unwrap();
    let mut distinct = std::collections::BTreeSet::new();
    for (row, p) in rows.iter().zip(&batch) {
        assert_eq!(&m.predict(row).unwrap(), p);
        let sum: f64 = p.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12);
        // 20 trees: every probability is a multiple of 1/20.
        for q in &p.probabilities {
            assert!((q * 20.0 - (q * 20.0).round()).abs() < 1e-9);
        }
        let best = p.probabilities.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(p.probabilities[p.class_index], best);
        // Ties go to the lowest class index.
        assert_eq!(
            p.probabilities.iter().position(|&q| q == best),
            Some(p.class_index)
        );
        assert_eq!(p.class_name, m.classes()[p.class_index]);
        distinct.insert(p.class_index);
    }
    assert_eq!(distinct.len(), 3, "the model predicts all three classes");
}

#[test]
fn served_through_arc_dyn_classifier() {
    let model: Arc<dyn Classifier> = Arc::new(small_model().clone());
    assert_eq!(model.class_names(), ["setosa", "versicolor", "virginica"]);
    assert_eq!(model.schema().len(), 4);
    assert_eq!(model.metadata().unwrap().n_trees, 20);
    assert_eq!(
        model.predict(&GOOD).unwrap(),
        small_model().predict(&GOOD).unwrap()
    );
    assert!(matches!(
        model.predict_batch(&[GOOD.to_vec(), vec![]]),
        Err(InputError::InRow { row: 1, .. })
    ));
    // Usable from several threads.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let m = Arc::clone(&model);
            std::thread::spawn(move || m.predict(&GOOD).unwrap().class_index)
        })
        .collect();
    let answers: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(answers[0], answers[1]);
}
