//! `POST /token`: the OAuth2 password grant and refresh-token grant (RFC 6749 sections 4.3, 6).
//!
//! TODO(mlguard-auth): served by mlguard-auth's token handler once that crate lands; until then
//! this answers 503 in RFC 6749's error shape.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

/// `POST /token` (placeholder until mlguard-auth lands).
pub async fn token() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(http::header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "error": "temporarily_unavailable",
            "error_description": "token issuing is not wired yet"
        })),
    )
        .into_response()
}
