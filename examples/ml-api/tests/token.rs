//! End-to-end: the tutorial's OAuth2 flows on the real server: admin gets a token and
//! predicts, `user` gets 403, wrong password 400 `invalid_grant`, the 6th login in a minute
//! 429, refresh tokens rotate and a reused one is refused.

mod common;

use common::*;

async fn predict_with_token(s: &TestServer, token: &str) -> reqwest::Response {
    s.client
        .post(s.url("/predict"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(SETOSA)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn admin_token_predicts_user_token_is_403_wrong_password_is_invalid_grant() {
    let s = start().await;
    let r = s.login("admin", &s.admin_password).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v = json(r).await;
    assert_eq!(v["token_type"], "bearer");
    assert!(v["expires_in"].as_u64().unwrap() <= 15 * 60);
    let token = v["access_token"].as_str().unwrap().to_owned();

    let r = predict_with_token(&s, &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["class"], "setosa");

    s.add_user("user", "user-password-1", "user");
    let r = s.login("user", "user-password-1").await;
    assert_eq!(r.status(), 200);
    let user_token = json(r).await["access_token"].as_str().unwrap().to_owned();
    let r = predict_with_token(&s, &user_token).await;
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    // But `user` may use the crypto endpoints.
    let r = s
        .client
        .post(s.url("/encrypt"))
        .bearer_auth(&user_token)
        .json(&serde_json::json!({"plaintext": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let wrong = s.login("admin", "wrong-password").await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(wrong.headers()["content-type"], "application/json");
    let wrong_body = json(wrong).await;
    assert_eq!(wrong_body["error"], "invalid_grant");
    let unknown = json(s.login("nobody", "wrong-password").await).await;
    assert_eq!(
        unknown, wrong_body,
        "unknown users and wrong passwords must look alike"
    );

    // A tampered token is 401 with an RFC 6750 challenge.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let r = predict_with_token(&s, &tampered).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    s.stop().await;
}

#[tokio::test]
async fn sixth_login_in_a_minute_is_429() {
    let s = start().await;
    for i in 0..5 {
        let r = s.login("admin", "wrong-password").await;
        assert_eq!(r.status(), 400, "login {i}");
    }
    let r = s.login("admin", &s.admin_password).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    s.stop().await;
}

#[tokio::test]
async fn logins_are_limited_per_username_across_addresses() {
    // The loopback peer is a trusted proxy here, so X-Forwarded-For picks the client address.
    let s = start_with(|c| c.trusted_proxies = Some("127.0.0.1/32".into())).await;
    for i in 0..5u8 {
        let r = s
            .client
            .post(s.url("/token"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .form(&[("username", "admin"), ("password", "wrong-password")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "login {i}");
    }
    let r = s
        .client
        .post(s.url("/token"))
        .header("x-forwarded-for", "203.0.113.99")
        .form(&[("username", "admin"), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "per-username limit");
    // Another username from a fresh address is not affected.
    let r = s
        .client
        .post(s.url("/token"))
        .header("x-forwarded-for", "203.0.113.100")
        .form(&[("username", "someone"), ("password", "wrong-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_is_refused() {
    let s = start().await;
    let v = json(s.login("admin", &s.admin_password).await).await;
    let refresh = v["refresh_token"]
        .as_str()
        .expect("refresh token issued")
        .to_owned();
    let r = s
        .client
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v2 = json(r).await;
    let access2 = v2["access_token"].as_str().unwrap().to_owned();
    assert_ne!(v2["refresh_token"], v["refresh_token"]);
    assert_eq!(predict_with_token(&s, &access2).await.status(), 200);

    let r = s
        .client
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "invalid_grant");
    // Reuse revoked the family: the access token from the rotation no longer works.
    assert_eq!(predict_with_token(&s, &access2).await.status(), 401);

    let r = s
        .client
        .post(s.url("/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "unsupported_grant_type");
    s.stop().await;
}

/// Token request bodies above the token route's 16 KiB limit but below the server's body limit
/// (64 KiB) are refused with 413 and a problem body, like larger ones: never read as an empty
/// form and answered 400 `invalid_request`.
#[tokio::test]
async fn token_bodies_over_the_route_limit_are_413() {
    let s = start_with(|c| c.no_tls = Some(true)).await;
    for kib in [20usize, 60] {
        let body = format!(
            "grant_type=password&username=admin&password={}",
            "x".repeat(kib * 1024)
        );
        let r = s
            .client
            .post(s.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{kib} KiB");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{kib} KiB"
        );
        let v = json(r).await;
        assert_eq!(v["status"], 413, "{kib} KiB: {v}");
    }
    // The route still works afterwards.
    assert_eq!(s.login("admin", &s.admin_password).await.status(), 200);
    s.stop().await;
}
