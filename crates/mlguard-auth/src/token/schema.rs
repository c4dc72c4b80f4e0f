//! OpenAPI schemas of the token endpoint (feature `openapi`, with [utoipa]): register
//! [`TokenRequestForm`] (`TokenRequest`), [`TokenSuccessBody`](super::TokenSuccessBody)
//! (`TokenResponse`), [`OAuthErrorBody`](super::OAuthErrorBody) (`OAuthError`) and
//! [`OAuthErrorCode`] in your document's components.
//!
//! ```
//! use mlguard_auth::token::{OAuthErrorBody, OAuthErrorCode, TokenRequestForm, TokenSuccessBody};
//! use utoipa::OpenApi;
//!
//! #[derive(OpenApi)]
//! #[openapi(components(schemas(TokenRequestForm, TokenSuccessBody, OAuthErrorBody, OAuthErrorCode)))]
//! struct Doc;
//!
//! let doc = serde_json::to_value(Doc::openapi()).unwrap();
//! let schemas = &doc["components"]["schemas"];
//! assert_eq!(schemas["OAuthError"]["properties"]["error"]["$ref"], "#/components/schemas/OAuthErrorCode");
//! assert!(schemas["OAuthErrorCode"]["enum"].as_array().unwrap().contains(&"invalid_grant".into()));
//! assert!(schemas["TokenRequest"]["properties"]["password"].is_object());
//! assert_eq!(schemas["TokenResponse"]["required"], serde_json::json!(["access_token", "token_type", "expires_in"]));
//! ```

use super::OAuthErrorCode;
use std::borrow::Cow;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{ObjectBuilder, RefOr, Type};

/// The token request form (RFC 6749 sections 4.3.2 and 6), as [`parse_form`](super::parse_form)
/// reads it: other parameters (`client_id`) are ignored, none may repeat. A schema only: the
/// endpoint parses the form itself (so a password never sits in a plain `String`).
#[derive(utoipa::ToSchema)]
#[schema(
    as = TokenRequest,
    description = "The `POST /token` form (RFC 6749 sections 4.3.2 and 6); other parameters \
        (`client_id`) are ignored, none may repeat."
)]
pub struct TokenRequestForm {
    /// `password` (the default when absent) or `refresh_token`.
    #[schema(example = "password")]
    pub grant_type: Option<String>,
    /// The user name (password grant).
    pub username: Option<String>,
    /// The password (password grant).
    #[schema(format = Password)]
    pub password: Option<String>,
    /// A refresh token from an earlier answer (refresh grant).
    pub refresh_token: Option<String>,
    /// Space-separated scopes, within what the user's roles allow.
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenRequestForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequestForm")
            .field("grant_type", &self.grant_type)
            .field("username", &self.username)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl utoipa::PartialSchema for OAuthErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "RFC 6749 error codes the token endpoint answers (`invalid_grant` for any bad \
                 credentials or refresh token: no user enumeration)",
            ))
            .enum_values(Some(OAuthErrorCode::ALL.map(OAuthErrorCode::as_str)))
            .into()
    }
}

impl utoipa::ToSchema for OAuthErrorCode {
    fn name() -> Cow<'static, str> {
        "OAuthErrorCode".into()
    }
}
