//! Remote JWKS against a real HTTP server on 127.0.0.1: caching, paced refresh on unknown
//! `kid`, size and time bounds.
#![cfg(feature = "jwks")]

mod common;

use axum::Router;
use axum::routing::get;
use common::*;
use mlguard_auth::jwt::{BearerAuth, JwtAlgorithm, JwtIssuer, JwtVerifier, RemoteJwks, SigningKey};
use mlguard_core::ManualClock;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const JWKS: &str = include_str!("data/jwks.json");

async fn serve(hits: Arc<AtomicUsize>) -> String {
    let app = Router::new()
        .route(
            "/jwks.json",
            get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { ([("content-type", "application/json")], JWKS) }
            }),
        )
        .route(
            "/big.json",
            get(|| async { format!("{{\"keys\":[],\"pad\":\"{}\"}}", "a".repeat(100_000)) }),
        )
        .route(
            "/slow.json",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                JWKS
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn headers(token: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert("authorization", format!("Bearer {token}").parse().unwrap());
    h
}

#[tokio::test]
async fn unknown_kid_fetches_once_per_interval_and_keys_verify() {
    let hits = Arc::new(AtomicUsize::new(0));
    let base = serve(hits.clone()).await;
    let clock = ManualClock::at_unix(1_700_000_000);
    let jwks = Arc::new(
        RemoteJwks::builder(format!("{base}/jwks.json"))
            .min_refresh_interval(Duration::from_secs(60))
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    );
    let verifier = JwtVerifier::builder()
        .jwks(jwks.clone())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let auth = BearerAuth::new(verifier);

    let sign = |alg, kid: &str, pem: &[u8]| {
        JwtIssuer::new(SigningKey::from_pem(alg, kid, pem).unwrap())
            .clock(Arc::new(clock.clone()))
            .issue("svc", &["user".into()], None)
            .unwrap()
    };
    let ec = sign(JwtAlgorithm::ES256, "ec-remote", EC_PRIVATE);
    assert!(
        auth.authenticate_headers(&headers(ec.access_token()))
            .await
            .is_ok()
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "first unknown kid fetched the set"
    );
    assert_eq!(jwks.len(), 3, "oct and enc keys are refused");
    let rsa = sign(JwtAlgorithm::RS256, "rsa-remote", RSA_PRIVATE);
    let ed = sign(JwtAlgorithm::EdDSA, "ed-remote", ED_PRIVATE);
    assert!(
        auth.authenticate_headers(&headers(rsa.access_token()))
            .await
            .is_ok()
    );
    assert!(
        auth.authenticate_headers(&headers(ed.access_token()))
            .await
            .is_ok()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "cached keys need no fetch");

    // A flood of unknown kids within the interval: no further fetch.
    let stranger = sign(JwtAlgorithm::ES256, "unknown-kid", EC_PRIVATE);
    for _ in 0..5 {
        assert!(
            auth.authenticate_headers(&headers(stranger.access_token()))
                .await
                .is_err()
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // RS256 JWK (no alg member) must not verify a PS256 token even with the right key.
    let ps = sign(JwtAlgorithm::PS256, "rsa-remote", RSA_PRIVATE);
    assert!(
        auth.authenticate_headers(&headers(ps.access_token()))
            .await
            .is_err()
    );

    clock.advance(Duration::from_secs(60));
    assert!(
        auth.authenticate_headers(&headers(stranger.access_token()))
            .await
            .is_err()
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "after the interval one more fetch"
    );
}

#[tokio::test]
async fn fetch_is_bounded_in_size_and_time_and_keeps_old_keys() {
    let hits = Arc::new(AtomicUsize::new(0));
    let base = serve(hits).await;
    let big = RemoteJwks::builder(format!("{base}/big.json"))
        .max_body_bytes(10_000)
        .build()
        .unwrap();
    assert!(big.refresh().await.is_err());
    let slow = RemoteJwks::builder(format!("{base}/slow.json"))
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    // The server would answer with a valid set after 5 s: an error means the bound cut it off.
    assert!(slow.refresh().await.is_err());
    let ok = RemoteJwks::builder(format!("{base}/jwks.json")).build().unwrap();
    assert_eq!(ok.refresh().await.unwrap(), 3);
    assert!(RemoteJwks::builder("file:///etc/passwd").build().is_err());
}
