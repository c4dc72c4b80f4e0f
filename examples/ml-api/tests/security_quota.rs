//! Per-principal quotas over HTTP (issue 14, hole 6): an API key and a user with the same name
//! are different principals with different buckets, and a request refused by the permission
//! check (403) spends no one's quota.
//!
//! Reproduced attack: an API key *named* `admin` (role `user`, no `model:predict`) sent
//! `POST /predict`; the quota was keyed on the free-text subject (`admin`) and charged before the
//! permission check, so each of its 403s drained the `/predict` quota of the user `admin`.
//!
//! The tests use `5/hour` (burst 5, one unit back every 12 minutes), so nothing refills mid-test.

mod common;

use common::*;

const SLOW_REFILL: &str = "5/hour";

async fn predict(s: &TestServer, auth: (&str, &str)) -> reqwest::Response {
    s.client
        .post(s.url("/predict"))
        .header(auth.0, auth.1)
        .header("content-type", "application/json")
        .body(SETOSA)
        .send()
        .await
        .unwrap()
}

async fn bearer_for(s: &TestServer, user: &str, password: &str) -> String {
    let r = s.login(user, password).await;
    assert_eq!(r.status(), 200, "login of {user}");
    let token = json(r).await["access_token"].as_str().unwrap().to_owned();
    format!("Bearer {token}")
}

#[tokio::test]
async fn an_api_key_named_like_a_user_cannot_spend_that_users_quota() {
    let s = start_with(|c| c.predict_rate = Some(SLOW_REFILL.into())).await;
    // The attacker: an API key whose name is the admin's user name, with role `user`.
    let key = s.api_key("admin", "user");
    let admin = bearer_for(&s, "admin", &s.admin_password.clone()).await;

    // More refused requests than the whole quota: each is 403 (no `model:predict`), and none
    // is 429, because a refused request is not charged (not even to the key's own bucket).
    for i in 0..8 {
        let r = predict(&s, ("x-api-key", &key)).await;
        assert_eq!(r.status(), 403, "key request {i}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }

    // The user `admin` still has the whole quota: 5 predictions pass, the 6th is limited.
    for i in 0..5 {
        let r = predict(&s, ("authorization", &admin)).await;
        assert_eq!(
            r.status(),
            200,
            "admin prediction {i}: the key named `admin` spent the user admin's quota"
        );
    }
    let r = predict(&s, ("authorization", &admin)).await;
    assert_eq!(r.status(), 429, "the user's own 6th prediction is limited");
    assert!(r.headers().contains_key("retry-after"));
    s.stop().await;
}

#[tokio::test]
async fn a_user_named_like_an_api_key_cannot_spend_that_keys_quota() {
    // The other direction, both principals allowed to predict: the user `batch-job` spends its
    // quota, the key named `batch-job` keeps its own.
    let s = start_with(|c| c.predict_rate = Some(SLOW_REFILL.into())).await;
    let key = s.api_key("batch-job", "admin");
    s.add_user("batch-job", "a-long-enough-password", "admin");
    let user = bearer_for(&s, "batch-job", "a-long-enough-password").await;
    for i in 0..5 {
        assert_eq!(
            predict(&s, ("authorization", &user)).await.status(),
            200,
            "user {i}"
        );
    }
    assert_eq!(predict(&s, ("authorization", &user)).await.status(), 429);
    for i in 0..5 {
        let r = predict(&s, ("x-api-key", &key)).await;
        assert_eq!(
            r.status(),
            200,
            "key prediction {i} after the user's quota ran out"
        );
    }
    assert_eq!(predict(&s, ("x-api-key", &key)).await.status(), 429);
    s.stop().await;
}

#[tokio::test]
async fn single_and_batch_predictions_share_one_bucket_per_principal() {
    let s = start_with(|c| c.predict_rate = Some(SLOW_REFILL.into())).await;
    let key = s.api_key("mixed", "admin");
    for i in 0..4 {
        assert_eq!(predict(&s, ("x-api-key", &key)).await.status(), 200, "single {i}");
    }
    let batch = |rows: usize| {
        let instances = vec![serde_json::from_str::<serde_json::Value>(SETOSA).unwrap(); rows];
        s.client
            .post(s.url("/predict/batch"))
            .header("x-api-key", &key)
            .json(&serde_json::json!({ "instances": instances }))
            .send()
    };
    // A refused batch (no rows; a row that is not a sample) spends nothing: it is refused
    // before the quota charges its rows.
    assert_eq!(batch(0).await.unwrap().status(), 422, "empty batch");
    let bad = s
        .post_value_key(
            "/predict/batch",
            &key,
            &serde_json::json!({ "instances": [{"sepal_length": "wide"}] }),
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(batch(2).await.unwrap().status(), 429, "4 + 2 rows > 5");
    assert_eq!(batch(1).await.unwrap().status(), 200, "4 + 1 rows = 5");
    assert_eq!(predict(&s, ("x-api-key", &key)).await.status(), 429);
    s.stop().await;
}
