//! The baseline of the end-to-end load benchmark (`benches/load.sh`): ml-api's `POST /predict`
//! with no security layer at all.
//!
//! Same model (`mlguard_model::train_default()`: the 100-tree, seed-0 forest that `ml-api` trains
//! on its first run, bit for bit), same request and answer JSON, same axum and hyper, same tokio
//! multi-threaded runtime; but no authentication, rate limit, permission check, validation layer,
//! request id, access log, security headers, load shedding, timeout or body limit. The ratio
//! ml-api / this app is what the whole security stack costs per request over real sockets.
//!
//! ```text
//! cargo run --release -p mlguard-benches --example bare_server -- 127.0.0.1:8080
//! curl -d '{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}' \
//!      -H 'content-type: application/json' http://127.0.0.1:8080/predict
//! ```
//!
//! It prints `listening on ADDR` once bound, and stops on SIGTERM or Ctrl-C (the default
//! signal action). Loopback only unless told otherwise.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use mlguard_model::Model;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;

/// ml-api's `IrisFeatures`, without the validation attributes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IrisFeatures {
    sepal_length: f64,
    sepal_width: f64,
    petal_length: f64,
    petal_width: f64,
}

/// ml-api's `PredictResponse`.
#[derive(Serialize)]
struct PredictResponse {
    prediction: usize,
    class: String,
    probabilities: Vec<f64>,
}

async fn predict(
    State(model): State<Arc<Model>>,
    Json(f): Json<IrisFeatures>,
) -> Result<Json<PredictResponse>, (StatusCode, String)> {
    let sample = [f.sepal_length, f.sepal_width, f.petal_length, f.petal_width];
    let p = model
        .predict(&sample)
        .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    Ok(Json(PredictResponse {
        prediction: p.class_index,
        class: p.class_name,
        probabilities: p.probabilities,
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
        .parse()?;
    let model = Arc::new(mlguard_model::train_default()?.model);
    let app = Router::new().route("/predict", post(predict)).with_state(model);
    // As `ml-api serve`: a multi-threaded runtime, one worker per core it may run on.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening on {}", listener.local_addr()?);
        axum::serve(listener, app).await
    })?;
    Ok(())
}
