//! Shared test fixtures: the iris request types and a router around them.
#![allow(dead_code, unreachable_pub, missing_docs)]

use axum::body::Body;
use axum::{Extension, Json, Router, routing::post};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use mlguard_validate::validators::{check_batch_size, finite};
use mlguard_validate::{JsonConfig, Sanitizer, ValidatedJson};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;
use validator::{Validate, ValidationError};

/// `Serialize` because validator's `custom` on a `Vec<PredictRequest>` records the value.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    pub sepal_length: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    pub sepal_width: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    pub petal_length: f64,
    #[validate(custom(function = "finite"), range(min = 0.0, max = 10.0))]
    pub petal_width: f64,
}

fn at_most_8(rows: &[PredictRequest]) -> Result<(), ValidationError> {
    check_batch_size(rows, 8)
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    #[validate(custom(function = "at_most_8"), nested)]
    pub instances: Vec<PredictRequest>,
}

/// No `deny_unknown_fields`: extra members are ignored.
#[derive(Debug, Deserialize, Validate)]
pub struct Lenient {
    #[validate(range(min = 0, max = 10))]
    pub n: i64,
}

#[derive(Debug, Deserialize, Validate)]
pub struct Comment {
    #[validate(length(min = 1, max = 10_000))]
    pub text: String,
    pub tags: Option<Vec<Value>>,
    pub extra: Option<Value>,
}

async fn predict(ValidatedJson(r): ValidatedJson<PredictRequest>) -> Json<Value> {
    Json(json!({"sum": r.sepal_length + r.sepal_width + r.petal_length + r.petal_width}))
}

async fn batch(ValidatedJson(r): ValidatedJson<BatchRequest>) -> Json<Value> {
    Json(json!({"n": r.instances.len()}))
}

async fn lenient(ValidatedJson(r): ValidatedJson<Lenient>) -> Json<Value> {
    Json(json!({"n": r.n}))
}

async fn comment(ValidatedJson(c): ValidatedJson<Comment>) -> Json<Value> {
    let clean = Sanitizer::text_field(200).unwrap().sanitize(&c.text);
    Json(json!({"text": clean}))
}

pub fn app() -> Router {
    Router::new()
        .route("/predict", post(predict))
        .route("/batch", post(batch))
        .route("/lenient", post(lenient))
        .route("/comment", post(comment))
}

pub fn app_with(config: JsonConfig) -> Router {
    app().layer(Extension(config))
}

pub fn json_req(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

pub async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Response<()>, Value, usize) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, Response::from_parts(parts, ()), value, bytes.len())
}

pub const IRIS: &str = r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;
