//! `POST /encrypt` and `POST /decrypt` (and `/encrypt/`, `/decrypt/`): Fernet with the
//! configured key, interoperable with Python's `cryptography.fernet`.
//!
//! Unlike the tutorial, both need an authenticated principal with `crypto:encrypt` /
//! `crypto:decrypt`, and share one quota per principal (`MLGUARD_CRYPTO_RATE`, default
//! `60/minute`, charged after the permission check; see [`crate::quotas`]). Every decryption failure (bad MAC, bad base64, wrong key, plaintext that is
//! not UTF-8) is the same 400 problem with detail `Decryption failed`: no padding oracle, no hint.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use mlguard_core::{Principal, Problem};
use mlguard_validate::ValidatedJson;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// `POST /encrypt` body.
#[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncryptRequest {
    /// Text to encrypt.
    pub plaintext: String,
}

/// `POST /encrypt` answer, and `POST /decrypt` body.
#[derive(Debug, Serialize, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ciphertext {
    /// A Fernet token.
    pub ciphertext: String,
}

/// `POST /decrypt` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Plaintext {
    /// The decrypted text.
    pub plaintext: String,
}

/// The detail of every decryption failure.
pub const DECRYPTION_FAILED: &str = "Decryption failed";

/// `POST /encrypt`.
#[utoipa::path(
    post,
    path = "/encrypt",
    tag = "crypto",
    operation_id = "encrypt",
    summary = "Encrypt text with the server's Fernet key (needs crypto:encrypt)",
    description = "Limited per principal by `MLGUARD_CRYPTO_RATE`, one quota with `/decrypt`.",
    request_body = EncryptRequest,
    responses(
        (status = 200, description = "A Fernet token", body = Ciphertext),
        (status = 422, description = "Invalid body", body = super::ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Crypto quota exceeded", body = super::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2_password" = []), ("bearer_jwt" = []), ("api_key" = []))
)]
pub async fn encrypt(
    State(state): State<AppState>,
    _principal: Principal,
    ValidatedJson(body): ValidatedJson<EncryptRequest>,
) -> Json<Ciphertext> {
    Json(Ciphertext {
        ciphertext: state.fernet().encrypt(body.plaintext.as_bytes()),
    })
}

/// `POST /decrypt`.
///
/// # Errors
/// 400 problem `Decryption failed`.
#[utoipa::path(
    post,
    path = "/decrypt",
    tag = "crypto",
    operation_id = "decrypt",
    summary = "Decrypt a Fernet token made with the server's key (needs crypto:decrypt)",
    description = "Limited per principal by `MLGUARD_CRYPTO_RATE`, one quota with `/encrypt`.",
    request_body = Ciphertext,
    responses(
        (status = 200, description = "The plaintext", body = Plaintext),
        (status = 400, description = "Decryption failed (every cause looks the same)", body = super::ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "Invalid body", body = super::ProblemDoc, content_type = "application/problem+json"),
        (status = 429, description = "Crypto quota exceeded", body = super::ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("oauth2_password" = []), ("bearer_jwt" = []), ("api_key" = []))
)]
pub async fn decrypt(
    State(state): State<AppState>,
    _principal: Principal,
    ValidatedJson(body): ValidatedJson<Ciphertext>,
) -> Result<Json<Plaintext>, Problem> {
    let bytes = state
        .fernet()
        .decrypt(&body.ciphertext)
        .map_err(|_| Problem::bad_request(DECRYPTION_FAILED))?;
    let plaintext = String::from_utf8(bytes).map_err(|_| Problem::bad_request(DECRYPTION_FAILED))?;
    Ok(Json(Plaintext { plaintext }))
}
