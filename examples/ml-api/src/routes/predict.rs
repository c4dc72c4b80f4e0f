//! `POST /predict` and `POST /predict/batch`: the iris classifier.
//!
//! Request `{"sepal_length","sepal_width","petal_length","petal_width"}` (numbers, cm; unknown
//! fields refused); answer `{"prediction": <class index>, "class": "<name>", "probabilities": [..]}`,
//! with `probabilities` (rounded to `probability_decimals`) only for principals holding
//! `model:probabilities`. The model itself refuses non-finite and implausible values (422
//! problem). Both routes run the model protection ([`crate::model_guard`]): extraction
//! standing (403), query budget (429, one unit per row), input envelope (422
//! `out_of_distribution` with `ood_action = reject`), then the output policy.

use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use mlguard_core::{Principal, Problem};
use mlguard_model::Prediction;
use mlguard_ratelimit::RateLimitCost;
use mlguard_validate::ValidatedJson;
use mlguard_validate::validators::finite;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
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
#[derive(Debug, Clone, Deserialize, Validate, utoipa::ToSchema)]
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
    /// Per-class probabilities, indexed like the class indices; only for principals with
    /// `model:probabilities`, rounded to `probability_decimals`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f64>>,
}

impl mlguard_modelsec::ModelOutput for PredictResponse {
    fn round_probabilities(&mut self, decimals: u32) {
        if let Some(p) = &mut self.probabilities {
            mlguard_modelsec::output::round_all(p, decimals);
        }
    }

    fn strip_probabilities(&mut self) {
        self.probabilities = None;
    }
}

impl From<Prediction> for PredictResponse {
    fn from(p: Prediction) -> Self {
        Self {
            prediction: p.class_index,
            class: p.class_name,
            probabilities: Some(p.probabilities),
        }
    }
}

/// `POST /predict/batch` answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// One prediction per instance, in order.
    pub predictions: Vec<PredictResponse>,
}

/// The classes a prediction answer carries, in the response's extensions, so the metrics
/// count them without reading the answer again.
#[derive(Debug, Clone, Default)]
pub struct PredictedClasses(pub Vec<String>);

impl PredictedClasses {
    fn of(answers: &[PredictResponse]) -> Self {
        Self(answers.iter().map(|a| a.class.clone()).collect())
    }
}

fn model(state: &AppState) -> Result<&std::sync::Arc<dyn mlguard_model::Classifier>, Problem> {
    state
        .model()
        .ok_or_else(|| Problem::service_unavailable("The model is not loaded", None))
}

/// Runs the model protection ([`mlguard_modelsec::ModelGuard::run`]) around the model for
/// `rows`. `single`: one row from `/predict` (the model's own error messages for one sample).
async fn guarded(
    state: &AppState,
    principal: &Principal,
    rows: &[Vec<f64>],
    single: bool,
) -> Result<Vec<PredictResponse>, Problem> {
    let model = model(state)?;
    let predict = |rows: &[Vec<f64>]| {
        match rows {
            [row] if single => model.predict(row).map(|p| vec![p]),
            _ => model.predict_batch(rows),
        }
        .map(|p| p.into_iter().map(PredictResponse::from).collect())
        .map_err(|e| Problem::unprocessable(e.to_string()))
    };
    let guard = state.model_protection().guard();
    guard.run(principal, rows, predict, |a| a.prediction).await
}

/// `POST /predict`.
///
/// # Errors
/// 422 for refused input (or out of distribution with `ood_action = reject`), 403 after an
/// extraction alarm with `extraction_action = block`, 429 over the quota or budget, 503
/// without a model.
#[utoipa::path(
    post,
    path = "/predict",
    tag = "model",
    operation_id = "predict",
    summary = "Classify one iris sample (needs model:predict)",
    description = "Limited per principal by `MLGUARD_PREDICT_RATE` and `MLGUARD_PREDICT_BUDGET`. `probabilities` only with `model:probabilities`.",
    request_body = IrisFeatures,
    responses(
        (status = 200, description = "The prediction", body = PredictResponse),
        (status = 403, description = "Extraction suspected (`extraction_action = block`)", body = super::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, implausible or out-of-distribution measurements", body = super::ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Prediction quota or budget exceeded", body = super::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2_password" = []), ("bearer_jwt" = []), ("api_key" = []))
)]
pub async fn predict(
    State(state): State<AppState>,
    principal: Principal,
    ValidatedJson(body): ValidatedJson<IrisFeatures>,
) -> Result<(Extension<PredictedClasses>, Json<PredictResponse>), Problem> {
    let answers = guarded(&state, &principal, &[body.to_vec()], true).await?;
    let classes = PredictedClasses::of(&answers);
    let answer = answers.into_iter().next().ok_or_else(|| {
        Problem::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "The model gave no prediction",
        )
    })?;
    Ok((Extension(classes), Json(answer)))
}

/// A batch read and validated by [`batch_rows`], for the handler.
#[derive(Debug, Clone)]
pub struct ValidBatch(pub Arc<BatchRequest>);

/// Middleware in front of the prediction quota on `/predict/batch`: reads and validates the
/// batch (422 for a malformed, empty or oversized one, which then spends no quota) and sets its
/// row count as the request's cost with mlguard-ratelimit's [`RateLimitCost`], so the quota
/// layer after it charges one unit per row.
pub async fn batch_rows(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let probe = Request::from_parts(parts.clone(), body);
    let batch = match ValidatedJson::<BatchRequest>::from_request(probe, &()).await {
        Ok(ValidatedJson(batch)) => batch,
        Err(rejection) => return rejection.into_response(),
    };
    let n = batch.instances.len();
    if n == 0 || n > state.max_batch() {
        let detail = format!("instances must hold 1 to {} rows, not {n}", state.max_batch());
        return IntoResponse::into_response(Problem::unprocessable(detail));
    }
    let mut request = Request::from_parts(parts, Body::empty());
    request
        .extensions_mut()
        .insert(RateLimitCost(u32::try_from(n).unwrap_or(u32::MAX)));
    request.extensions_mut().insert(ValidBatch(Arc::new(batch)));
    next.run(request).await
}

/// `POST /predict/batch`, after [`batch_rows`] (which read and validated the body, and made
/// each row cost one unit of the principal's prediction quota).
///
/// # Errors
/// 422 for a refused row (named in the detail), 429 over the budget, 503 without a model.
#[utoipa::path(
    post,
    path = "/predict/batch",
    tag = "model",
    operation_id = "predict_batch",
    summary = "Classify several samples (needs model:predict; each row costs one unit of quota)",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One prediction per instance, in order", body = BatchResponse),
        (status = 403, description = "Extraction suspected (`extraction_action = block`)", body = super::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Empty or oversized batch, or an invalid or out-of-distribution row", body = super::ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Prediction quota or budget exceeded", body = super::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2_password" = []), ("bearer_jwt" = []), ("api_key" = []))
)]
pub async fn batch(
    State(state): State<AppState>,
    principal: Principal,
    Extension(ValidBatch(body)): Extension<ValidBatch>,
) -> Result<(Extension<PredictedClasses>, Json<BatchResponse>), Problem> {
    let rows: Vec<Vec<f64>> = body.instances.iter().map(|r| r.to_vec()).collect();
    let predictions = guarded(&state, &principal, &rows, false).await?;
    Ok((
        Extension(PredictedClasses::of(&predictions)),
        Json(BatchResponse { predictions }),
    ))
}
