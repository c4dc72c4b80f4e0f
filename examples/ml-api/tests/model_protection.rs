//! Protection of the model itself (issue 18) on the real server over HTTPS: who sees
//! probabilities, the input envelope, extraction detection with `block`, the long-window query
//! budget (batch rows count), and the metrics.

mod common;

use common::*;
use serde_json::{Value, json};

/// Room for the attack streams: the per-minute quota and the budget are not what is tested.
const HIGH_RATE: &str = "100000/minute";

/// Iris's feature box (training minimum and maximum of each feature).
const BOX: [(f64, f64); 4] = [(4.3, 7.9), (2.0, 4.4), (1.0, 6.9), (0.1, 2.5)];

/// A small deterministic generator (xorshift64*), so the streams are the same on every run.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }

    fn uniform_row(&mut self) -> Value {
        let x: Vec<f64> = BOX
            .iter()
            .map(|(lo, hi)| ((lo + (hi - lo) * self.next_f64()) * 100.0).round() / 100.0)
            .collect();
        row(&x)
    }
}

fn row(x: &[f64]) -> Value {
    json!({"sepal_length": x[0], "sepal_width": x[1], "petal_length": x[2], "petal_width": x[3]})
}

async fn post(s: &TestServer, key: &str, path: &str, body: &Value) -> reqwest::Response {
    s.post_value_key(path, key, body).await
}

async fn metrics(s: &TestServer, admin_key: &str) -> String {
    let r = s.get_key("/metrics", admin_key).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// The value of the sample of `metric` whose line starts with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn assert_rounded(probabilities: &Value, decimals: i32) {
    let scale = 10f64.powi(decimals);
    let p = probabilities.as_array().expect("probabilities is an array");
    assert_eq!(p.len(), 3);
    for v in p {
        let v = v.as_f64().unwrap();
        assert!(
            ((v * scale).round() - v * scale).abs() < 1e-6,
            "{v} has more than {decimals} decimals"
        );
    }
}

