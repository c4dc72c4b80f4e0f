//! OpenAPI (utoipa) security schemes for this crate's authenticators (feature `openapi`): the
//! OAuth2 password flow of the [token endpoint](crate::token), bearer JWTs and the `X-API-Key`
//! header, under fixed names an operation's `security(...)` can list.
//!
//! ```
//! use mlguard_auth::openapi::{API_KEY, BEARER, OAUTH2, SecuritySchemes};
//! use utoipa::{Modify, OpenApi};
//!
//! #[derive(OpenApi)]
//! struct Doc;
//!
//! let mut doc = Doc::openapi();
//! SecuritySchemes::new("/token").modify(&mut doc);
//! let schemes = &doc.components.unwrap().security_schemes;
//! assert!(schemes.contains_key(OAUTH2) && schemes.contains_key(BEARER) && schemes.contains_key(API_KEY));
//! ```

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};

/// Name of the OAuth2 password-flow scheme.
pub const OAUTH2: &str = "oauth2_password";
/// Name of the HTTP bearer (JWT) scheme.
pub const BEARER: &str = "bearer_jwt";
/// Name of the API key header scheme.
pub const API_KEY: &str = "api_key";

/// A [`Modify`] that adds the schemes [`OAUTH2`] (password flow at `token_url`), [`BEARER`] and
/// [`API_KEY`] to a document; the descriptions can be made the service's own.
#[derive(Debug, Clone)]
pub struct SecuritySchemes {
    token_url: String,
    bearer_description: String,
    api_key_description: String,
}

impl SecuritySchemes {
    /// The schemes, with the token endpoint at `token_url` (as mounted, e.g. `/token`).
    pub fn new(token_url: impl Into<String>) -> Self {
        let token_url = token_url.into();
        Self {
            bearer_description: format!("An access token from `POST {token_url}` (JWT)."),
            api_key_description: "An API key (`mlg_...`).".to_owned(),
            token_url,
        }
    }

    /// The description of the bearer scheme.
    #[must_use]
    pub fn bearer_description(mut self, text: impl Into<String>) -> Self {
        self.bearer_description = text.into();
        self
    }

    /// The description of the API key scheme.
    #[must_use]
    pub fn api_key_description(mut self, text: impl Into<String>) -> Self {
        self.api_key_description = text.into();
        self
    }

    /// The requirement of a protected operation: any one of the three schemes.
    pub fn any() -> Vec<SecurityRequirement> {
        [OAUTH2, BEARER, API_KEY]
            .into_iter()
            .map(|name| SecurityRequirement::new::<_, [&str; 0], &str>(name, []))
            .collect()
    }
}

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let password = format!(
            "OAuth2 password grant at `{}`; the access token is then sent as a bearer token.",
            self.token_url
        );
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new(
                    self.token_url.clone(),
                    Scopes::new(),
                ))],
                password,
            )),
        );
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(self.bearer_description.clone()));
        components.add_security_scheme(BEARER, SecurityScheme::Http(bearer.build()));
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key".to_owned(),
                self.api_key_description.clone(),
            ))),
        );
    }
}
