//! The server's rate limits and per-principal in-flight cap, built once from the configuration.
//!
//! | limit | key | quota |
//! |---|---|---|
//! | `POST /token` | client IP (trusted-proxy aware, IPv6 per /64) | `token_rate` |
//! | `POST /token` | the `username` form field (falls back to the client IP) | `token_rate` |
//! | `POST /predict`, `POST /predict/batch` | the principal's typed id | `predict_rate`; each batch row costs 1 |
//! | `POST /encrypt`, `POST /decrypt` (one quota for both) | the principal's typed id | `crypto_rate` |
//! | requests in flight on the authenticated routes | the principal's typed id | `max_in_flight_per_principal` at once (503 beyond) |
//!
//! The principal's typed id ([`mlguard_core::PrincipalId`]) is the key id for an API key and
//! the subject for a bearer token: an API key *named* `admin` and the user `admin` are two
//! principals with two buckets. The quotas run after the permission check (see
//! [`crate::app::api_router`]), so a refused request spends no quota.
//!
//! With `redis_url` every limit is kept in Redis, shared by all instances (failing open to a
//! local limiter when Redis is down, logged by mlguard-ratelimit). The in-flight cap is per
//! instance (it counts this instance's slots).

use crate::config::Config;
use mlguard_core::{ClientIpResolver, Principal, PrincipalId};
use mlguard_http::limits::PerKeyInFlightLayer;
use mlguard_ratelimit::{KeyExtractor, MissingKey, RateLimitError, RateLimitLayer, RedisBackend};

/// A limit that cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaError {
    /// A bad quota string or backend.
    #[error(transparent)]
    RateLimit(#[from] RateLimitError),
    /// An in-flight cap of 0.
    #[error(transparent)]
    InFlight(#[from] mlguard_http::limits::LimitsError),
}

/// The limits.
#[derive(Debug, Clone)]
pub struct Quotas {
    /// `POST /token` per client IP.
    pub token_ip: RateLimitLayer,
    /// `POST /token` per username.
    pub token_user: RateLimitLayer,
    /// Predictions per principal.
    pub predict: RateLimitLayer,
    /// `/encrypt` and `/decrypt` per principal (one quota for both).
    pub crypto: RateLimitLayer,
    /// Requests in flight per principal, on every authenticated route.
    pub in_flight: PerKeyInFlightLayer<PrincipalId>,
}

impl Quotas {
    /// Builds the limits; a bad quota string is an error here, at start-up.
    ///
    /// # Errors
    /// [`QuotaError`] naming the bad quota or cap.
    pub fn from_config(config: &Config) -> Result<Self, QuotaError> {
        let resolver = ClientIpResolver::new().with_trusted_proxies(config.trusted_proxies.clone());
        let build = |name: &str, quota: &str, key: KeyExtractor, missing: MissingKey| {
            let mut b = RateLimitLayer::builder()
                .quota(quota)
                .key(key)
                .on_missing_key(missing)
                .policy_name(name);
            if let Some(url) = &config.redis_url {
                b = b.redis(RedisBackend::new(url.expose()).key_prefix(format!("ml-api:rl:{name}")));
            }
            b.build()
        };
        let ip = KeyExtractor::client_ip(resolver);
        let unauthenticated = || MissingKey::Reject(http::StatusCode::UNAUTHORIZED);
        Ok(Self {
            token_ip: build(
                "token-ip",
                &config.token_rate,
                ip.clone(),
                MissingKey::Reject(http::StatusCode::BAD_REQUEST),
            )?,
            token_user: build(
                "token-user",
                &config.token_rate,
                KeyExtractor::body_field("username").with_max_body(config.body_limit),
                MissingKey::Fallback(ip),
            )?,
            predict: build(
                "predict",
                &config.predict_rate,
                KeyExtractor::principal(),
                unauthenticated(),
            )?,
            crypto: build(
                "crypto",
                &config.crypto_rate,
                KeyExtractor::principal(),
                unauthenticated(),
            )?,
            in_flight: PerKeyInFlightLayer::try_new(config.max_in_flight_per_principal, |parts| {
                Principal::from_extensions(&parts.extensions).map(Principal::id)
            })?
            .name("principal")
            .detail("Too many of your requests are in flight; retry shortly"),
        })
    }
}
