//! The cost of one login's password check: Argon2id with mlguard-auth's default (OWASP)
//! parameters, m = 19456 KiB, t = 2, p = 1, verified on the calling thread (the server runs
//! it on tokio's blocking pool). One verification per core at a time sets the `/token`
//! capacity: about `1 / median` logins per second per core. Unknown users cost the same (a
//! dummy hash is verified); hashing (user creation, re-hash) is measured too.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mlguard_auth::password::{PasswordCheck, PasswordHasher};

const PASSWORD: &str = "correct horse battery staple";

fn bench(c: &mut Criterion) {
    let hasher = PasswordHasher::new();
    let phc = hasher.hash_blocking(PASSWORD).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        hasher.verify_blocking(PASSWORD, Some(&phc)),
        PasswordCheck::Valid { needs_rehash: false }
    );

    let mut group = c.benchmark_group("argon2id_default_params");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.bench_function("verify_valid", |b| {
        b.iter(|| black_box(hasher.verify_blocking(black_box(PASSWORD), Some(&phc))));
    });
    group.bench_function("verify_unknown_user", |b| {
        b.iter(|| black_box(hasher.verify_blocking(black_box(PASSWORD), None)));
    });
    group.bench_function("hash", |b| {
        b.iter(|| black_box(hasher.hash_blocking(black_box(PASSWORD))));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
