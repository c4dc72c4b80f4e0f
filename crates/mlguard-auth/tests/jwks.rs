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
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { ([("content-type", "application/json")], JWKS) }
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
        .accept_any_audience()
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
    // The identity provider may remove a remote key at any time: tokens it verified are
    // never kept in the verifier's cache of verified tokens (issue 17).
    assert_eq!(auth.verifier().cached_tokens(), 0);
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

/// A JWKS endpoint whose answer the test switches: a good set, then each kind of failure.
#[derive(Clone, Copy)]
enum Mode {
    Good = 0,
    ServerError = 1,
    Oversized = 2,
    Slow = 3,
    Malformed = 4,
}

async fn serve_switchable(mode: Arc<AtomicUsize>) -> String {
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let mode = mode.load(Ordering::SeqCst);
            async move {
                use axum::response::IntoResponse;
                match mode {
                    0 => ([("content-type", "application/json")], JWKS).into_response(),
                    1 => (http::StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
                    2 => format!("{{\"keys\":[],\"pad\":\"{}\"}}", "a".repeat(100_000)).into_response(),
                    3 => {
                        // A valid set, but only after the client's bound.
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        ([("content-type", "application/json")], JWKS).into_response()
                    }
                    _ => "{\"keys\": [".into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json")
}

#[tokio::test]
async fn fetch_is_bounded_in_size_and_time_and_keeps_old_keys() {
    let mode = Arc::new(AtomicUsize::new(Mode::Good as usize));
    let url = serve_switchable(mode.clone()).await;
    let jwks = Arc::new(
        RemoteJwks::builder(url)
            .max_body_bytes(10_000)
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    );
    let auth = BearerAuth::new(
        JwtVerifier::builder()
            .jwks(jwks.clone())
            .accept_any_audience()
            .build()
            .unwrap(),
    );
    let token = JwtIssuer::new(SigningKey::from_pem(JwtAlgorithm::ES256, "ec-remote", EC_PRIVATE).unwrap())
        .issue("svc", &["user".into()], None)
        .unwrap();

    // The keys the failures below must not take away.
    assert_eq!(jwks.refresh().await.unwrap(), 3);
    assert!(jwks.cached("ec-remote").is_some());
    assert!(
        auth.authenticate_headers(&headers(token.access_token()))
            .await
            .is_ok()
    );

    for (failure, what) in [
        (Mode::ServerError, "a 500"),
        // 100 kB against a 10 kB bound.
        (Mode::Oversized, "an oversized body"),
        // The server would answer with a valid set after 5 s: an error means the bound cut it off.
        (Mode::Slow, "a slow answer"),
        (Mode::Malformed, "a malformed body"),
    ] {
        mode.store(failure as usize, Ordering::SeqCst);
        assert!(jwks.refresh().await.is_err(), "{what} was accepted");
        assert_eq!(jwks.len(), 3, "{what} dropped the cached keys");
        assert!(jwks.cached("ec-remote").is_some(), "{what}");
        assert!(
            auth.authenticate_headers(&headers(token.access_token()))
                .await
                .is_ok(),
            "after {what} a token signed by a cached key no longer verifies"
        );
    }
    // Control: the endpoint healthy again is read again.
    mode.store(Mode::Good as usize, Ordering::SeqCst);
    assert_eq!(jwks.refresh().await.unwrap(), 3);
    assert!(RemoteJwks::builder("file:///etc/passwd").build().is_err());
}
