//! Key extractors and the missing-key outcome, through the layer.

mod common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode};
use mlguard_core::{AuthMethod, ClientIpResolver, Principal, TrustedProxies};
use mlguard_ratelimit::{KeyExtractor, MissingKey, RateLimitLayer};

fn one_per_minute(key: KeyExtractor) -> RateLimitLayer {
    RateLimitLayer::builder()
        .quota("1/minute")
        .key(key)
        .build()
        .unwrap()
}

fn with_principal(mut req: Request<Body>, p: Principal) -> Request<Body> {
    req.extensions_mut().insert(p);
    req
}

fn form(body: &str) -> Request<Body> {
    let mut req = from_ip("192.0.2.1");
    *req.body_mut() = Body::from(body.to_owned());
    req.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    req
}

#[tokio::test]
async fn ipv6_clients_are_aggregated_to_their_64() {
    let svc = service(&one_per_minute(KeyExtractor::client_ip(ClientIpResolver::new())));
    assert_eq!(status(&svc, from_ip("2001:db8:1:2::1")).await, StatusCode::OK);
    // Same /64, another interface id: same bucket.
    assert_eq!(
        status(&svc, from_ip("2001:db8:1:2:ffff::9")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another /64: another bucket.
    assert_eq!(status(&svc, from_ip("2001:db8:1:3::1")).await, StatusCode::OK);

    let per_48 = service(&one_per_minute(
        KeyExtractor::client_ip(ClientIpResolver::new()).with_v6_prefix(48),
    ));
    assert_eq!(status(&per_48, from_ip("2001:db8:1:2::1")).await, StatusCode::OK);
    assert_eq!(
        status(&per_48, from_ip("2001:db8:1:3::1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn ipv4_clients_are_kept_whole_and_mapped_addresses_join_them() {
    let svc = service(&one_per_minute(KeyExtractor::client_ip(ClientIpResolver::new())));
    assert_eq!(status(&svc, from_ip("192.0.2.7")).await, StatusCode::OK);
    // The same address written as IPv4-mapped IPv6: the same client, the same bucket.
    assert_eq!(
        status(&svc, from_ip("::ffff:192.0.2.7")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Every IPv4 address is its own bucket, even beside one in the same /24.
    assert_eq!(status(&svc, from_ip("192.0.2.8")).await, StatusCode::OK);
    assert_eq!(
        status(&svc, from_ip("::ffff:192.0.2.8")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_pick_a_fresh_bucket() {
    let resolver =
        ClientIpResolver::new().with_trusted_proxies("10.0.0.0/8".parse::<TrustedProxies>().unwrap());
    let svc = service(&one_per_minute(KeyExtractor::client_ip(resolver)));
    let forged = |xff: &str| {
        let mut req = from_ip("198.51.100.9");
        req.headers_mut().insert("x-forwarded-for", xff.parse().unwrap());
        req
    };
    assert_eq!(status(&svc, forged("1.1.1.1")).await, StatusCode::OK);
    assert_eq!(
        status(&svc, forged("2.2.2.2")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Through the trusted proxy, the forwarded address is the key.
    let via_proxy = |xff: &str| {
        let mut req = from_ip("10.0.0.2");
        req.headers_mut().insert("x-forwarded-for", xff.parse().unwrap());
        req
    };
    assert_eq!(status(&svc, via_proxy("203.0.113.5")).await, StatusCode::OK);
    assert_eq!(status(&svc, via_proxy("203.0.113.6")).await, StatusCode::OK);
    assert_eq!(
        status(&svc, via_proxy("203.0.113.5")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn principal_subject_and_api_key_id_are_keys() {
    let alice = Principal::builder("alice").build();
    let bob = Principal::builder("bob").build();
    let svc = service(&one_per_minute(KeyExtractor::principal_subject()));
    // Same address, different principals: separate buckets.
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), alice.clone())).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), bob)).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.9"), alice)).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    let key = |id: &str| {
        Principal::builder("svc")
            .method(AuthMethod::ApiKey { key_id: id.into() })
            .build()
    };
    let svc = service(&one_per_minute(KeyExtractor::api_key_id()));
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), key("k1"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), key("k2"))).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), key("k1"))).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A bearer principal has no API key id: missing key, 400 by default.
    let bearer = Principal::builder("svc")
        .method(AuthMethod::Bearer { token_id: None })
        .build();
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), bearer)).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_form_field_is_the_key_and_the_body_reaches_the_handler_intact() {
    let svc = service(&one_per_minute(KeyExtractor::body_field("username")));
    let first = send(&svc, form("username=alice&password=secret1")).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(&body(first).await[..], b"username=alice&password=secret1");
    // Another address, same user (case and spaces do not make a new bucket).
    let mut again = form("username=%20Alice&password=other");
    again
        .extensions_mut()
        .insert(mlguard_core::PeerAddr("198.51.100.1:1".parse().unwrap()));
    assert_eq!(status(&svc, again).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        status(&svc, form("username=bob&password=x")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_json_field_is_the_key() {
    let svc = service(&one_per_minute(KeyExtractor::body_field("username")));
    let json = |b: &'static str| {
        let mut req = from_ip("192.0.2.1");
        *req.body_mut() = Body::from(b);
        req.headers_mut()
            .insert("content-type", "application/json".parse().unwrap());
        req
    };
    let first = send(&svc, json(r#"{"username":"carol"}"#)).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(&body(first).await[..], br#"{"username":"carol"}"#);
    assert_eq!(
        status(&svc, json(r#"{"username":"carol","x":1}"#)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_body_over_the_bound_is_413_not_a_free_pass() {
    let svc = service(&one_per_minute(
        KeyExtractor::body_field("username").with_max_body(64),
    ));
    let big = format!("username=alice&pad={}", "x".repeat(100));
    assert_eq!(status(&svc, form(&big)).await, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn missing_key_is_a_configured_4xx_or_a_fallback_and_a_500_only_for_the_server() {
    // Default: 400 with a problem body naming what was missing (authentication ran and let
    // the request through without credentials: `Anonymous`).
    let svc = service(&one_per_minute(KeyExtractor::principal_subject()));
    let resp = send(&svc, anonymous(from_ip("192.0.2.1"))).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let json: serde_json::Value = serde_json::from_slice(&body(resp).await).unwrap();
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .contains("authenticated principal")
    );

    // 401 carries a challenge.
    let layer = RateLimitLayer::builder()
        .quota("1/minute")
        .key(KeyExtractor::principal_subject())
        .on_missing_key(MissingKey::Reject(StatusCode::UNAUTHORIZED))
        .build()
        .unwrap();
    let resp = send(&service(&layer), anonymous(from_ip("192.0.2.1"))).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&resp, "www-authenticate").as_deref(), Some("Bearer"));

    // Fallback to the client address.
    let layer = RateLimitLayer::builder()
        .quota("1/minute")
        .key(KeyExtractor::body_field("username"))
        .on_missing_key(MissingKey::Fallback(KeyExtractor::client_ip(
            ClientIpResolver::new(),
        )))
        .build()
        .unwrap();
    let svc = service(&layer);
    assert_eq!(status(&svc, form("password=only")).await, StatusCode::OK);
    assert_eq!(
        status(&svc, form("password=again")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(layer.limiter().stats().snapshot().missing_key, 2);

    // No peer address at all and a client-IP key: the server's mistake (issue 16: this was a
    // 400 blaming the client), a 500 with a logged fix (tests/misconfig.rs), never counted as
    // the client's missing key.
    let layer = one_per_minute(KeyExtractor::client_ip(ClientIpResolver::new()));
    let svc = service(&layer);
    assert_eq!(
        status(&svc, Request::new(Body::empty())).await,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(layer.limiter().stats().snapshot().missing_key, 0);
    assert_eq!(layer.limiter().stats().snapshot().misconfigured, 1);
}

#[tokio::test]
async fn global_and_custom_keys() {
    let svc = service(&one_per_minute(KeyExtractor::global()));
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::OK);
    assert_eq!(
        status(&svc, from_ip("192.0.2.2")).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    let svc = service(&one_per_minute(KeyExtractor::custom(|parts| {
        parts.headers.get("x-tenant")?.to_str().ok().map(str::to_owned)
    })));
    let tenant = |t: &str| {
        let mut req = from_ip("192.0.2.1");
        req.headers_mut().insert("x-tenant", t.parse().unwrap());
        req
    };
    assert_eq!(status(&svc, tenant("a")).await, StatusCode::OK);
    assert_eq!(status(&svc, tenant("b")).await, StatusCode::OK);
    assert_eq!(status(&svc, tenant("a")).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(status(&svc, from_ip("192.0.2.1")).await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn principal_keys_tell_an_api_key_from_a_user_of_the_same_name() {
    // The reproduced hole: an API key *named* `admin` and the user `admin` have the same
    // subject; keyed on the subject they shared a bucket.
    let key_named_admin = Principal::builder("admin")
        .method(AuthMethod::ApiKey {
            key_id: "0f3a".into(),
        })
        .build();
    let user_admin = Principal::builder("admin")
        .method(AuthMethod::Bearer {
            token_id: Some("jti-1".into()),
        })
        .build();
    let svc = service(&one_per_minute(KeyExtractor::principal()));
    assert_eq!(
        status(
            &svc,
            with_principal(from_ip("192.0.2.1"), key_named_admin.clone())
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), user_admin)).await,
        StatusCode::OK,
        "the user admin has a bucket of its own"
    );
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.1"), key_named_admin)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A new token of the same user is the same principal; the same key renamed too.
    let user_again = Principal::builder("admin")
        .method(AuthMethod::Bearer {
            token_id: Some("jti-2".into()),
        })
        .build();
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.9"), user_again)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let renamed_key = Principal::builder("renamed")
        .method(AuthMethod::ApiKey {
            key_id: "0f3a".into(),
        })
        .build();
    assert_eq!(
        status(&svc, with_principal(from_ip("192.0.2.9"), renamed_key)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // No principal: a missing key (400 by default), never a shared bucket.
    assert_eq!(
        status(&svc, anonymous(from_ip("192.0.2.1"))).await,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn long_principal_ids_are_hashed_not_cut() {
    use mlguard_ratelimit::{MAX_KEY_LEN, RateLimitKey};
    let long = |last: char| {
        let subject = format!("{}{last}", "u".repeat(2 * MAX_KEY_LEN));
        Principal::builder(subject)
            .method(AuthMethod::Bearer { token_id: None })
            .build()
            .id()
    };
    let a = RateLimitKey::principal(&long('a'));
    let b = RateLimitKey::principal(&long('b'));
    assert_ne!(
        a, b,
        "ids that differ after MAX_KEY_LEN bytes keep distinct buckets"
    );
    assert_ne!(a.to_string(), b.to_string());
    assert!(a.to_string().len() <= "principal:#".len() + 64);
    assert_eq!(a, RateLimitKey::principal(&long('a')));
    // A subject of the same length as a digest cannot be mistaken for one.
    let short = Principal::builder("admin")
        .method(AuthMethod::Bearer { token_id: None })
        .build();
    assert_eq!(
        RateLimitKey::principal(&short.id()).to_string(),
        "principal:bearer:admin"
    );
}

/// The request as an authentication layer lets it through without credentials.
fn anonymous(mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut().insert(mlguard_core::Anonymous);
    req
}
