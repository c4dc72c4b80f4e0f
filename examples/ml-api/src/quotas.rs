//! The server's rate limits, built once from the configuration.
//!
//! | limit | key | quota |
//! |---|---|---|
//! | `POST /token` | client IP (trusted-proxy aware, IPv6 per /64) | `token_rate` |
//! | `POST /token` | the `username` form field (falls back to the client IP) | `token_rate` |
//! | `POST /predict`, `POST /predict/batch` | principal subject | `predict_rate`; each batch row costs 1 |
//!
//! With `redis_url` every limit is kept in Redis, shared by all instances (failing open to a
//! local limiter when Redis is down, logged by mlguard-ratelimit).

use crate::config::Config;
use mlguard_core::ClientIpResolver;
use mlguard_ratelimit::{
    KeyExtractor, MissingKey, RateLimitError, RateLimitLayer, RateLimiter, RedisBackend,
};

/// The three limits.
#[derive(Debug, Clone)]
pub struct Quotas {
    /// `POST /token` per client IP.
    pub token_ip: RateLimitLayer,
    /// `POST /token` per username.
    pub token_user: RateLimitLayer,
    /// Predictions per principal.
    pub predict: RateLimitLayer,
}

impl Quotas {
    /// Builds the limits; a bad quota string is an error here, at start-up.
    ///
    /// # Errors
    /// [`RateLimitError`] naming the bad quota.
    pub fn from_config(config: &Config) -> Result<Self, RateLimitError> {
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
                KeyExtractor::principal_subject(),
                MissingKey::Reject(http::StatusCode::UNAUTHORIZED),
            )?,
        })
    }

    /// The prediction limiter, for the batch handler to charge one unit per row.
    pub fn predict_limiter(&self) -> &RateLimiter {
        self.predict.limiter()
    }
}
