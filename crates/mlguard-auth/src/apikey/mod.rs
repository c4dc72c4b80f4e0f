//! API keys: generation, hashing, stores, management ([`ApiKeyManager`]: create, list,
//! revoke), and the [`ApiKeyLayer`].
//!
//! **What it protects against:** guessable or unrecognisable keys (keys are `mlg_<id>_<secret>`
//! with 32 random bytes, so secret scanners spot leaks), stolen key databases (only SHA-256 of
//! each key is stored), timing attacks on the comparison (constant-time, via `subtle`), keys
//! leaking through URLs into logs and proxies (query-string keys are refused by default), and
//! revocations that need a restart (stores are consulted on every request).
//!
//! Missing or invalid keys get a 401 problem body with an `ApiKey` challenge; neither the body
//! nor the logs contain the submitted key. On success the inner service sees a
//! `Principal` (subject = key name, roles from the record,
//! `AuthMethod::ApiKey { key_id }`) and no `X-API-Key` header.
//!
//! # Example (axum)
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use mlguard_auth::apikey::{generate, ApiKeyAuth, ApiKeyLayer, MemoryKeyStore};
//! use mlguard_core::Principal;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = Arc::new(MemoryKeyStore::new());
//! let (key, record) = generate("ci-bot", ["user"]).unwrap();
//! store.insert(record);
//!
//! let app = Router::new()
//!     .route("/whoami", get(|p: Principal| async move { p.subject().to_owned() }))
//!     .layer(ApiKeyLayer::new(ApiKeyAuth::new(store.clone()).realm("ml-api")));
//!
//! let request = |key: &str| {
//!     http::Request::get("/whoami").header("x-api-key", key).body(axum::body::Body::empty()).unwrap()
//! };
//! let ok = app.clone().oneshot(request(key.expose_secret())).await.unwrap();
//! assert_eq!(ok.status(), 200);
//!
//! store.revoke(key.key_id());
//! let revoked = app.oneshot(request(key.expose_secret())).await.unwrap();
//! assert_eq!(revoked.status(), 401);
//! # }
//! ```

mod key;
mod manage;
mod principals;
mod store;

pub(crate) use key::sha256_bytes;
pub use key::{
    API_KEY_LEN, API_KEY_PREFIX, ApiKeyParseError, ApiKeyRecord, ApiKeySecret, KEY_ID_LEN, SECRET_BYTES,
    generate, parse_key_id,
};
pub use manage::{ApiKeyInfo, ApiKeyManager, MAX_KEY_NAME_LEN, ManagedKeyStore};
pub use store::{FileKeyStore, KeyFile, KeyStore, MemoryKeyStore};

use crate::outcome::{AuthFailure, Authenticator, Outcome, Refusal};
use crate::service::AuthService;
use http::{HeaderMap, HeaderName, Uri};
use mlguard_core::{Principal, Problem, SharedClock, SystemClock, WwwAuthenticate};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tower_layer::Layer;

/// The default header: `X-API-Key`.
pub const DEFAULT_HEADER: &str = "x-api-key";

/// `Retry-After` of the 503 answered when the key store cannot answer (its backend is down).
pub const STORE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Query parameter names recognised as an attempt to send a key in the URL.
const QUERY_NAMES: [&str; 5] = ["api_key", "apikey", "api-key", "key", "x-api-key"];

/// API key authentication settings: the store, the header, the realm.
///
/// ```
/// use std::sync::Arc;
/// use mlguard_auth::apikey::{ApiKeyAuth, MemoryKeyStore};
/// let auth = ApiKeyAuth::new(Arc::new(MemoryKeyStore::new()))
///     .header(http::HeaderName::from_static("x-ml-key"))
///     .realm("ml-api");
/// ```
#[derive(Clone)]
#[must_use]
pub struct ApiKeyAuth {
    store: Arc<dyn KeyStore>,
    header: HeaderName,
    realm: String,
    query_param: Option<String>,
    clock: SharedClock,
    /// The principals of the keys seen, shared by clones.
    principals: Arc<principals::Principals>,
}

