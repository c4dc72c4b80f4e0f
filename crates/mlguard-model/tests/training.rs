//! Training: reproducibility, accuracy, parameter validation.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mlguard_model::{ForestParams, TrainError, iris, train_default};

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

/// The first differing byte and some context, instead of two 50 kB dumps.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let body = |v: &[u8]| {
        v.iter()
            .position(|&c| c == b'\n')
            .map_or(v, |n| &v[n + 1..])
            .to_vec()
    };
    let (a, b) = (&body(a)[..], &body(b)[..]);
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let ctx =
        |v: &[u8]| String::from_utf8_lossy(&v[i.saturating_sub(80)..(i + 80).min(v.len())]).into_owned();
    format!("differ at byte {i}:\n{}\n{}", ctx(a), ctx(b))
}

#[test]
fn same_seed_gives_byte_identical_model() {
    let params = ForestParams::new();
    let a = params.train_iris(at()).unwrap().model.to_bytes(None).unwrap();
    let b = params.train_iris(at()).unwrap().model.to_bytes(None).unwrap();
    assert!(a == b, "{}", first_difference(&a, &b));
}

#[test]
fn reproducible_across_many_seeds_and_depths() {
    for seed in 0..12u64 {
        let params = ForestParams::new()
            .n_trees(30)
            .seed(seed)
            .max_depth(if seed % 2 == 0 { None } else { Some(3) });
        let a = params.train_iris(at()).unwrap().model.to_bytes(None).unwrap();
        let b = params.train_iris(at()).unwrap().model.to_bytes(None).unwrap();
        assert!(a == b, "seed {seed}: {}", first_difference(&a, &b));
    }
}

/// Seeds and feature counts whose forests, before the replica check, differed between runs:
/// linfa-trees broke a near-tie between two root splits in `HashMap` order.
#[test]
fn reproducible_where_linfa_alone_was_not() {
    for (k, seed) in [(3, 22), (4, 21), (4, 24)] {
        let params = ForestParams::new().max_features(Some(k)).seed(seed);
        let first = params.train_iris(at()).unwrap();
        assert_eq!(first.exact_fallbacks, 0, "every tree is linfa-trees' own");
        let a = first.model.to_bytes(None).unwrap();
        for _ in 0..3 {
            let b = params.train_iris(at()).unwrap().model.to_bytes(None).unwrap();
            assert!(a == b, "k {k} seed {seed}: {}", first_difference(&a, &b));
        }
    }
}

#[test]
fn different_seeds_give_different_models() {
    let a = ForestParams::new().seed(1).train_iris(at()).unwrap().model;
    let b = ForestParams::new().seed(2).train_iris(at()).unwrap().model;
    assert_ne!(a.to_bytes(None).unwrap(), b.to_bytes(None).unwrap());
}

#[test]
fn default_forest_reaches_093_held_out_accuracy() {
    let trained = train_default().unwrap();
    assert!(trained.accuracy >= 0.93, "accuracy {}", trained.accuracy);
    let m = trained.model.metadata();
    assert_eq!(m.n_trees, 100);
    assert_eq!(m.test_samples, 45);
    assert_eq!(m.train_samples, 105);
    assert_eq!(m.accuracy, trained.accuracy);
    assert_eq!(trained.model.forest().n_trees(), 100);
    assert_eq!(trained.exact_fallbacks, 0);
}

#[test]
fn accuracy_is_recomputable_from_the_split() {
    let params = ForestParams::new();
    let trained = params.train_iris(at()).unwrap();
    let (_, test) = iris().stratified_split(0.3, params.get_seed()).unwrap();
    assert_eq!(trained.model.accuracy_on(&test), trained.accuracy);
}

