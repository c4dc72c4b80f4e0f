//! The router: the routes of [`crate::routes`] behind every edge protection of [`mlguard_http`].
//!
//! Outer to inner, for every request:
//!
//! 1. credential headers marked sensitive; malformed client request ids dropped
//! 2. request id set (`x-request-id`) and copied to the response
//! 3. access log (no headers, no query)
//! 4. security response headers (`Cache-Control: no-store` when credentials were sent)
//! 5. framework errors turned into problem bodies; panics into 500 problems
//! 6. per-address in-flight cap (503 above `max_in_flight_per_ip` requests of one client
//!    address, before authentication; the address is resolved through the trusted proxies)
//! 7. load shedding (503 above `concurrency_limit` in flight)
//! 8. request timeout (408)
//! 9. body limit (413)
//! 10. body read deadline (408 when the body has not arrived within `body_read_timeout`)
//! 11. path canonicalization (`//predict` -> `/predict`; ambiguous paths 400), then routing
//! 12. per route: authentication, permission, per-principal in-flight cap (503 above
//!     `max_in_flight_per_principal`), per-principal quota, handler
//!
//! The permission comes before the quota, so a refused request (403) spends no one's quota;
//! the quotas and the in-flight cap are keyed on the principal's typed id (an API key and a user
//! of the same name are two principals). The per-principal cap wraps the handler, which is
//! where the body is read: a principal sending slow bodies holds at most its share of the
//! shared slots, for at most `body_read_timeout`.
//!
//! To add routes (OpenAPI docs, metrics), merge them into [`api_router`]'s result before
//! [`harden`]: they then get every layer above.

use crate::auth::Auth;
use crate::config::Config;
use crate::policy;
use crate::quotas::Quotas;
use crate::routes::{crypto, health, predict, token};
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Router};
use http::StatusCode;
use mlguard_core::{ClientIpResolver, TrustedProxies};
use mlguard_http::access_log::{AccessLogLayer, sensitive_headers_layer};
use mlguard_http::headers::SecurityHeadersLayer;
use mlguard_http::limits::{BodyReadTimeoutLayer, PerKeyInFlightLayer, ShedLayer};
use mlguard_http::path::CanonicalPathLayer;
use mlguard_http::problem::{PanicProblem, ProblemBodiesLayer};
use mlguard_http::request_id::RequestIdLayer;
use mlguard_rbac::{RbacError, RequirePermissionLayer};
use mlguard_validate::JsonConfig;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_layer::Layer;

/// Limits and switches of the hardening stack.
#[derive(Debug, Clone)]
pub struct HardeningOptions {
    /// Send HSTS (only when serving TLS).
    pub hsts: bool,
    /// Maximum request body, bytes.
    pub body_limit: usize,
    /// Whole-request time limit.
    pub request_timeout: Duration,
    /// Requests in flight before shedding.
    pub concurrency_limit: usize,
    /// Requests of one client address in flight.
    pub max_in_flight_per_ip: usize,
    /// Time for a request body to arrive.
    pub body_read_timeout: Duration,
    /// Proxies whose forwarding headers name the client (for the per-address cap).
    pub trusted_proxies: TrustedProxies,
}

