//! What the pre-scan and the full parse cost: a normal iris request, a 100 000-deep body
//! (refused by the scan), and a 64 KiB array.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use mlguard_validate::JsonConfig;
use mlguard_validate::scan::scan;
use mlguard_validate::validators::finite;
use serde::Deserialize;
use std::hint::black_box;
use validator::Validate;

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PredictRequest {
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    sepal_length: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    sepal_width: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    petal_length: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    petal_width: f64,
}

const IRIS: &[u8] = br#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;

fn benches(c: &mut Criterion) {
    let config = JsonConfig::default();
    c.bench_function("parse_validated iris (75 B)", |b| {
        b.iter(|| config.parse_validated::<PredictRequest>(black_box(IRIS)).is_ok())
    });
    let deep = vec![b'['; 100_000];
    c.bench_function("reject 100000-deep (scan)", |b| {
        b.iter(|| config.parse::<serde_json::Value>(black_box(&deep)).is_err())
    });
    let wide: Vec<u8> = {
        let mut v = b"[".to_vec();
        v.extend(std::iter::repeat_n(b"1.5,".as_slice(), 1000).flatten());
        v.extend_from_slice(b"1.5]");
        v
    };
    c.bench_function("scan 4 KiB array of 1001 floats", |b| {
        b.iter(|| scan(black_box(&wide), 32, 2000))
    });
    let big = {
        let mut v = b"[".to_vec();
        v.extend(std::iter::repeat_n(b"\"abcdefghijklmnop\",".as_slice(), 3400).flatten());
        v.extend_from_slice(b"\"x\"]");
        v
    };
    c.bench_function("scan 64 KiB array of strings", |b| {
        b.iter(|| scan(black_box(&big), 32, 4000))
    });
}

criterion_group!(group, benches);
criterion_main!(group);