#[test]
fn stratified_split_keeps_class_proportions_and_is_disjoint() {
    let data = iris();
    let (train, test) = data.stratified_split(0.3, 9).unwrap();
    assert_eq!(train.len() + test.len(), 150);
    for class in 0..3 {
        assert_eq!(test.labels().iter().filter(|&&l| l == class).count(), 15);
        assert_eq!(train.labels().iter().filter(|&&l| l == class).count(), 35);
    }
    let (_, again) = data.stratified_split(0.3, 9).unwrap();
    assert_eq!(test, again);
    let (_, other) = data.stratified_split(0.3, 10).unwrap();
    assert_ne!(test, other);
}

#[test]
fn trained_trees_use_only_their_features_and_vote_fractions_sum_to_one() {
    let model = ForestParams::new().n_trees(10).train_iris(at()).unwrap().model;
    let p = model.predict(&[6.0, 3.0, 4.5, 1.5]).unwrap();
    assert_eq!(p.probabilities.len(), 3);
    let sum: f64 = p.probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-12);
    // vote fractions over 10 trees are multiples of 0.1
    for q in &p.probabilities {
        assert!(((q * 10.0).round() - q * 10.0).abs() < 1e-9);
    }
    assert_eq!(model.metadata().features_per_tree, 2);
    assert_eq!(model.metadata().feature_sampling, "per_tree");
}

#[test]
fn bad_parameters_are_typed_errors() {
    let cases = [
        (ForestParams::new().n_trees(0), "n_trees"),
        (ForestParams::new().max_depth(Some(0)), "max_depth"),
        (ForestParams::new().max_features(Some(0)), "max_features"),
        (ForestParams::new().max_features(Some(5)), "max_features"),
        (ForestParams::new().test_fraction(0.0), "test_fraction"),
        (ForestParams::new().test_fraction(1.0), "test_fraction"),
        (ForestParams::new().test_fraction(f64::NAN), "test_fraction"),
    ];
    for (params, expected) in cases {
        match params.train_iris(at()) {
            Err(TrainError::InvalidParam { name, .. }) => assert_eq!(name, expected),
            other => panic!("{expected}: {other:?}"),
        }
    }
}

#[test]
fn max_depth_limits_tree_size() {
    let shallow = ForestParams::new()
        .n_trees(20)
        .max_depth(Some(1))
        .train_iris(at())
        .unwrap();
    // a stump has at most 3 nodes
    assert!(shallow.model.forest().n_nodes() <= 20 * 3);
    let deep = ForestParams::new().n_trees(20).train_iris(at()).unwrap();
    assert!(deep.model.forest().n_nodes() > shallow.model.forest().n_nodes());
}

#[test]
fn unusable_training_data_is_a_typed_error() {
    use mlguard_model::{Feature, FeatureSchema, LabeledData};
    use ndarray::array;
    let schema = FeatureSchema::new(vec![
        Feature {
            name: "a".into(),
            range: None,
        },
        Feature {
            name: "b".into(),
            range: None,
        },
    ]);
    let classes = vec!["x".to_string(), "y".to_string()];
    let cases = [
        (array![[1.0, f64::NAN], [2.0, 3.0]], vec![0, 1]),
        (array![[1.0, 2.0], [2.0, 3.0]], vec![0, 2]),
        (array![[1.0, 2.0], [2.0, 3.0]], vec![0]),
    ];
    for (x, y) in cases {
        assert!(matches!(
            LabeledData::new(x, y, schema.clone(), classes.clone()),
            Err(TrainError::InvalidData(_))
        ));
    }
    // A valid tiny data set trains, and a single-class bootstrap is fine.
    let data = LabeledData::new(
        array![
            [1.0, 1.0],
            [1.1, 0.9],
            [5.0, 5.0],
            [5.1, 4.9],
            [0.9, 1.2],
            [4.8, 5.2]
        ],
        vec![0, 0, 1, 1, 0, 1],
        schema,
        classes,
    )
    .unwrap();
    let trained = ForestParams::new()
        .n_trees(5)
        .test_fraction(0.34)
        .train(&data, at())
        .unwrap();
    assert_eq!(trained.model.predict(&[1.0, 1.0]).unwrap().class_name, "x");
    assert_eq!(trained.model.predict(&[5.0, 5.0]).unwrap().class_name, "y");
}
