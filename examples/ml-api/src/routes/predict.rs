//! `POST /predict` and `POST /predict/batch`: the iris classifier.
//!
//! Request `{"sepal_length","sepal_width","petal_length","petal_width"}` (numbers, cm; unknown
//! fields refused); answer `{"prediction": <class index>, "class": "<name>", "probabilities": [..]}`.
//! The model itself refuses non-finite and implausible values (422 problem).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use mlguard_core::{Principal, Problem};
use mlguard_model::Prediction;
use mlguard_validate::ValidatedJson;
use mlguard_validate::validators::finite;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// One iris sample, in centimetres.
///
/// Validation: finite, more than 0 and at most 100 cm: the iris model's own plausible ranges,
/// also written into the OpenAPI schema so clients (and schemathesis) see the real contract.
/// Read only from a JSON object, as the schema says: `ValidatedJson` refuses the array of the
/// four numbers (`[5.1, 3.5, 1.4, 0.2]`) that serde's derive alone would accept (422), here and
/// for each row of a batch, and a 422 lists every wrong or missing field at once.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, Validate, utoipa::ToSchema)]
#[schema(example = json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}))]
#[serde(deny_unknown_fields)]
pub struct IrisFeatures {
    /// Sepal length.
    #[validate(custom(function = "finite"), range(exclusive_min = 0.0, max = 100.0))]
    #[schema(exclusive_minimum = 0.0, maximum = 100.0)]
    pub sepal_length: f64,
    /// Sepal width.
    #[validate(custom(function = "finite"), range(exclusive_min = 0.0, max = 100.0))]
    #[schema(exclusive_minimum = 0.0, maximum = 100.0)]
    pub sepal_width: f64,
    /// Petal length.
    #[validate(custom(function = "finite"), range(exclusive_min = 0.0, max = 100.0))]
    #[schema(exclusive_minimum = 0.0, maximum = 100.0)]
    pub petal_length: f64,
    /// Petal width.
    #[validate(custom(function = "finite"), range(exclusive_min = 0.0, max = 100.0))]
    #[schema(exclusive_minimum = 0.0, maximum = 100.0)]
    pub petal_width: f64,
}

impl IrisFeatures {
    /// In the model's feature order.
    pub fn to_vec(self) -> Vec<f64> {
        vec![
            self.sepal_length,
            self.sepal_width,
            self.petal_length,
            self.petal_width,
        ]
    }
}

/// `POST /predict/batch` body.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The samples.
    #[validate(length(min = 1), nested)]
    #[schema(min_items = 1)]
    pub instances: Vec<IrisFeatures>,
}

/// One prediction.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PredictResponse {
    /// Class index.
    pub prediction: usize,
    /// Class name.
    pub class: String,
    /// Per-class probabilities, indexed like the class indices.
    pub probabilities: Vec<f64>,
}

impl From<Prediction> for PredictResponse {
    fn from(p: Prediction) -> Self {
        Self {
            prediction: p.class_index,
            class: p.class_name,
            probabilities: p.probabilities,
        }
    }
}

/// `POST /predict/batch` answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// One prediction per instance, in order.
    pub predictions: Vec<PredictResponse>,
}

fn model(state: &AppState) -> Result<&std::sync::Arc<dyn mlguard_model::Classifier>, Problem> {
    state
        .model()
        .ok_or_else(|| Problem::service_unavailable("The model is not loaded", None))
}

/// `POST /predict`.
///
/// # Errors
/// 422 for refused input, 503 without a model.
#[utoipa::path(
    post,
    path = "/predict",
    tag = "model",
    operation_id = "predict",
    summary = "Classify one iris sample (needs model:predict)",
    description = "Limited per principal by `MLGUARD_PREDICT_RATE`.",
    request_body = IrisFeatures,
    responses(
        (status = 200, description = "The prediction", body = PredictResponse),
        (status = 422, description = "Invalid or implausible measurements", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Prediction quota exceeded", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2_password" = []), ("bearer_jwt" = []), ("api_key" = []))
)]
pub async fn predict(
    State(state): State<AppState>,
    _principal: Principal,
    ValidatedJson(body): ValidatedJson<IrisFeatures>,
) -> Result<Json<PredictResponse>, Problem> {
    let p = model(&state)?
        .predict(&body.to_vec())
        .map_err(|e| Problem::unprocessable(e.to_string()))?;
    Ok(Json(p.into()))
}

/// Charges `rows` units of the prediction quota to `principal`.
async fn charge(state: &AppState, principal: &Principal, rows: usize) -> Result<(), Problem> {
    let Some(limiter) = state.predict_limiter() else {
        return Ok(());
    };
    // The same key as the `/predict` layer (`KeyExtractor::principal`): one bucket per principal.
    let key = mlguard_ratelimit::RateLimitKey::principal(&principal.id());
    let cost = u32::try_from(rows).unwrap_or(u32::MAX);
    match limiter.check(&key, cost).await {
        Ok(d) if d.allowed => Ok(()),
        Ok(d) if d.impossible => Err(Problem::too_many_requests(
            format!("A batch of {rows} rows is more than the prediction quota allows at once"),
            d.reset,
        )),
        Ok(d) => Err(Problem::too_many_requests(
            "Prediction quota exceeded",
            d.retry_after,
        )),
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable");
            Err(Problem::service_unavailable("Rate limiting is unavailable", None))
        }
    }
}

/// `POST /predict/batch`: each row costs one unit of the principal's prediction quota.
///
/// # Errors
/// 422 for an empty or oversized batch or a refused row (named in the detail), 429 over the
/// quota, 503 without a model.
#[utoipa::path(
    post,
    path = "/predict/batch",
    tag = "model",
    operation_id = "predict_batch",
    summary = "Classify several samples (needs model:predict; each row costs one unit of quota)",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One prediction per instance, in order", body = BatchResponse),
        (status = 422, description = "Empty or oversized batch, or an invalid row", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Prediction quota exceeded", body = crate::openapi::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2_password" = []), ("bearer_jwt" = []), ("api_key" = []))
)]
pub async fn batch(
    State(state): State<AppState>,
    principal: Principal,
    ValidatedJson(body): ValidatedJson<BatchRequest>,
) -> Result<Json<BatchResponse>, Problem> {
    let n = body.instances.len();
    if n == 0 || n > state.max_batch() {
        return Err(Problem::unprocessable(format!(
            "instances must hold 1 to {} rows, not {n}",
            state.max_batch()
        )));
    }
    charge(&state, &principal, n).await?;
    let rows: Vec<Vec<f64>> = body.instances.iter().map(|r| r.to_vec()).collect();
    let predictions = model(&state)?
        .predict_batch(&rows)
        .map_err(|e| Problem::unprocessable(e.to_string()))?;
    Ok(Json(BatchResponse {
        predictions: predictions.into_iter().map(Into::into).collect(),
    }))
}
