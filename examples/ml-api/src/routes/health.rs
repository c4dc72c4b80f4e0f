//! `GET /healthz` (the process answers) and `GET /readyz` (the model is loaded).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mlguard_core::Problem;
use serde_json::json;

/// `GET /healthz`: `{"status":"ok"}`, no authentication.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    operation_id = "healthz",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Alive", body = StatusDoc))
)]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: `{"status":"ready"}` when the model is loaded, else 503 problem.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    operation_id = "readyz",
    summary = "Readiness: the model is loaded",
    responses(
        (status = 200, description = "Ready", body = StatusDoc),
        (status = 503, description = "The model is not loaded", body = super::ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.model() {
        Some(_) => Json(json!({"status": "ready"})).into_response(),
        None => IntoResponse::into_response(Problem::service_unavailable("The model is not loaded", None)),
    }
}

/// `GET /healthz` and `GET /readyz` success body.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Status)]
pub struct StatusDoc {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    #[schema(example = "ok")]
    pub status: String,
}
