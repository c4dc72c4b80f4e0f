//! JWT verification cost: `JwtVerifier::verify_at` and `BearerAuth::authenticate_headers`
//! for an HS256 token as `JwtIssuer` issues it (`iss`, `aud`, `sub`, `roles`, `iat`, `exp`,
//! `jti`, header `kid`).
//!
//! `cargo bench -p mlguard-auth --bench jwt_verify -- --warm-up-time 1 --measurement-time 3`.
//! Instructions (deterministic, unlike the machine's wall time): `valgrind --tool=callgrind
//! target/release/deps/jwt_verify-* --bench --profile-time 2 verify_at`, then the inclusive
//! instructions of `jwt_verify::verify_once` divided by its calls.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use mlguard_auth::jwt::{BearerAuth, JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

fn verifier(secret: &[u8]) -> JwtVerifier {
    JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, secret)
                .unwrap_or_else(|e| panic!("{e}"))
                .with_kid("k1"),
        )
        .issuer("ml-api")
        .audience("ml-api")
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[inline(never)]
fn verify_once(verifier: &JwtVerifier, token: &str, now: SystemTime) -> bool {
    verifier.verify_at(token, now).is_ok()
}

#[inline(never)]
fn authenticate_once(rt: &tokio::runtime::Runtime, auth: &BearerAuth, headers: &HeaderMap) -> bool {
    rt.block_on(auth.authenticate_headers(headers)).is_ok()
}

fn bench(c: &mut Criterion) {
    let secret = [7u8; 32];
    let issuer = JwtIssuer::new(
        SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap_or_else(|e| panic!("{e}")),
    )
    .issuer("ml-api")
    .audience("ml-api");
    let token = issuer
        .issue("alice", &["user".to_owned()], None)
        .unwrap_or_else(|e| panic!("{e}"));
    let token = token.access_token().to_owned();
    let verifier = verifier(&secret);
    let now = SystemTime::now() + Duration::from_secs(1);
    assert!(verify_once(&verifier, &token, now), "the bench token must verify");

    let auth = BearerAuth::new(self::verifier(&secret));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        authenticate_once(&rt, &auth, &headers),
        "the bench header must authenticate"
    );

    let mut group = c.benchmark_group("jwt_hs256");
    group.bench_function("verify_at", |b| {
        b.iter(|| verify_once(&verifier, black_box(&token), now));
    });
    group.bench_function("authenticate_headers", |b| {
        b.iter(|| authenticate_once(&rt, &auth, black_box(&headers)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
