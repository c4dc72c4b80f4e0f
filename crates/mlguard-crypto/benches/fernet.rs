//! Our Fernet against the `fernet` crate (rustcrypto backend), encrypt and
//! decrypt, 1 KiB and 64 KiB, in one run so the ratio is fair on a shared
//! machine.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

fn fernet_bench(c: &mut Criterion) {
    let ours = mlguard_crypto::Fernet::new(KEY).expect("valid key");
    let theirs = fernet::Fernet::new(KEY).expect("valid key");
    for size in [1024usize, 64 * 1024] {
        let message: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let label = format!("{} KiB", size / 1024);

        let mut group = c.benchmark_group("fernet_encrypt");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("mlguard", &label), &message, |b, m| {
            b.iter(|| ours.encrypt(black_box(m)));
        });
        group.bench_with_input(BenchmarkId::new("fernet-crate", &label), &message, |b, m| {
            b.iter(|| theirs.encrypt(black_box(m)));
        });
        group.finish();

        // Both decrypt the same token (each can read the other's).
        let token = ours.encrypt(&message);
        assert_eq!(theirs.decrypt(&token).expect("interoperable"), message);
        let mut group = c.benchmark_group("fernet_decrypt");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("mlguard", &label), &token, |b, t| {
            b.iter(|| ours.decrypt(black_box(t)).expect("valid token"));
        });
        group.bench_with_input(BenchmarkId::new("fernet-crate", &label), &token, |b, t| {
            b.iter(|| theirs.decrypt(black_box(t)).expect("valid token"));
        });
        group.finish();
    }
}

criterion_group!(benches, fernet_bench);
criterion_main!(benches);