impl HardeningOptions {
    /// From the configuration; `tls` says whether connections are TLS.
    pub fn from_config(config: &Config, tls: bool) -> Self {
        Self {
            hsts: tls,
            body_limit: config.body_limit,
            request_timeout: config.request_timeout,
            concurrency_limit: config.concurrency_limit,
            max_in_flight_per_ip: config.max_in_flight_per_ip,
            body_read_timeout: config.body_read_timeout,
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }
}

/// The API routes with their per-route requirements (authentication, then permission, then the
/// per-principal in-flight cap and quota), without the global hardening.
///
/// # Errors
/// An invalid policy or permission (a programming error, caught at start-up).
pub fn api_router(
    state: AppState,
    json: JsonConfig,
    quotas: &Quotas,
    auth: &Auth,
) -> Result<Router, RbacError> {
    let authz = policy::authorizer()?;
    let need = |permission: &str| RequirePermissionLayer::try_new(&authz, permission);
    let state = state.with_predict_limiter(quotas.predict_limiter().clone());
    // `route_layer`: the last one added runs first. Authentication, then the permission (so a
    // refused request never reaches a quota), then the per-principal in-flight cap (before the
    // quota: a request refused for being one too many in flight spends no quota), then the
    // quota, then the handler (which reads the body, inside the in-flight cap).
    let predict_one = Router::new()
        .route("/predict", post(predict::predict))
        .route_layer(quotas.predict.clone())
        .route_layer(quotas.in_flight.clone())
        .route_layer(need(policy::MODEL_PREDICT)?)
        .route_layer(auth.layer.clone());
    // The batch handler charges one unit per row itself (the count is in the body), after the
    // permission check like the layer above, to the same per-principal bucket.
    let predict_batch = Router::new()
        .route("/predict/batch", post(predict::batch))
        .route_layer(quotas.in_flight.clone())
        .route_layer(need(policy::MODEL_PREDICT)?)
        .route_layer(auth.layer.clone());
    let predict = predict_one.merge(predict_batch);
    // One crypto quota for both routes (clones of one layer share its state).
    let encrypt = Router::new()
        .route("/encrypt", post(crypto::encrypt))
        .route("/encrypt/", post(crypto::encrypt))
        .route_layer(quotas.crypto.clone())
        .route_layer(quotas.in_flight.clone())
        .route_layer(need(policy::CRYPTO_ENCRYPT)?)
        .route_layer(auth.layer.clone());
    let decrypt = Router::new()
        .route("/decrypt", post(crypto::decrypt))
        .route("/decrypt/", post(crypto::decrypt))
        .route_layer(quotas.crypto.clone())
        .route_layer(quotas.in_flight.clone())
        .route_layer(need(policy::CRYPTO_DECRYPT)?)
        .route_layer(auth.layer.clone());
    let token = Router::new()
        .route("/token", token::route(auth.token.clone()))
        .route_layer(quotas.token_user.clone())
        .route_layer(quotas.token_ip.clone());
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    Ok(Router::new()
        .merge(predict)
        .merge(encrypt)
        .merge(decrypt)
        .merge(token)
        .merge(public)
        .layer(Extension(json))
        .with_state(state))
}

/// Wraps `routes` in the hardening stack; see the [module docs](self).
pub fn harden(routes: Router, options: &HardeningOptions) -> Router {
    let routes = routes.layer(DefaultBodyLimit::max(options.body_limit));
    let canonical = CanonicalPathLayer::new().layer(routes);
    let stack = ServiceBuilder::new()
        .layer(sensitive_headers_layer())
        .layer(RequestIdLayer::new())
        .layer(AccessLogLayer::new())
        .layer(SecurityHeadersLayer::new().hsts(options.hsts))
        .layer(ProblemBodiesLayer::new())
        .layer(CatchPanicLayer::custom(PanicProblem))
        .layer(per_address_in_flight(options))
        .layer(ShedLayer::new(options.concurrency_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(options.body_limit))
        .layer(BodyReadTimeoutLayer::new(options.body_read_timeout));
    Router::new().fallback_service(canonical).layer(stack)
}

/// The per-address in-flight cap: keyed on the client address (resolved through the trusted
/// proxies, IPv6 per /64, like the login rate limit), before authentication.
fn per_address_in_flight(options: &HardeningOptions) -> PerKeyInFlightLayer<std::net::IpAddr> {
    let resolver = ClientIpResolver::new().with_trusted_proxies(options.trusted_proxies.clone());
    PerKeyInFlightLayer::per_client_address(
        options.max_in_flight_per_ip,
        resolver,
        mlguard_ratelimit::DEFAULT_V6_PREFIX,
    )
}

/// The JSON limits for `config`: the body limit, and arrays up to `max_batch` rows.
///
/// # Errors
/// Limits mlguard-validate refuses.
pub fn json_config(config: &Config) -> Result<JsonConfig, mlguard_validate::ConfigError> {
    JsonConfig::builder()
        .max_body_bytes(config.body_limit)
        .max_array_len(config.max_batch.max(4))
        .build()
}

/// [`api_router`], plus `/openapi.json`, `/docs` and `/metrics` with the metrics middleware
/// ([`crate::metrics::instrument`]), then [`harden`]: the complete application.
///
/// # Errors
/// As [`api_router`].
pub fn build(
    state: AppState,
    json: JsonConfig,
    quotas: &Quotas,
    auth: &Auth,
    options: &HardeningOptions,
) -> Result<Router, RbacError> {
    let metrics =
        crate::metrics::Metrics::new(Some(quotas)).with_model_guard(state.model_protection().guard());
    let routes = crate::metrics::instrument(api_router(state, json, quotas, auth)?, &metrics, auth)?;
    Ok(harden(routes, options))
}
