//! [`AuthConfig`]: the choice between an API key and a bearer token that
//! [`AuthLayer`](crate::AuthLayer) runs, shared by all clones of its services.

use crate::apikey::ApiKeyAuth;
use crate::jwt::BearerAuth;
use crate::outcome::{AuthFailure, Authenticator, Outcome, Refusal};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, Uri};
use mlguard_core::Problem;

/// Which authenticators run.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthConfig {
    pub(crate) api_key: Option<ApiKeyAuth>,
    pub(crate) bearer: Option<BearerAuth>,
}

impl Authenticator for AuthConfig {
    fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Outcome {
        match (&self.api_key, &self.bearer) {
            (Some(keys), Some(bearer)) => {
                if keys.is_present(headers) {
                    keys.authenticate_outcome(headers, uri)
                } else if headers.contains_key(AUTHORIZATION) {
                    bearer.authenticate_outcome(headers)
                } else {
                    match keys.check(headers, uri) {
                        // A key in the query string, or an allowed query key.
                        Ok(p) => Outcome::Done(Ok(p.into())),
                        Err(r) if r.failure != AuthFailure::MissingCredentials => Outcome::Done(Err(r)),
                        Err(_) => {
                            let challenge = keys.challenge().to_header_value();
                            let problem = Problem::unauthorized("Not authenticated", &bearer.challenge())
                                .with_header(WWW_AUTHENTICATE, challenge);
                            Outcome::Done(Err(Refusal::new(AuthFailure::MissingCredentials, problem)))
                        }
                    }
                }
            }
            (Some(keys), None) => keys.authenticate_outcome(headers, uri),
            (None, Some(bearer)) => bearer.authenticate_outcome(headers),
            (None, None) => {
                tracing::error!("AuthLayer has no authenticator: add .api_key(..) or .bearer(..)");
                Outcome::Done(Err(Refusal::new(
                    AuthFailure::Misconfigured,
                    Problem::new(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        "no authentication configured",
                    ),
                )))
            }
        }
    }

    fn strip(&self, headers: &mut HeaderMap) {
        if let Some(keys) = &self.api_key {
            headers.remove(keys.header_name());
        }
        if self.bearer.is_some() {
            headers.remove(AUTHORIZATION);
        }
    }
}