impl fmt::Debug for ApiKeyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyAuth")
            .field("store", &self.store)
            .field("header", &self.header)
            .field("realm", &self.realm)
            .field("query_param", &self.query_param)
            .finish_non_exhaustive()
    }
}

impl ApiKeyAuth {
    /// Keys looked up in `store`, sent in `X-API-Key`, realm `api`.
    pub fn new(store: Arc<dyn KeyStore>) -> Self {
        Self {
            store,
            header: HeaderName::from_static(DEFAULT_HEADER),
            realm: "api".to_owned(),
            query_param: None,
            clock: Arc::new(SystemClock),
            principals: Arc::default(),
        }
    }

    /// The header that carries the key.
    pub fn header(mut self, header: HeaderName) -> Self {
        self.header = header;
        self
    }

    /// The realm in the `WWW-Authenticate` challenge.
    pub fn realm(mut self, realm: &str) -> Self {
        self.realm = realm.to_owned();
        self
    }

    /// Also accept the key from query parameter `name`. Discouraged: URLs end up in access
    /// logs, proxies and browser history. Without this, a request carrying a key-like query
    /// parameter is refused.
    pub fn danger_allow_query_param(mut self, name: &str) -> Self {
        self.query_param = Some(name.to_owned());
        self
    }

    /// The clock used for expiry checks.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn header_name(&self) -> &HeaderName {
        &self.header
    }

    /// The `ApiKey realm="...", header="X-API-Key"` challenge.
    pub fn challenge(&self) -> WwwAuthenticate {
        WwwAuthenticate::new("ApiKey")
            .realm(&self.realm)
            .param("header", self.header.as_str())
    }

    /// Whether the request carries the key header (used by [`AuthLayer`](crate::AuthLayer) to
    /// pick a scheme).
    pub(crate) fn is_present(&self, headers: &HeaderMap) -> bool {
        headers.contains_key(&self.header)
    }

    /// Authenticates a request from its headers and URI.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mlguard_auth::apikey::{generate, ApiKeyAuth, MemoryKeyStore};
    /// let store = Arc::new(MemoryKeyStore::new());
    /// let (key, record) = generate("ci", ["user"]).unwrap();
    /// store.insert(record);
    /// let auth = ApiKeyAuth::new(store);
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-api-key", key.expose_secret().parse().unwrap());
    /// let principal = auth.authenticate(&headers, &"/".parse().unwrap()).unwrap();
    /// assert_eq!(principal.api_key_id(), Some(key.key_id()));
    /// ```
    pub fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Result<Principal, Problem> {
        self.check(headers, uri).map_err(|refusal| refusal.problem)
    }

    /// [`authenticate`](Self::authenticate), with the reason of a refusal.
    pub(crate) fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<Principal, Refusal> {
        let mut values = headers.get_all(&self.header).iter();
        let presented = match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok().map(Cow::Borrowed),
            (Some(_), Some(_)) => None,
            (None, _) => match self.key_in_query(uri) {
                QueryKey::None => return Err(self.missing()),
                QueryKey::Refused => {
                    tracing::debug!("API key in the query string refused");
                    return Err(Refusal::new(
                        AuthFailure::ApiKeyInQuery,
                        Problem::unauthorized(
                            "API keys are not accepted in the query string",
                            &self.challenge(),
                        ),
                    ));
                }
                QueryKey::Key(k) => Some(Cow::Owned(k)),
            },
        };
        let Some(presented) = presented else {
            return Err(self.invalid("malformed header"));
        };
        let presented = presented.trim();
        let key_id = parse_key_id(presented).map_err(|_| self.invalid("malformed key"))?;
        // The store lends the record (no copy); the checks run on it in place.
        let mut decided = None;
        let looked_up = self.store.with_record(key_id, &mut |record| {
            decided = Some(self.check_record(record, key_id, presented));
        });
        if let Err(error) = looked_up {
            // A store that cannot answer (its database down past its stale bound) is
            // temporary: 503 with `Retry-After`, and fail closed.
            tracing::error!(%error, "API key store failed");
            return Err(Refusal::new(
                AuthFailure::Unavailable,
                Problem::service_unavailable("Authentication is unavailable", Some(STORE_RETRY_AFTER)),
            ));
        }
        // A store that never called back found nothing: refused, as an unknown key.
        decided.unwrap_or_else(|| Err(self.invalid("unknown key id")))
    }

    /// The checks of a key against its record (`None`: no such key), and its principal.
    fn check_record(
        &self,
        record: Option<&ApiKeyRecord>,
        key_id: &str,
        presented: &str,
    ) -> Result<Principal, Refusal> {
        let Some(record) = record else {
            return Err(self.invalid("unknown key id"));
        };
        if !record.verify(presented) {
            return Err(self.invalid("wrong secret"));
        }
        if record.revoked {
            tracing::info!(key_id, "revoked API key used");
            return Err(self.invalid("revoked"));
        }
        if record.is_expired_at(self.clock.now()) {
            return Err(self.invalid("expired"));
        }
        Ok(self.principals.of(record))
    }

    fn key_in_query(&self, uri: &Uri) -> QueryKey {
        let Some(query) = uri.query() else {
            return QueryKey::None;
        };
        let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) else {
            return QueryKey::None;
        };
        if let Some(name) = &self.query_param
            && let Some((_, v)) = pairs.iter().find(|(k, _)| k == name)
        {
            return QueryKey::Key(v.clone());
        }
        let header = self.header.as_str();
        let suspicious = pairs.iter().any(|(k, v)| {
            QUERY_NAMES.iter().any(|n| k.eq_ignore_ascii_case(n))
                || k.eq_ignore_ascii_case(header)
                || v.starts_with(API_KEY_PREFIX)
        });
        if suspicious {
            QueryKey::Refused
        } else {
            QueryKey::None
        }
    }

    /// [`authenticate`](Self::authenticate) as the service runs it.
    pub(crate) fn authenticate_outcome(&self, headers: &HeaderMap, uri: &Uri) -> Outcome {
        Outcome::Done(self.check(headers, uri).map(Into::into))
    }

    fn missing(&self) -> Refusal {
        Refusal::new(
            AuthFailure::MissingCredentials,
            Problem::unauthorized("Missing API key", &self.challenge()),
        )
    }

    fn invalid(&self, reason: &'static str) -> Refusal {
        tracing::debug!(reason, "API key rejected");
        Refusal::new(
            AuthFailure::InvalidApiKey,
            Problem::unauthorized("Invalid API key", &self.challenge()),
        )
    }
}