#[tokio::test]
async fn client_role_gets_labels_only_admin_gets_rounded_probabilities() {
    let s = start_with(|c| {
        c.predict_rate = Some(HIGH_RATE.into());
        c.probability_decimals = Some(1);
    })
    .await;
    let admin = s.api_key("scraper", "admin");
    let client = s.api_key("shop", "client");
    let sample_row: Value = serde_json::from_str(VIRGINICA).unwrap();

    let r = post(&s, &client, "/predict", &sample_row).await;
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(body["class"], "virginica");
    assert!(body["prediction"].is_u64());
    assert!(
        body.get("probabilities").is_none(),
        "client saw probabilities: {body}"
    );

    let r = post(
        &s,
        &client,
        "/predict/batch",
        &json!({"instances": [sample_row, sample_row]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    for p in json(r).await["predictions"].as_array().unwrap() {
        assert!(
            p.get("probabilities").is_none(),
            "client saw probabilities in a batch: {p}"
        );
        assert_eq!(p["class"], "virginica");
    }

    let r = post(&s, &admin, "/predict", &sample_row).await;
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_rounded(&body["probabilities"], 1);
    let r = post(&s, &admin, "/predict/batch", &json!({"instances": [sample_row]})).await;
    assert_rounded(&json(r).await["predictions"][0]["probabilities"], 1);

    // A role `user` key still has no `model:predict`.
    let user = s.api_key("crypto-only", "user");
    assert_eq!(post(&s, &user, "/predict", &sample_row).await.status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn out_of_distribution_input_is_rejected_with_422_when_configured() {
    let s = start_with(|c| {
        c.predict_rate = Some(HIGH_RATE.into());
        c.ood_action = Some("reject".into());
    })
    .await;
    let client = s.api_key("shop", "client");
    // Inside each feature's range, far from the data: a tiny flower with huge petals.
    let odd = row(&[4.4, 4.3, 6.8, 0.2]);
    let r = post(&s, &client, "/predict", &odd).await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = json(r).await;
    assert_eq!(body["code"], "out_of_distribution", "{body}");
    // One bad row refuses the batch.
    let ok: Value = serde_json::from_str(SETOSA).unwrap();
    let r = post(&s, &client, "/predict/batch", &json!({"instances": [ok, odd]})).await;
    assert_eq!(r.status(), 422);
    // Natural inputs pass.
    assert_eq!(post(&s, &client, "/predict", &ok).await.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn uniform_random_query_stream_is_blocked_as_extraction_and_counted() {
    let s = start_with(|c| {
        c.predict_rate = Some(HIGH_RATE.into());
        c.extraction_action = Some("block".into());
    })
    .await;
    let admin = s.api_key("scraper", "admin");
    let thief = s.api_key("thief", "client");
    let honest = s.api_key("honest", "client");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // Tramèr et al.'s first attack: uniform random points over the feature box, 20 per batch.
    let mut blocked_at = None;
    for i in 0..50 {
        let instances: Vec<Value> = (0..20).map(|_| rng.uniform_row()).collect();
        let r = post(&s, &thief, "/predict/batch", &json!({"instances": instances})).await;
        match r.status().as_u16() {
            200 => {}
            403 => {
                let body = json(r).await;
                let kind = body["type"].as_str().unwrap_or_default();
                assert!(kind.ends_with("extraction-suspected"), "{body}");
                blocked_at = Some(i);
                break;
            }
            other => panic!("batch {i}: unexpected status {other}"),
        }
    }
    let blocked_at = blocked_at.expect("the uniform random stream was never blocked");
    assert!(blocked_at < 10, "blocked only after {blocked_at} batches of 20");
    // The block holds for the cool-down, also for single predictions.
    let setosa: Value = serde_json::from_str(SETOSA).unwrap();
    assert_eq!(post(&s, &thief, "/predict", &setosa).await.status(), 403);
    // Another principal is not affected.
    assert_eq!(post(&s, &honest, "/predict", &setosa).await.status(), 200);

    let text = metrics(&s, &admin).await;
    let alarms = sample(&text, "mlguard_extraction_alarms_total{action=\"block\"}");
    assert_eq!(alarms, Some(1.0), "metrics:\n{text}");
    let ood = sample(&text, "mlguard_ood_inputs_total{action=\"log\"}").unwrap_or(0.0);
    assert!(ood >= 1.0, "out-of-distribution rows not counted:\n{text}");
    s.stop().await;
}

#[tokio::test]
async fn query_budget_counts_batch_rows_and_answers_429() {
    let s = start_with(|c| {
        c.predict_rate = Some(HIGH_RATE.into());
        c.predict_budget = Some("10/day".into());
    })
    .await;
    let admin = s.api_key("scraper", "admin");
    let client = s.api_key("shop", "client");
    let other = s.api_key("shop2", "client");
    let r: Value = serde_json::from_str(SETOSA).unwrap();
    let batch = |n: usize| json!({"instances": vec![r.clone(); n]});

    assert_eq!(post(&s, &client, "/predict/batch", &batch(8)).await.status(), 200);
    assert_eq!(post(&s, &client, "/predict", &r).await.status(), 200);
    // 9 of 10 spent: a batch of 3 is over the budget although it is one request.
    let resp = post(&s, &client, "/predict/batch", &batch(3)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body = json(resp).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap_or_default()
            .ends_with("query-budget-exhausted"),
        "{body}"
    );
    assert_eq!(post(&s, &client, "/predict", &r).await.status(), 200);
    assert_eq!(post(&s, &client, "/predict", &r).await.status(), 429);
    // Per principal.
    assert_eq!(post(&s, &other, "/predict/batch", &batch(10)).await.status(), 200);

    let text = metrics(&s, &admin).await;
    assert!(
        sample(&text, "mlguard_query_budget_exhausted_total").unwrap_or(0.0) >= 2.0,
        "{text}"
    );
    assert!(text.contains("mlguard_extraction_alarms_total"), "{text}");
    assert!(text.contains("mlguard_ood_inputs_total"), "{text}");
    s.stop().await;
}
