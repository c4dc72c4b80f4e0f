//! The JSON bodies of the token endpoint (RFC 6749 sections 5.1 and 5.2), as the types they
//! are serialized from; with feature `openapi` they are also the OpenAPI schemas
//! `TokenResponse` and `OAuthError`, so a document of the endpoint cannot drift from it.

use super::OAuthErrorCode;
use serde::Serialize;
use std::fmt;

/// The success body (RFC 6749 section 5.1).
///
/// ```
/// let body = mlguard_auth::token::TokenSuccessBody {
///     access_token: "eyJ...",
///     token_type: "bearer",
///     expires_in: 900,
///     refresh_token: None,
///     scope: None,
/// };
/// assert_eq!(
///     serde_json::to_value(&body).unwrap(),
///     serde_json::json!({"access_token": "eyJ...", "token_type": "bearer", "expires_in": 900})
/// );
/// ```
#[derive(Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(
        as = TokenResponse,
        description = "The `POST /token` success body (RFC 6749 section 5.1)."
    )
)]
pub struct TokenSuccessBody<'a> {
    /// The access token (a JWT), sent as `Authorization: Bearer <token>`.
    pub access_token: &'a str,
    /// Always `bearer`.
    #[cfg_attr(feature = "openapi", schema(example = "bearer"))]
    pub token_type: &'a str,
    /// Lifetime of `access_token`, seconds.
    #[cfg_attr(feature = "openapi", schema(example = 900))]
    pub expires_in: u64,
    /// A single-use refresh token, when refresh tokens are enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    /// The granted scopes, space-separated, when a scope was requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl fmt::Debug for TokenSuccessBody<'_> {
    // The body holds tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSuccessBody")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The error body (RFC 6749 section 5.2): a code and a fixed description, never anything the
/// client sent.
///
/// ```
/// use mlguard_auth::token::{OAuthErrorBody, OAuthErrorCode};
/// let body = OAuthErrorBody { error: OAuthErrorCode::InvalidGrant, error_description: "no" };
/// assert_eq!(serde_json::to_value(&body).unwrap()["error"], "invalid_grant");
/// ```
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(
        as = OAuthError,
        description = "The RFC 6749 section 5.2 error body of `POST /token`."
    )
)]
pub struct OAuthErrorBody {
    /// The error code.
    #[cfg_attr(feature = "openapi", schema(example = "invalid_grant"))]
    pub error: OAuthErrorCode,
    /// What went wrong, for humans.
    pub error_description: &'static str,
}

impl Serialize for OAuthErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
