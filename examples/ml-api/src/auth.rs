//! Authentication of the server: an API key (`X-API-Key`, from `apikeys.json`) or a bearer JWT
//! (HS256 with the configured secret, `iss` and `aud` both `ml-api`), through mlguard-auth's
//! [`AuthLayer`], composed with the token endpoint by mlguard-auth's [`AuthStack`]. With
//! `jwks_url` set, an identity provider's tokens are accepted too, each token checked by the
//! verifier of its `iss` only (ml-api's HS256 key for `ml-api`, the provider's JWKS for the
//! provider's issuer), so neither side's keys can vouch for the other's tokens; the `jti`
//! denylist applies to both. The layer writes the [`Principal`](mlguard_core::Principal) the
//! permission and quota layers read, and strips the credential headers before the handler runs.

use crate::config::{IdpConfig, Secret};
use crate::datadir::{DataDir, files};
use crate::policy::REALM;
use mlguard_auth::apikey::{FileKeyStore, KeyStore};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::refresh::{MemoryRefreshStore, RefreshTokenStore};
use mlguard_auth::revocation::{MemoryRevocationStore, RevocationStore};
use mlguard_auth::sql::SqlStore;
use mlguard_auth::stack::AuthStack;
use mlguard_auth::token::TokenEndpoint;
use mlguard_auth::users::{FileUserStore, UserStore};
use mlguard_auth::{AuthError, AuthLayer};
use std::sync::Arc;
use std::time::Duration;

/// `iss` and `aud` of the tokens this server issues and accepts.
pub const ISSUER: &str = "ml-api";
/// `kid` of the HS256 key.
pub const KEY_ID: &str = "ml-api-hs256";

/// What the routes need for authentication and token issuing.
#[derive(Clone, Debug)]
pub struct Auth {
    /// API key or bearer token, for the protected routes.
    pub layer: AuthLayer,
    /// `POST /token`.
    pub token: Arc<TokenEndpoint>,
    /// The API key store (the database's, kept in memory and told of changes: revocation
    /// without restart).
    pub keys: Arc<dyn KeyStore>,
}

impl Auth {
    /// Authenticators over the data directory's `apikeys.json` and `users.json`, with an
    /// in-memory `jti` denylist and no identity provider: for tests that build a router
    /// without a database (the server uses [`Auth::with_database`]).
    ///
    /// # Errors
    /// The key or user file cannot be opened, or the secret is refused.
    pub fn new(
        dir: &DataDir,
        jwt_secret: &Secret,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Result<Self, AuthError> {
        Self::build(
            Arc::new(FileKeyStore::open_or_create(dir.file(files::API_KEYS))?),
            Arc::new(FileUserStore::open_or_create(dir.file(files::USERS))?),
            Arc::new(MemoryRefreshStore::new().with_ttl(refresh_ttl)),
            jwt_secret,
            access_ttl,
            Arc::new(MemoryRevocationStore::new()),
            None,
            PasswordHasher::new(),
        )
    }

    /// Users, API keys, refresh tokens and (unless `revocations` is given) the `jti` denylist
    /// in the database `store`, and the identity provider's tokens when `idp` is set, logins
    /// checked by `hasher` (its concurrency bound and work budget): what the server uses.
    ///
    /// # Errors
    /// The secret or the provider's settings are refused.
    pub fn with_database(
        store: &SqlStore,
        jwt_secret: &Secret,
        access_ttl: Duration,
        revocations: Option<Arc<dyn RevocationStore>>,
        idp: Option<&IdpConfig>,
        hasher: PasswordHasher,
    ) -> Result<Self, AuthError> {
        let store = Arc::new(store.clone());
        let revocations = revocations.unwrap_or_else(|| store.clone());
        Self::build(
            store.clone(),
            store.clone(),
            store,
            jwt_secret,
            access_ttl,
            revocations,
            idp,
            hasher,
        )
    }

    #[allow(clippy::too_many_arguments)] // the stores, the token settings and the hasher
    fn build(
        keys: Arc<dyn KeyStore>,
        users: Arc<dyn UserStore>,
        refresh: Arc<dyn RefreshTokenStore>,
        jwt_secret: &Secret,
        access_ttl: Duration,
        revocations: Arc<dyn RevocationStore>,
        idp: Option<&IdpConfig>,
        hasher: PasswordHasher,
    ) -> Result<Self, AuthError> {
        let mut stack = AuthStack::builder(keys.clone(), users, refresh, revocations)
            .hs256(jwt_secret.expose().as_bytes(), KEY_ID, ISSUER)
            .access_ttl(access_ttl)
            .realm(REALM)
            .hasher(hasher);
        if let Some(idp) = idp {
            stack = stack.identity_provider(idp.clone());
        }
        let stack = stack.build()?;
        Ok(Self {
            layer: stack.layer,
            token: stack.token,
            keys,
        })
    }
}
