//! One-sample and batch prediction: mlguard-model's flattened forest vs linfa-ensemble 0.8.1's
//! `RandomForest`, both with 100 trees trained on the same iris training split, in the same run.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use linfa::prelude::*;
use linfa_ensemble::EnsembleLearnerParams;
use linfa_trees::DecisionTree;
use mlguard_model::{DEFAULT_TREES, ForestParams, iris};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn bench(c: &mut Criterion) {
    let params = ForestParams::new();
    let (train, test) = iris()
        .stratified_split(params.get_test_fraction(), params.get_seed())
        .unwrap();
    let ours = params.train_iris(SystemTime::now()).unwrap().model;

    let dataset = Dataset::new(train.features().clone(), Array1::from(train.labels().to_vec()));
    let theirs = EnsembleLearnerParams::new_fixed_rng(
        DecisionTree::<f64, usize>::params(),
        ChaCha8Rng::seed_from_u64(params.get_seed()),
    )
    .ensemble_size(DEFAULT_TREES)
    .bootstrap_proportion(1.0)
    .feature_proportion(0.5)
    .fit(&dataset)
    .unwrap();

    let sample = [6.1, 2.8, 4.7, 1.2];
    let sample_2d = Array2::from_shape_vec((1, 4), sample.to_vec()).unwrap();
    let batch: Vec<Vec<f64>> = test.features().rows().into_iter().map(|r| r.to_vec()).collect();
    let batch_2d = test.features().clone();

    let mut one = c.benchmark_group("predict_one_100_trees");
    one.bench_function("mlguard_model", |b| {
        b.iter(|| ours.predict(black_box(&sample)).unwrap())
    });
    one.bench_function("linfa_ensemble", |b| {
        b.iter(|| -> Array1<usize> { theirs.predict(black_box(&sample_2d)) })
    });
    one.finish();

    let mut many = c.benchmark_group("predict_batch_45_100_trees");
    many.bench_function("mlguard_model", |b| {
        b.iter(|| ours.predict_batch(black_box(&batch)).unwrap())
    });
    many.bench_function("linfa_ensemble", |b| {
        b.iter(|| -> Array1<usize> { theirs.predict(black_box(&batch_2d)) })
    });
    many.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
