//! The cache of verified tokens (issue 17) never accepts a token that a full verification
//! would refuse: expired, not yet valid, issued in the future (all on an injected clock),
//! revoked (a real revocation store), or signed by a key the configuration no longer has.
//! Each test first shows that the token is in the cache, so the decision is the hit path's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use mlguard_auth::BearerAuth;
use mlguard_auth::jwt::{Claims, JwtAlgorithm, JwtVerifier, TokenError, VerifyingKey};
use mlguard_auth::revocation::MemoryRevocationStore;
use mlguard_core::ManualClock;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";
const NOW: u64 = 1_700_000_000;
const LEEWAY: u64 = 10;

/// Signs the exact claims text with `secret` under `kid`.
fn signed(secret: &[u8], kid: &str, claims: &str) -> String {
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{message}.{sig}")
}

fn token(claims: &str) -> String {
    signed(SECRET, "k1", claims)
}

fn verifier(clock: &ManualClock, capacity: usize) -> JwtVerifier {
    JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, OTHER)
                .unwrap()
                .with_kid("k2"),
        )
        .audience("ml-api")
        .leeway(Duration::from_secs(LEEWAY))
        .clock(Arc::new(clock.clone()))
        .cache_capacity(capacity)
        .build()
        .unwrap()
}

fn at(secs: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// For tokens with every combination of dates, and every second around their boundaries, a
/// verifier whose cache holds the token decides exactly as one without a cache.
#[test]
fn hits_recheck_exp_nbf_and_iat_like_a_full_verification() {
    let dates = [
        // (exp, nbf, iat), relative to NOW
        (600, None, None),
        (600, Some(100), None),
        (600, None, Some(100)),
        (600, Some(50), Some(100)),
        (1, Some(0), Some(0)),
    ];
    let clock = ManualClock::at_unix(NOW);
    for (exp, nbf, iat) in dates {
        let mut claims = format!(r#"{{"sub":"alice","aud":"ml-api","jti":"j","exp":{}"#, NOW + exp);
        if let Some(nbf) = nbf {
            claims += &format!(r#","nbf":{}"#, NOW + nbf);
        }
        if let Some(iat) = iat {
            claims += &format!(r#","iat":{}"#, NOW + iat);
        }
        claims.push('}');
        let token = token(&claims);
        let cached = verifier(&clock, 16);
        let uncached = verifier(&clock, 0);
        // Cache it at a time it is valid.
        let valid_at = at(NOW + nbf.max(iat).unwrap_or(0));
        assert!(cached.verify_at(&token, valid_at).is_ok(), "{claims}");
        assert_eq!(cached.cached_tokens(), 1);
        assert_eq!(uncached.cached_tokens(), 0);
        let mut refusals = 0;
        for t in (NOW - 2 * LEEWAY)..(NOW + exp + 2 * LEEWAY) {
            let hit = cached.verify_at(&token, at(t));
            let full = uncached.verify_at(&token, at(t));
            assert_eq!(hit, full, "{claims} at NOW+{}", t.wrapping_sub(NOW));
            refusals += usize::from(hit.is_err());
        }
        assert!(refusals > 0, "{claims}: the window must include refusals");
        assert_eq!(cached.cached_tokens(), 1, "hits, not re-verifications");
    }
}

#[test]
fn an_expired_token_is_refused_on_the_injected_clock_although_cached() {
    let clock = ManualClock::at_unix(NOW);
    let verifier = verifier(&clock, 16);
    let token = token(&format!(r#"{{"sub":"alice","aud":"ml-api","exp":{}}}"#, NOW + 60));
    assert!(verifier.verify(&token).is_ok());
    assert_eq!(verifier.cached_tokens(), 1);
    clock.advance(Duration::from_secs(60 + LEEWAY - 1));
    assert!(verifier.verify(&token).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(verifier.verify(&token), Err(TokenError::Expired));
    assert_eq!(verifier.cached_tokens(), 1);
}

#[test]
fn not_yet_valid_and_future_tokens_are_refused_although_cached() {
    let clock = ManualClock::at_unix(NOW + 100);
    let verifier = verifier(&clock, 16);
    let exp = NOW + 600;
    let nbf = token(&format!(
        r#"{{"sub":"a","aud":"ml-api","exp":{exp},"nbf":{}}}"#,
        NOW + 100
    ));
    let iat = token(&format!(
        r#"{{"sub":"a","aud":"ml-api","exp":{exp},"iat":{}}}"#,
        NOW + 100
    ));
    assert!(verifier.verify(&nbf).is_ok() && verifier.verify(&iat).is_ok());
    assert_eq!(verifier.cached_tokens(), 2);
    // A clock set back (NTP step, or a replay into a server whose clock is behind).
    clock.set(at(NOW + 100 - LEEWAY - 1));
    assert_eq!(verifier.verify(&nbf), Err(TokenError::NotYetValid));
    assert_eq!(verifier.verify(&iat), Err(TokenError::IssuedInFuture));
}

#[tokio::test]
async fn a_revoked_token_is_refused_although_cached() {
    let clock = ManualClock::at_unix(NOW);
    let store = Arc::new(MemoryRevocationStore::with_clock(Arc::new(clock.clone())));
    let auth = BearerAuth::new(verifier(&clock, 16)).revocation(store.clone());
    let exp = NOW + 600;
    let token = token(&format!(
        r#"{{"sub":"alice","aud":"ml-api","jti":"j1","exp":{exp}}}"#
    ));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    assert!(auth.authenticate_headers(&headers).await.is_ok());
    assert!(auth.authenticate_headers(&headers).await.is_ok());
    assert_eq!(auth.verifier().cached_tokens(), 1);
    store.revoke_now("j1", at(exp));
    assert!(auth.authenticate_headers(&headers).await.is_err());
    // Still cached: the refusal came from the store, asked on the hit path.
    assert_eq!(auth.verifier().cached_tokens(), 1);
}

/// The bearer layer's own path (it takes the principal and the claims from the cache entry,
/// without copying the verified token): the same principal as a full verification, and the
/// dates checked again on every hit, on the injected clock.
#[tokio::test]
async fn the_bearer_layer_rechecks_dates_on_hits_and_answers_as_a_full_verification() {
    let clock = ManualClock::at_unix(NOW);
    let auth = BearerAuth::new(verifier(&clock, 16));
    let uncached = verifier(&clock, 0);
    let exp = NOW + 60;
    let nbf = NOW - 5;
    let token = token(&format!(
        r#"{{"sub":"alice","aud":"ml-api","roles":["user"],"scope":"model:predict","jti":"j1","exp":{exp},"nbf":{nbf}}}"#
    ));
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let expected = uncached.verify(&token).unwrap().into_principal();
    let first = auth.authenticate_headers(&headers).await.unwrap();
    assert_eq!(first, expected);
    assert_eq!(auth.verifier().cached_tokens(), 1);
    let hits = auth.verifier().cache_hits();
    let hit = auth.authenticate_headers(&headers).await.unwrap();
    assert_eq!(auth.verifier().cache_hits(), hits + 1, "answered from the cache");
    assert_eq!(hit, expected);
    assert_eq!(hit.token_id(), Some("j1"));
    assert!(hit.has_role("user"));

    // Expired (past the leeway) on a hit.
    clock.set(at(exp + LEEWAY - 1));
    assert!(auth.authenticate_headers(&headers).await.is_ok());
    clock.set(at(exp + LEEWAY));
    assert!(auth.authenticate_headers(&headers).await.is_err());
    // Not yet valid, the clock set back before `nbf` minus the leeway, on a hit.
    clock.set(at(nbf - LEEWAY - 1));
    assert!(auth.authenticate_headers(&headers).await.is_err());
    clock.set(at(nbf - LEEWAY));
    assert!(auth.authenticate_headers(&headers).await.is_ok());
    assert_eq!(
        auth.verifier().cached_tokens(),
        1,
        "still cached: refused on the hit path"
    );
}

/// The claims reach the request next to the principal, on the first request and on hits.
#[tokio::test]
async fn the_claims_reach_the_handler_on_hits() {
    use tower::ServiceExt as _;
    let clock = ManualClock::at_unix(NOW);
    let layer = mlguard_auth::BearerAuthLayer::new(BearerAuth::new(verifier(&clock, 16)));
    let service = tower::service_fn(|req: http::Request<()>| async move {
        let claims = Claims::from_extensions(req.extensions()).map(|c| c.json().to_owned());
        let subject =
            mlguard_core::Principal::from_extensions(req.extensions()).map(|p| p.subject().to_owned());
        Ok::<_, std::convert::Infallible>(http::Response::new(format!("{subject:?} {claims:?}")))
    });
    let service = tower::Layer::layer(&layer, service);
    let claims = format!(
        r#"{{"sub":"alice","aud":"ml-api","tenant":"acme","exp":{}}}"#,
        NOW + 60
    );
    let token = token(&claims);
    for _ in 0..3 {
        let req = http::Request::builder()
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap();
        let resp = service.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body();
        let body = http_body_util::BodyExt::collect(body).await.unwrap().to_bytes();
        assert_eq!(
            String::from_utf8(body.to_vec()).unwrap(),
            format!("{:?} {:?}", Some("alice"), Some(claims.as_str()))
        );
    }
}

/// Removing a key means building a verifier without it: its cache starts empty, and tokens
/// signed by the removed key are refused; the remaining key's tokens still verify.
#[test]
fn a_token_signed_by_a_removed_key_is_refused() {
    let clock = ManualClock::at_unix(NOW);
    let before = verifier(&clock, 16);
    let claims = format!(r#"{{"sub":"alice","aud":"ml-api","exp":{}}}"#, NOW + 600);
    let by_k1 = token(&claims);
    let by_k2 = signed(OTHER, "k2", &claims);
    assert!(before.verify(&by_k1).is_ok() && before.verify(&by_k2).is_ok());
    assert_eq!(before.cached_tokens(), 2);
    let after = JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, OTHER)
                .unwrap()
                .with_kid("k2"),
        )
        .audience("ml-api")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    assert_eq!(after.cached_tokens(), 0);
    assert_eq!(after.verify(&by_k1), Err(TokenError::UnknownKey));
    assert!(after.verify(&by_k2).is_ok());
}

#[test]
fn only_accepted_tokens_are_cached_and_a_hit_needs_the_same_bytes() {
    let clock = ManualClock::at_unix(NOW);
    let verifier = verifier(&clock, 16);
    let good = token(&format!(
        r#"{{"sub":"alice","aud":"ml-api","exp":{}}}"#,
        NOW + 600
    ));
    let wrong_aud = token(&format!(r#"{{"sub":"alice","aud":"other","exp":{}}}"#, NOW + 600));
    let (message, sig) = good.rsplit_once('.').unwrap();
    let forged = format!(
        "{message}.{}{}",
        if sig.starts_with('A') { 'B' } else { 'A' },
        &sig[1..]
    );
    assert_eq!(verifier.verify(&wrong_aud), Err(TokenError::WrongAudience));
    assert_eq!(verifier.verify(&forged), Err(TokenError::BadSignature));
    assert_eq!(verifier.cached_tokens(), 0);
    assert!(verifier.verify(&good).is_ok());
    assert_eq!(verifier.cached_tokens(), 1);
    // The forgery shares everything but the signature with a cached token: still refused.
    assert_eq!(verifier.verify(&forged), Err(TokenError::BadSignature));
    assert_eq!(
        verifier.verify(&format!("{good}x")),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_role_mapper_turns_the_cache_off_and_the_capacity_bounds_it() {
    let clock = ManualClock::at_unix(NOW);
    let mapped = JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET)
                .unwrap()
                .with_kid("k1"),
        )
        .audience("ml-api")
        .clock(Arc::new(clock.clone()))
        .roles_mapper(|_: &Claims| Some(vec!["user".to_owned()]))
        .build()
        .unwrap();
    let first = token(&format!(r#"{{"sub":"a","aud":"ml-api","exp":{}}}"#, NOW + 600));
    assert_eq!(
        mapped.verify(&first).map(|v| v.roles),
        Ok(vec!["user".to_owned()])
    );
    assert_eq!(mapped.cached_tokens(), 0);

    let small = verifier(&clock, 2);
    for sub in ["a", "b", "c", "d", "e"] {
        let t = token(&format!(
            r#"{{"sub":"{sub}","aud":"ml-api","exp":{}}}"#,
            NOW + 600
        ));
        assert_eq!(small.verify(&t).map(|v| v.subject), Ok(sub.to_owned()));
        assert!(small.cached_tokens() <= 2);
    }
    assert!(small.cached_tokens() >= 1);
}

/// A token seen before is answered from the cache (the `cache_hits` count), and only then;
/// without a cache nothing is counted.
#[test]
fn a_repeated_token_is_a_hit_and_a_first_one_is_not() {
    let clock = ManualClock::at_unix(NOW);
    let verifier = verifier(&clock, 16);
    let claims = |sub: &str| format!(r#"{{"sub":"{sub}","aud":"ml-api","exp":{}}}"#, NOW + 600);
    let (a, b) = (token(&claims("a")), token(&claims("b")));
    assert!(verifier.verify(&a).is_ok());
    assert!(verifier.verify(&b).is_ok());
    assert_eq!(verifier.cache_hits(), 0);
    for _ in 0..3 {
        assert!(verifier.verify(&a).is_ok());
    }
    assert_eq!(verifier.cache_hits(), 3);
    // A refused token is no hit, and neither is a token the cache has not seen.
    assert!(verifier.verify(&format!("{a}x")).is_err());
    assert!(verifier.verify(&token(&claims("c"))).is_ok());
    assert_eq!(verifier.cache_hits(), 3);
    let off = verifier_without_cache(&clock);
    assert!(off.verify(&a).is_ok() && off.verify(&a).is_ok());
    assert_eq!((off.cache_hits(), off.cached_tokens()), (0, 0));
}

fn verifier_without_cache(clock: &ManualClock) -> JwtVerifier {
    verifier(clock, 0)
}

/// Claims whose token is exactly `len` bytes long (a filler claim of the right size), when
/// one exists for this header.
fn token_of_len(len: usize) -> Option<String> {
    (0..len).find_map(|fill| {
        let claims = format!(
            r#"{{"sub":"a","aud":"ml-api","exp":{},"pad":"{}"}}"#,
            NOW + 600,
            "p".repeat(fill)
        );
        let t = token(&claims);
        (t.len() == len).then_some(t)
    })
}

/// Tokens up to `MAX_CACHED_TOKEN_LEN` bytes are cached; longer ones are verified every time
/// and never take a place.
#[test]
fn only_tokens_up_to_the_length_bound_are_cached() {
    use mlguard_auth::jwt::cache::MAX_CACHED_TOKEN_LEN;
    let clock = ManualClock::at_unix(NOW);
    // This header's base64url makes every total length but 4k + 1 reachable: 2048 is.
    let at_max = token_of_len(MAX_CACHED_TOKEN_LEN).expect("a token of exactly the bound");
    let over = token_of_len(MAX_CACHED_TOKEN_LEN + 1)
        .or_else(|| token_of_len(MAX_CACHED_TOKEN_LEN + 2))
        .expect("a token just over the bound");
    let verifier = verifier(&clock, 16);
    assert!(verifier.verify(&over).is_ok());
    assert!(verifier.verify(&over).is_ok());
    assert_eq!((verifier.cached_tokens(), verifier.cache_hits()), (0, 0));
    assert!(verifier.verify(&at_max).is_ok());
    assert_eq!(verifier.cached_tokens(), 1);
}
