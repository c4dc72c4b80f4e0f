//! The whole of this crate for a service that issues its own tokens, in one builder: an HS256
//! key that signs the `/token` endpoint's access tokens and verifies them on the protected
//! routes, API keys or bearer tokens on those routes ([`AuthLayer`]), refresh-token rotation,
//! one `jti` denylist shared by both sides, the audit events, and optionally an identity
//! provider's tokens next to the service's own (feature `jwks`).
//!
//! **What it protects against**, beyond what each piece does: the wiring mistakes a service
//! makes when composing the pieces by hand. The issuing and the verifying side always agree on
//! `iss`, `aud` and `kid` (one setting, not two to keep equal); the token endpoint and the
//! bearer check always use the same denylist, so a reused refresh token's family is refused on
//! the protected routes at once; revocations and refresh-token events are always audited; and an
//! identity provider whose `iss` equals the service's own is refused at construction, because
//! the verifier is chosen by `iss` and the provider's keys could then vouch for tokens that claim
//! to be the service's (or the reverse).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mlguard_auth::apikey::MemoryKeyStore;
//! use mlguard_auth::refresh::MemoryRefreshStore;
//! use mlguard_auth::revocation::MemoryRevocationStore;
//! use mlguard_auth::stack::AuthStack;
//! use mlguard_auth::users::MemoryUserStore;
//!
//! let secret = [7u8; 32]; // from configuration, at least 32 bytes
//! let auth = AuthStack::builder(
//!     Arc::new(MemoryKeyStore::new()),
//!     Arc::new(MemoryUserStore::new()),
//!     Arc::new(MemoryRefreshStore::new()),
//!     Arc::new(MemoryRevocationStore::new()),
//! )
//! .hs256(&secret, "svc-hs256", "svc")
//! .access_ttl(Duration::from_secs(15 * 60))
//! .realm("svc")
//! .build()?;
//! // `auth.layer` in front of the protected routes, `auth.token` behind `POST /token`
//! // (`token::token_route` with the `axum` feature).
//! # let _ = (auth.layer, auth.token);
//! assert!(AuthStack::builder(
//!     Arc::new(MemoryKeyStore::new()),
//!     Arc::new(MemoryUserStore::new()),
//!     Arc::new(MemoryRefreshStore::new()),
//!     Arc::new(MemoryRevocationStore::new()),
//! )
//! .build()
//! .is_err(), "no signing key");
//! # Ok::<(), mlguard_auth::AuthError>(())
//! ```

use crate::apikey::KeyStore;
use crate::audit::{AuditedRefreshTokens, AuditedRevocations};
use crate::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
use crate::password::PasswordHasher;
use crate::refresh::RefreshTokenStore;
use crate::revocation::RevocationStore;
use crate::token::TokenEndpoint;
use crate::users::UserStore;
use crate::{ApiKeyAuth, AuthError, AuthLayer, BearerAuth};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// What [`AuthStackBuilder::build`] makes: the layer of the protected routes and the token
/// endpoint, sharing one key and one denylist.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthStack {
    /// API key or bearer token (the service's own, or the identity provider's), for the
    /// protected routes.
    pub layer: AuthLayer,
    /// `POST /token`: the password and refresh-token grants.
    pub token: Arc<TokenEndpoint>,
}

impl AuthStack {
    /// A builder over the four stores: API keys, users, refresh-token families and the `jti`
    /// denylist (all four can be one `sql::SqlStore` with the feature `sql`).
    pub fn builder(
        keys: Arc<dyn KeyStore>,
        users: Arc<dyn UserStore>,
        refresh: Arc<dyn RefreshTokenStore>,
        revocations: Arc<dyn RevocationStore>,
    ) -> AuthStackBuilder {
        AuthStackBuilder {
            keys,
            users,
            refresh,
            revocations,
            hs256: None,
            access_ttl: None,
            realm: None,
            hasher: None,
            #[cfg(feature = "jwks")]
            identity_provider: None,
        }
    }
}

/// The HS256 key and the name the tokens carry.
struct Hs256 {
    secret: Zeroizing<Vec<u8>>,
    key_id: String,
    issuer: String,
}

