//! `POST /encrypt` and `POST /decrypt` (and `/encrypt/`, `/decrypt/`): Fernet with the
//! configured key, interoperable with Python's `cryptography.fernet`.
//!
//! Unlike the tutorial, both need an authenticated principal with `crypto:encrypt` /
//! `crypto:decrypt`. Every decryption failure (bad MAC, bad base64, wrong key, plaintext that is
//! not UTF-8) is the same 400 problem with detail `Decryption failed`: no padding oracle, no hint.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use mlguard_core::{Principal, Problem};
use mlguard_validate::ValidatedJson;
use serde::{Deserialize, Serialize};
use validator::Validate;

/// `POST /encrypt` body.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct EncryptRequest {
    /// Text to encrypt.
    pub plaintext: String,
}

/// `POST /encrypt` answer, and `POST /decrypt` body.
#[derive(Debug, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Ciphertext {
    /// A Fernet token.
    pub ciphertext: String,
}

/// `POST /decrypt` answer.
#[derive(Debug, Serialize)]
pub struct Plaintext {
    /// The decrypted text.
    pub plaintext: String,
}

/// The detail of every decryption failure.
pub const DECRYPTION_FAILED: &str = "Decryption failed";

/// `POST /encrypt`.
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
