//! An external identity provider (Keycloak, Auth0, Entra ID, ...) whose tokens a service
//! accepts next to its own: the provider's settings, checked once, and the verifier built
//! from them (feature `jwks`).
//!
//! **What it protects against:** keys fetched over a channel an attacker can read or change
//! (a JWKS URL must be `https`, with the CA that signs the provider's certificate given
//! explicitly; plain `http` only to a loopback address, for a provider on the same host), a
//! JWKS endpoint hammered by tokens with unknown `kid`s (fetched at most once per
//! `refresh_interval`, at least one second), redirects to elsewhere (not followed), tokens for
//! another audience (`aud` required), and a roles claim that silently matches nothing (it must
//! be a JSON Pointer, RFC 6901). Only the asymmetric keys of the JWKS verify.
//!
//! ```
//! use mlguard_auth::idp::{IdentityProvider, IdpSetting};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let idp = IdentityProvider::new("http://127.0.0.1:8080/realms/ml/certs", "http://sso/realms/ml", "ml-api")
//!     .roles_claim("/realm_access/roles");
//! assert!(idp.validate().is_ok());
//! let verifier = idp.verifier().unwrap(); // its keys are fetched on the first token
//! # let _ = verifier;
//!
//! let remote_http = IdentityProvider::new("http://sso.example/certs", "http://sso", "ml-api");
//! assert_eq!(remote_http.validate().unwrap_err().setting, IdpSetting::JwksUrl);
//! # }
//! ```

use crate::AuthError;
use crate::jwt::jwks::{DEFAULT_FETCH_TIMEOUT, DEFAULT_MIN_REFRESH};
use crate::jwt::{DEFAULT_ROLES_CLAIM, JsonPointer, JwtVerifier, RemoteJwks};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// An identity provider's settings. Build with [`IdentityProvider::new`], check with
/// [`validate`](Self::validate), then make its [`verifier`](Self::verifier).
///
/// Its `Debug` shows the JWKS URL without a userinfo part (`user:password@`, which
/// [`validate`](Self::validate) refuses), so printing settings that were never validated does
/// not print a password either.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdentityProvider {
    /// The JWKS URL: `https`, or `http` to a loopback address.
    pub jwks_url: String,
    /// The provider's `iss`.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    /// JSON Pointer to the roles in its tokens (default `/roles`).
    pub roles_claim: String,
    /// Least time between two JWKS fetches (default 5 minutes, at least 1 s).
    pub refresh_interval: Duration,
    /// PEM file of the CA that signs the provider's certificate (required with `https`).
    pub ca: Option<PathBuf>,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field(
                "jwks_url",
                &mlguard_core::secret::url_without_userinfo(&self.jwks_url),
            )
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("roles_claim", &self.roles_claim)
            .field("refresh_interval", &self.refresh_interval)
            .field("ca", &self.ca)
            .finish()
    }
}

/// The setting an [`IdpError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdpSetting {
    /// [`IdentityProvider::jwks_url`].
    JwksUrl,
    /// [`IdentityProvider::ca`].
    Ca,
    /// [`IdentityProvider::issuer`].
    Issuer,
    /// [`IdentityProvider::audience`].
    Audience,
    /// [`IdentityProvider::roles_claim`].
    RolesClaim,
    /// [`IdentityProvider::refresh_interval`].
    RefreshInterval,
}

/// Settings of an identity provider that cannot be used: which one, and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct IdpError {
    /// The setting.
    pub setting: IdpSetting,
    /// What is wrong and what is accepted (never a secret: these settings hold none).
    pub message: String,
}

fn bad(setting: IdpSetting, message: impl Into<String>) -> IdpError {
    IdpError {
        setting,
        message: message.into(),
    }
}