enum QueryKey {
    None,
    Refused,
    Key(String),
}

impl Authenticator for ApiKeyAuth {
    fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Outcome {
        self.authenticate_outcome(headers, uri)
    }

    fn strip(&self, headers: &mut HeaderMap) {
        headers.remove(&self.header);
    }
}

/// Authenticates every request with an API key; see the [module docs](self).
#[derive(Clone, Debug)]
#[must_use]
pub struct ApiKeyLayer {
    auth: Arc<ApiKeyAuth>,
    format: mlguard_core::RefusalFormat,
}

impl ApiKeyLayer {
    /// A layer that authenticates with `auth`.
    pub fn new(auth: ApiKeyAuth) -> Self {
        Self {
            auth: Arc::new(auth),
            format: mlguard_core::RefusalFormat::default(),
        }
    }

    /// How refusals are written: [`RefusalFormat::Auto`](mlguard_core::RefusalFormat::Auto) (the default) answers gRPC requests
    /// (`content-type: application/grpc`) with `grpc-status` 16 UNAUTHENTICATED (or 7 for a
    /// 403) and everything else with a problem body.
    pub fn refusal_format(mut self, format: mlguard_core::RefusalFormat) -> Self {
        self.format = format;
        self
    }
}

impl<S> Layer<S> for ApiKeyLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService::new(inner, self.auth.clone(), self.format)
    }
}
