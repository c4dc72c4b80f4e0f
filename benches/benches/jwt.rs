//! JWT verification per token: mlguard's `JwtVerifier` beside `jsonwebtoken::decode` with the
//! same key and equivalent checks, in one run.
//!
//! The token is the access token ml-api issues (`JwtIssuer`): header `alg`, `kid`, `typ:
//! at+jwt`; claims `sub`, `roles`, `iss`, `aud`, `iat`, `exp`, `jti`. jsonwebtoken decodes it
//! into a struct with those claims, checking the algorithm, `exp`, `nbf`, `iss`, `aud` and
//! the required claims with a 30 s leeway (mlguard's default). Both read the system clock
//! (`verify` / `decode`); `verify_at` takes a fixed time instead. EdDSA is there for
//! reference (signature verification dominates it).
//!
//! `mlguard_verify_at` and `mlguard_verify` use the verifier as configured by default, with
//! its cache of verified tokens: the same token again (what a client sends on each request
//! until it expires) is a hit, which repeats only the time checks. `mlguard_verify_at_uncached`
//! turns the cache off (`cache_capacity(0)`): every check, every call, like
//! `jsonwebtoken::decode`.
//!
//! ```text
//! cargo bench -p mlguard-benches --bench jwt -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Instructions (deterministic, unlike the machine's wall time): build with `cargo bench
//! --no-run`, then `valgrind --tool=callgrind target/release/deps/jwt-* --bench --profile-time 2
//! '^jwt_hs256/mlguard_verify_at$'` and divide the inclusive instructions of
//! `jwt::mlguard_once` by its calls (`jwt::jsonwebtoken_once` for the other side; the filter
//! `'^jwt_hs256/mlguard_verify_at_uncached$'` for the full checks). Valgrind
//! hides the SHA extensions of the CPU, so SHA-256 runs in software there.

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mlguard_auth::jwt::cache::DEFAULT_CACHE_CAPACITY;
use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

const ED25519_PRIVATE: &[u8] = include_bytes!("../data/ed25519_private.pem");
const ED25519_PUBLIC: &[u8] = include_bytes!("../data/ed25519_public.pem");
const ISSUER: &str = "ml-api";

/// The claims ml-api's access tokens carry, as a jsonwebtoken user would declare them.
#[derive(serde::Deserialize)]
#[allow(dead_code)] // decoded to do the same work as mlguard, not read
struct AccessClaims {
    sub: String,
    roles: Vec<String>,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
}

fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    v.validate_nbf = true;
    v.leeway = 30;
    v
}

struct Case {
    token: String,
    ours: JwtVerifier,
    /// The same verifier without the cache of verified tokens: every call does every check.
    uncached: JwtVerifier,
    theirs: DecodingKey,
    validation: Validation,
}

fn hs256() -> Case {
    let secret = [7u8; 32];
    let issuer = JwtIssuer::new(
        SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap_or_else(|e| panic!("{e}")),
    )
    .issuer(ISSUER)
    .audience(ISSUER);
    let verifier = |cache| {
        JwtVerifier::builder()
            .key(
                VerifyingKey::hmac(JwtAlgorithm::HS256, &secret)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .with_kid("k1"),
            )
            .issuer(ISSUER)
            .audience(ISSUER)
            .cache_capacity(cache)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    Case {
        token: issue(&issuer),
        ours: verifier(DEFAULT_CACHE_CAPACITY),
        uncached: verifier(0),
        theirs: DecodingKey::from_secret(&secret),
        validation: validation(Algorithm::HS256),
    }
}

fn eddsa() -> Case {
    let issuer = JwtIssuer::new(
        SigningKey::from_pem(JwtAlgorithm::EdDSA, "ed1", ED25519_PRIVATE).unwrap_or_else(|e| panic!("{e}")),
    )
    .issuer(ISSUER)
    .audience(ISSUER);
    let verifier = |cache| {
        JwtVerifier::builder()
            .key(
                VerifyingKey::from_pem(JwtAlgorithm::EdDSA, ED25519_PUBLIC)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .with_kid("ed1"),
            )
            .issuer(ISSUER)
            .audience(ISSUER)
            .cache_capacity(cache)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    Case {
        token: issue(&issuer),
        ours: verifier(DEFAULT_CACHE_CAPACITY),
        uncached: verifier(0),
        theirs: DecodingKey::from_ed_pem(ED25519_PUBLIC).unwrap_or_else(|e| panic!("{e}")),
        validation: validation(Algorithm::EdDSA),
    }
}

fn issue(issuer: &JwtIssuer) -> String {
    issuer
        .issue("alice", &["user".to_owned()], None)
        .unwrap_or_else(|e| panic!("{e}"))
        .access_token()
        .to_owned()
}

#[inline(never)]
fn mlguard_once(verifier: &JwtVerifier, token: &str, now: SystemTime) -> bool {
    verifier.verify_at(token, now).is_ok()
}

#[inline(never)]
fn mlguard_clock_once(verifier: &JwtVerifier, token: &str) -> bool {
    verifier.verify(token).is_ok()
}

#[inline(never)]
fn jsonwebtoken_once(token: &str, key: &DecodingKey, validation: &Validation) -> bool {
    jsonwebtoken::decode::<AccessClaims>(token, key, validation).is_ok()
}

fn bench(c: &mut Criterion) {
    let now = SystemTime::now() + Duration::from_secs(1);
    for (name, case) in [("jwt_hs256", hs256()), ("jwt_eddsa", eddsa())] {
        // Each side must accept the token, and refuse it once tampered, or the timing
        // compares nothing.
        assert!(
            mlguard_once(&case.ours, &case.token, now),
            "{name}: mlguard refused"
        );
        assert!(
            mlguard_once(&case.uncached, &case.token, now),
            "{name}: mlguard refused"
        );
        assert!(
            mlguard_clock_once(&case.ours, &case.token),
            "{name}: mlguard refused"
        );
        assert!(
            jsonwebtoken_once(&case.token, &case.theirs, &case.validation),
            "{name}: jsonwebtoken refused"
        );
        let tampered = tamper(&case.token);
        assert!(
            !mlguard_once(&case.ours, &tampered, now),
            "{name}: mlguard accepted a forgery"
        );
        assert!(
            !mlguard_once(&case.uncached, &tampered, now),
            "{name}: mlguard accepted a forgery"
        );
        assert!(
            !jsonwebtoken_once(&tampered, &case.theirs, &case.validation),
            "{name}: jsonwebtoken accepted a forgery"
        );

        let mut group = c.benchmark_group(name);
        group.bench_function("mlguard_verify_at", |b| {
            b.iter(|| mlguard_once(&case.ours, black_box(&case.token), now));
        });
        group.bench_function("mlguard_verify_at_uncached", |b| {
            b.iter(|| mlguard_once(&case.uncached, black_box(&case.token), now));
        });
        group.bench_function("mlguard_verify", |b| {
            b.iter(|| mlguard_clock_once(&case.ours, black_box(&case.token)));
        });
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| jsonwebtoken_once(black_box(&case.token), &case.theirs, &case.validation));
        });
        group.finish();
    }
}

/// The token with the first character of its signature changed.
fn tamper(token: &str) -> String {
    let (message, signature) = token.rsplit_once('.').unwrap_or_else(|| panic!("not a JWS"));
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{message}.{first}{}", &signature[1..])
}

criterion_group!(benches, bench);
criterion_main!(benches);
