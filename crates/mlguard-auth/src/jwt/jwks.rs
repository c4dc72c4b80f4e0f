//! [`RemoteJwks`]: keys published by an external identity provider (feature `jwks`).
//!
//! **What it protects against:** a token naming a `kid` that forces a fetch on every request
//! (refreshes happen at most once per [`min_refresh_interval`](RemoteJwksBuilder::min_refresh_interval),
//! default 5 minutes, however many unknown `kid`s arrive), a slow or hostile endpoint
//! (bounded fetch time, default 5 s, and body size, default 64 KiB), and an endpoint that
//! starts serving garbage or an empty set (the last good key set stays in use). Keys are only ever fetched from
//! the configured URL, never from a URL in a token.
//!
//! The default HTTP client has no root certificates (the workspace builds reqwest with
//! `rustls-tls-manual-roots`): for an `https` identity provider pass a client built with your
//! roots via [`http_client`](RemoteJwksBuilder::http_client).
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mlguard_auth::jwt::{BearerAuth, JwtVerifier, RemoteJwks};
//!
//! # async fn demo() -> Result<(), mlguard_auth::AuthError> {
//! let jwks = Arc::new(
//!     RemoteJwks::builder("http://idp.internal/.well-known/jwks.json")
//!         .min_refresh_interval(Duration::from_secs(300))
//!         .build()?,
//! );
//! jwks.refresh().await?; // optional warm-up; otherwise the first unknown kid fetches
//! let verifier = JwtVerifier::builder()
//!     .jwks(jwks)
//!     .issuer("http://idp.internal")
//!     .audience("ml-api")
//!     .roles_claim("/realm_access/roles")
//!     .build()?;
//! let auth = BearerAuth::new(verifier).realm("ml-api");
//! # Ok(()) }
//! ```

use super::key::VerifyingKey;
use crate::AuthError;
use jsonwebtoken::jwk::Jwk;
use mlguard_core::{SharedClock, SystemClock};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Default minimum time between two fetches: 5 minutes.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(300);
/// Default fetch timeout: 5 seconds.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default maximum JWKS body: 64 KiB.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// A cached remote JWK set.
pub struct RemoteJwks {
    url: String,
    client: reqwest::Client,
    keys: RwLock<Arc<HashMap<String, VerifyingKey>>>,
    last_attempt: tokio::sync::Mutex<Option<SystemTime>>,
    min_interval: Duration,
    timeout: Duration,
    max_body: usize,
    clock: SharedClock,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.url)
            .field("keys", &self.len())
            .field("min_interval", &self.min_interval)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RemoteJwks`].
#[must_use]
pub struct RemoteJwksBuilder {
    url: String,
    client: Option<reqwest::Client>,
    min_interval: Duration,
    timeout: Duration,
    max_body: usize,
    clock: SharedClock,
}

impl fmt::Debug for RemoteJwksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwksBuilder")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RemoteJwksBuilder {
    /// Minimum time between fetches (default [`DEFAULT_MIN_REFRESH`]; at least 1 s).
    pub fn min_refresh_interval(mut self, d: Duration) -> Self {
        self.min_interval = d;
        self
    }

    /// Bound on one fetch, connection to last byte (default [`DEFAULT_FETCH_TIMEOUT`]).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Bound on the body size (default [`DEFAULT_MAX_BODY`]).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body = n;
        self
    }

    /// The HTTP client (for `https`, one built with your root certificates).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The clock that paces refreshes.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings; does not fetch.
    pub fn build(self) -> Result<RemoteJwks, AuthError> {
        let parsed = self
            .url
            .parse::<http::Uri>()
            .map_err(|_| AuthError::Config("invalid JWKS URL".into()))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) {
            return Err(AuthError::Config("JWKS URL must be http(s)".into()));
        }
        if self.min_interval < Duration::from_secs(1) || self.timeout.is_zero() || self.max_body < 64 {
            return Err(AuthError::Config(
                "JWKS interval, timeout or size bound too small".into(),
            ));
        }
        let client = match self.client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| AuthError::Config(format!("HTTP client: {e}")))?,
        };
        Ok(RemoteJwks {
            url: self.url,
            client,
            keys: RwLock::new(Arc::new(HashMap::new())),
            last_attempt: tokio::sync::Mutex::new(None),
            min_interval: self.min_interval,
            timeout: self.timeout,
            max_body: self.max_body,
            clock: self.clock,
        })
    }
}

impl RemoteJwks {
    /// Starts a builder for the JWKS at `url`.
    pub fn builder(url: impl Into<String>) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            url: url.into(),
            client: None,
            min_interval: DEFAULT_MIN_REFRESH,
            timeout: DEFAULT_FETCH_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            clock: Arc::new(SystemClock),
        }
    }

    /// The cached key for `kid`.
    pub fn cached(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(kid)
            .cloned()
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fetches now, whatever the interval; returns the number of usable keys. On error the
    /// previous keys stay; a set without any usable signature key (`{"keys":[]}`) is an
    /// error too, never an emptied cache.
    pub async fn refresh(&self) -> Result<usize, AuthError> {
        let mut last = self.last_attempt.lock().await;
        *last = Some(self.clock.now());
        self.fetch().await
    }

    /// Fetches when the last attempt (successful or not) is at least the minimum interval
    /// old; returns whether a fetch happened. Concurrent callers wait for one fetch.
    pub async fn refresh_if_due(&self) -> bool {
        let mut last = self.last_attempt.lock().await;
        let now = self.clock.now();
        if let Some(at) = *last
            && now < at + self.min_interval
        {
            return false;
        }
        *last = Some(now);
        if let Err(error) = self.fetch().await {
            tracing::warn!(url = %self.url, %error, "JWKS refresh failed; keeping the cached keys");
        }
        true
    }

    async fn fetch(&self) -> Result<usize, AuthError> {
        let backend = |e: &dyn fmt::Display| AuthError::Backend(format!("JWKS fetch: {e}"));
        let fetch = async {
            let mut response = self.client.get(&self.url).send().await.map_err(|e| backend(&e))?;
            if !response.status().is_success() {
                return Err(backend(&response.status()));
            }
            if response
                .content_length()
                .is_some_and(|n| n > self.max_body as u64)
            {
                return Err(backend(&"body too large"));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| backend(&e))? {
                if body.len() + chunk.len() > self.max_body {
                    return Err(backend(&"body too large"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        let body = tokio::time::timeout(self.timeout, fetch)
            .await
            .map_err(|_| backend(&"timed out"))??;
        let keys = parse_jwks(&body)?;
        if keys.is_empty() {
            // `{"keys":[]}` (or only unusable keys) from a misconfigured or hijacked endpoint
            // must not wipe the keys that verify today's tokens.
            return Err(AuthError::Format(
                "JWKS: no usable signature key with a kid".into(),
            ));
        }
        let n = keys.len();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        Ok(n)
    }
}

/// Parses a JWK set, keeping the usable signature keys that have a `kid`.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, VerifyingKey>, AuthError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| AuthError::Format(format!("JWKS: {e}")))?;
    let Some(Value::Array(list)) = doc.get("keys") else {
        return Err(AuthError::Format("JWKS: no keys array".into()));
    };
    let mut keys = HashMap::new();
    for value in list {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else {
            continue;
        };
        match VerifyingKey::from_jwk(&jwk) {
            Ok(key) => {
                if let Some(kid) = key.kid().map(str::to_owned) {
                    keys.insert(kid, key);
                }
            }
            Err(error) => tracing::debug!(%error, "JWKS key skipped"),
        }
    }
    Ok(keys)
}
