//! Our API-key check beside the naive tutorial way (a plain `==` on the key string), in one
//! run: the cost of hashing the presented key (SHA-256) and comparing digests in constant
//! time, and of the whole check the layer makes (header, key format, store lookup, revocation
//! and expiry, principal).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Uri};
use mlguard_auth::apikey::{ApiKeyAuth, MemoryKeyStore, generate};
use std::sync::Arc;

fn bench(c: &mut Criterion) {
    let (key, record) = generate("bench", ["user"]).unwrap_or_else(|e| panic!("{e}"));
    let presented = key.expose_secret().to_owned();
    // The tutorial keeps the key itself and compares strings.
    let stored_plain = key.expose_secret().to_owned();
    let store = Arc::new(MemoryKeyStore::new());
    store.insert(record.clone());
    let auth = ApiKeyAuth::new(store);
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-api-key",
        HeaderValue::from_str(&presented).unwrap_or_else(|e| panic!("{e}")),
    );
    let uri = Uri::from_static("/predict");
    assert!(record.verify(&presented));
    assert!(auth.authenticate(&headers, &uri).is_ok());

    let mut group = c.benchmark_group("apikey_check");
    group.bench_function("plain_eq", |b| {
        b.iter(|| black_box(black_box(presented.as_str()) == black_box(stored_plain.as_str())));
    });
    group.bench_function("mlguard_record_verify", |b| {
        b.iter(|| black_box(record.verify(black_box(&presented))));
    });
    group.bench_function("plain_eq_from_headers", |b| {
        b.iter(|| {
            let ok = black_box(&headers)
                .get("x-api-key")
                .is_some_and(|v| v.as_bytes() == stored_plain.as_bytes());
            black_box(ok)
        });
    });
    group.bench_function("mlguard_authenticate", |b| {
        b.iter(|| black_box(auth.authenticate(black_box(&headers), &uri).is_ok()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