/// `127.0.0.0/8`, `::1` (in brackets, as in a URL) or `localhost`.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl IdentityProvider {
    /// A provider with keys at `jwks_url`, tokens from `issuer` for `audience`, roles at
    /// `/roles`, a JWKS fetched at most every 5 minutes, no CA file.
    pub fn new(jwks_url: impl Into<String>, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            jwks_url: jwks_url.into(),
            issuer: issuer.into(),
            audience: audience.into(),
            roles_claim: DEFAULT_ROLES_CLAIM.to_owned(),
            refresh_interval: DEFAULT_MIN_REFRESH,
            ca: None,
        }
    }

    /// Where the roles are (a JSON Pointer such as `/realm_access/roles`).
    #[must_use]
    pub fn roles_claim(mut self, pointer: impl Into<String>) -> Self {
        self.roles_claim = pointer.into();
        self
    }

    /// Least time between two JWKS fetches.
    #[must_use]
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The CA (PEM file) that signs the provider's `https` certificate.
    #[must_use]
    pub fn ca(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.ca = Some(pem_file.into());
        self
    }

    /// Checks the settings together; see the [module docs](self).
    ///
    /// # Errors
    /// The first setting that cannot be used.
    pub fn validate(&self) -> Result<(), IdpError> {
        let uri: http::Uri = self
            .jwks_url
            .parse()
            .map_err(|_| bad(IdpSetting::JwksUrl, "not a URL"))?;
        let host = uri.host().unwrap_or_default();
        // RFC 3986 section 3.2.1: "user:password" in a URI is deprecated; a JWKS is public, and a
        // password there would travel into logs with the URL.
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(bad(
                IdpSetting::JwksUrl,
                "must not carry credentials (user:password@): a JWKS is fetched without them",
            ));
        }
        match uri.scheme_str() {
            Some("https") if !host.is_empty() => {
                if self.ca.is_none() {
                    return Err(bad(
                        IdpSetting::Ca,
                        "required with an https JWKS URL: the PEM of the CA that signs the \
                         provider's certificate (there is no built-in root store)",
                    ));
                }
            }
            Some("http") if is_loopback(host) => {
                if self.ca.is_some() {
                    return Err(bad(IdpSetting::Ca, "only means something with an https JWKS URL"));
                }
            }
            Some("http") => {
                return Err(bad(
                    IdpSetting::JwksUrl,
                    "http is allowed only to a loopback address (127.0.0.0/8, ::1, localhost); use https",
                ));
            }
            _ => return Err(bad(IdpSetting::JwksUrl, "must be an https URL")),
        }
        if self.issuer.trim().is_empty() {
            return Err(bad(IdpSetting::Issuer, "required with a JWKS URL"));
        }
        if self.audience.trim().is_empty() {
            return Err(bad(IdpSetting::Audience, "required with a JWKS URL"));
        }
        if let Err(e) = JsonPointer::parse(&self.roles_claim) {
            return Err(bad(
                IdpSetting::RolesClaim,
                format!("not a JSON Pointer (RFC 6901, e.g. `/realm_access/roles`): {e}"),
            ));
        }
        if self.refresh_interval < Duration::from_secs(1) {
            return Err(bad(IdpSetting::RefreshInterval, "must be at least 1s"));
        }
        Ok(())
    }

    /// The provider's verifier: only the asymmetric keys of its JWKS (fetched on the first
    /// unknown `kid`, then at most once per `refresh_interval`, redirects not followed, with
    /// the CA file's certificate as the only root when one is set), its `iss` and `aud`, roles
    /// where `roles_claim` points. Mount it next to the service's own with
    /// [`BearerAuth::issuer_verifier`](crate::BearerAuth::issuer_verifier).
    ///
    /// # Errors
    /// [`AuthError::Config`] when the settings do not [`validate`](Self::validate) or the CA
    /// file cannot be read.
    pub fn verifier(&self) -> Result<JwtVerifier, AuthError> {
        self.validate()
            .map_err(|e| AuthError::Config(format!("identity provider: {e}")))?;
        let mut jwks = RemoteJwks::builder(self.jwks_url.clone()).min_refresh_interval(self.refresh_interval);
        if let Some(ca) = &self.ca {
            let fail =
                |e: &dyn std::fmt::Display| AuthError::Config(format!("CA file {}: {e}", ca.display()));
            let pem = std::fs::read(ca).map_err(|e| fail(&e))?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| fail(&e))?;
            let client = reqwest::Client::builder()
                .add_root_certificate(cert)
                .timeout(DEFAULT_FETCH_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| AuthError::Config(format!("JWKS HTTP client: {e}")))?;
            jwks = jwks.http_client(client);
        }
        JwtVerifier::builder()
            .jwks(Arc::new(jwks.build()?))
            .issuer(self.issuer.clone())
            .audience(self.audience.clone())
            .roles_claim(self.roles_claim.clone())
            .build()
    }
}