/// Builds an [`AuthStack`]; every setting is checked by [`build`](Self::build).
#[must_use]
pub struct AuthStackBuilder {
    keys: Arc<dyn KeyStore>,
    users: Arc<dyn UserStore>,
    refresh: Arc<dyn RefreshTokenStore>,
    revocations: Arc<dyn RevocationStore>,
    hs256: Option<Hs256>,
    access_ttl: Option<Duration>,
    realm: Option<String>,
    hasher: Option<PasswordHasher>,
    #[cfg(feature = "jwks")]
    identity_provider: Option<crate::idp::IdentityProvider>,
}

impl std::fmt::Debug for AuthStackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthStackBuilder")
            .field("issuer", &self.hs256.as_ref().map(|k| k.issuer.as_str()))
            .field("access_ttl", &self.access_ttl)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl AuthStackBuilder {
    /// The HS256 `secret` (at least 32 bytes) that signs and verifies the service's own tokens,
    /// named `key_id` in their header; they carry `issuer` as both `iss` and `aud`. Required.
    pub fn hs256(mut self, secret: &[u8], key_id: impl Into<String>, issuer: impl Into<String>) -> Self {
        self.hs256 = Some(Hs256 {
            secret: Zeroizing::new(secret.to_vec()),
            key_id: key_id.into(),
            issuer: issuer.into(),
        });
        self
    }

    /// Lifetime of the access tokens issued (default: [`JwtIssuer`]'s, 15 minutes).
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = Some(ttl);
        self
    }

    /// The realm of the `WWW-Authenticate` challenges (default: the layers' own).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The password hasher of the token endpoint (its concurrency bound and work budget;
    /// default [`PasswordHasher::new`]).
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// Also accepts `provider`'s tokens on the protected routes, each token checked by the
    /// verifier of its `iss` only (the provider's JWKS for the provider's issuer, the HS256 key
    /// for the service's own); the denylist applies to both.
    #[cfg(feature = "jwks")]
    pub fn identity_provider(mut self, provider: crate::idp::IdentityProvider) -> Self {
        self.identity_provider = Some(provider);
        self
    }

    /// Checks the settings and builds the stack.
    ///
    /// # Errors
    /// [`AuthError::Config`] without [`hs256`](Self::hs256) or with an identity provider whose
    /// `iss` is the service's own or whose settings are refused; the key errors of
    /// [`SigningKey::hmac`] and [`VerifyingKey::hmac`] (a secret shorter than 32 bytes).
    pub fn build(self) -> Result<AuthStack, AuthError> {
        let Some(key) = self.hs256 else {
            return Err(AuthError::Config(
                "the auth stack needs an HS256 key (`hs256`)".to_owned(),
            ));
        };
        let verifier = JwtVerifier::builder()
            .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &key.secret)?.with_kid(key.key_id.clone()))
            .issuer(key.issuer.clone())
            .audience(key.issuer.clone())
            .build()?;
        let mut issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, &key.key_id, &key.secret)?)
            .issuer(key.issuer.clone())
            .audience(key.issuer.clone());
        if let Some(ttl) = self.access_ttl {
            issuer = issuer.ttl(ttl);
        }
        // Reused refresh tokens revoke their family's access tokens: one store for both sides.
        let revoked: Arc<dyn RevocationStore> = Arc::new(AuditedRevocations::new(self.revocations));
        let token = TokenEndpoint::new(self.users, issuer)
            .hasher(self.hasher.unwrap_or_default())
            .refresh_tokens(Arc::new(AuditedRefreshTokens::new(self.refresh)))
            .revocation(revoked.clone());
        let mut bearer = BearerAuth::new(verifier).revocation(revoked);
        let mut api_key = ApiKeyAuth::new(self.keys);
        if let Some(realm) = &self.realm {
            bearer = bearer.realm(realm);
            api_key = api_key.realm(realm);
        }
        #[cfg(feature = "jwks")]
        if let Some(idp) = self.identity_provider {
            if idp.issuer == key.issuer {
                return Err(AuthError::Config(format!(
                    "the identity provider's issuer must differ from the service's own `{}`",
                    key.issuer
                )));
            }
            bearer = bearer.issuer_verifier(idp.issuer.clone(), idp.verifier()?);
        }
        Ok(AuthStack {
            layer: AuthLayer::new().api_key(api_key).bearer(bearer),
            token: Arc::new(token),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apikey::MemoryKeyStore;
    use crate::refresh::MemoryRefreshStore;
    use crate::revocation::MemoryRevocationStore;
    use crate::users::{MemoryUserStore, UserRecord};
    use mlguard_core::Principal;
    use tower::{Layer, ServiceExt};

    fn stack(users: Arc<MemoryUserStore>) -> AuthStackBuilder {
        AuthStack::builder(
            Arc::new(MemoryKeyStore::new()),
            users,
            Arc::new(MemoryRefreshStore::new()),
            Arc::new(MemoryRevocationStore::new()),
        )
        .hs256(&[9u8; 32], "svc-hs256", "svc")
        .realm("svc")
    }

    /// Status and `WWW-Authenticate` of a request with `token` through `layer`, and the
    /// subject the inner service saw.
    async fn call(layer: &AuthLayer, token: &str) -> (http::StatusCode, String) {
        let inner = tower::service_fn(|req: http::Request<()>| async move {
            let who = Principal::from_extensions(req.extensions()).map_or("-", |p| p.subject());
            let mut response = http::Response::new(());
            response.headers_mut().insert("x-subject", who.parse().unwrap());
            Ok::<_, std::convert::Infallible>(response)
        });
        let request = http::Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        let response = layer.layer(inner).oneshot(request).await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map_or(String::new(), |v| v.to_str().unwrap().to_owned())
        };
        let seen = if response.status().is_success() {
            header("x-subject")
        } else {
            header("www-authenticate")
        };
        (response.status(), seen)
    }

    /// The endpoint's tokens pass the layer (one key, one `iss`/`aud`), and a reused refresh
    /// token revokes its family's access token on the layer's side too (one denylist).
    #[tokio::test]
    async fn issued_tokens_verify_and_a_reused_refresh_token_revokes_them_on_the_routes() {
        let users = Arc::new(MemoryUserStore::new());
        users.insert(UserRecord {
            username: "alice".into(),
            password_hash: PasswordHasher::new()
                .hash_blocking("correct horse battery")
                .unwrap(),
            roles: vec!["user".into()],
            disabled: false,
        });
        let auth = stack(users).build().unwrap();
        let grant = auth
            .token
            .password_grant("alice", Zeroizing::new("correct horse battery".into()), None)
            .await
            .unwrap();
        let access = grant.access.access_token().to_owned();
        assert_eq!(
            call(&auth.layer, &access).await,
            (http::StatusCode::OK, "alice".to_owned())
        );

        let refresh = grant.refresh_token.unwrap();
        auth.token.refresh_grant(&refresh, None).await.unwrap();
        assert!(
            auth.token.refresh_grant(&refresh, None).await.is_err(),
            "reuse refused"
        );
        let (status, challenge) = call(&auth.layer, &access).await;
        assert_eq!(status, http::StatusCode::UNAUTHORIZED);
        assert!(challenge.contains(r#"realm="svc""#), "{challenge}");
    }

    /// A token signed with the same key but another `iss` is refused: the verifier checks the
    /// issuer the builder gave both sides.
    #[tokio::test]
    async fn a_token_for_another_issuer_is_refused() {
        let auth = stack(Arc::new(MemoryUserStore::new())).build().unwrap();
        let other = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "svc-hs256", &[9u8; 32]).unwrap())
            .issuer("other")
            .audience("svc")
            .issue("mallory", &["admin".into()], None)
            .unwrap();
        assert_eq!(
            call(&auth.layer, other.access_token()).await.0,
            http::StatusCode::UNAUTHORIZED
        );
    }

    /// An identity provider named like the service itself is refused at construction.
    #[cfg(feature = "jwks")]
    #[test]
    fn an_identity_provider_with_the_services_own_issuer_is_refused() {
        let idp = |iss: &str| crate::idp::IdentityProvider::new("http://127.0.0.1:9/certs", iss, "svc");
        let same = stack(Arc::new(MemoryUserStore::new()))
            .identity_provider(idp("svc"))
            .build();
        assert!(matches!(same, Err(AuthError::Config(m)) if m.contains("must differ")));
        let other = stack(Arc::new(MemoryUserStore::new()))
            .identity_provider(idp("http://sso"))
            .build();
        assert!(other.is_ok());
    }
}
