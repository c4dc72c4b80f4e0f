//! The router: the routes of [`crate::routes`] behind every edge protection of [`mlguard_http`].
//!
//! Outer to inner, for every request:
//!
//! 1. to 11.: mlguard-http's [`harden`] (its `edge` module), with [`hardening_options`]:
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
//! 12. per route, all in [`api_router`]: authentication, the deny-by-default guard
//!     (mlguard-rbac's [`GuardLayer`] with the [`permissions`] map: a route missing from the
//!     map is refused with 403), per-principal in-flight cap (503 above
//!     `max_in_flight_per_principal`), per-principal quota, handler
//!
//! The permission comes before the quota, so a refused request (403) spends no one's quota;
//! the quotas and the in-flight cap are keyed on the principal's typed id (an API key and a user
//! of the same name are two principals). The per-principal cap wraps the handler, which is
//! where the body is read: a principal sending slow bodies holds at most its share of the
//! shared slots, for at most `body_read_timeout`.
//!
//! To add routes, declare them in [`api_router`] and give each an entry in [`permissions`].

use crate::auth::Auth;
use crate::config::Config;
use crate::metrics::{METRICS_PATH, Metrics};
use crate::openapi::{DOCS_PATH, OPENAPI_PATH};
use crate::policy;
use crate::quotas::Quotas;
use crate::routes::{crypto, health, predict};
use crate::state::AppState;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};
use axum::{Extension, Router};
use mlguard_auth::token::token_route;
use mlguard_http::limits::LimitsError;
use mlguard_ratelimit::RateLimitLayer;
use mlguard_rbac::{GuardLayer, PermissionMap, RbacError, Requirement};
use mlguard_validate::JsonConfig;
use tower::ServiceBuilder;

/// The options of mlguard-http's edge stack ([`harden`]).
pub use mlguard_http::edge::{EdgeOptions as HardeningOptions, harden};

/// The edge options of `config`; `tls` says whether connections are TLS (HSTS). The
/// per-address cap counts IPv6 per /64, like the login rate limit.
pub fn hardening_options(config: &Config, tls: bool) -> HardeningOptions {
    let mut options = HardeningOptions::default();
    options.hsts = tls;
    options.body_limit = config.body_limit;
    options.request_timeout = config.request_timeout;
    options.concurrency_limit = config.concurrency_limit;
    options.max_in_flight_per_ip = config.max_in_flight_per_ip;
    options.body_read_timeout = config.body_read_timeout;
    options.trusted_proxies = config.trusted_proxies.clone();
    options.v6_prefix = mlguard_ratelimit::DEFAULT_V6_PREFIX;
    options
}

/// What each route requires: the input of the deny-by-default [`GuardLayer`]. A route served
/// but missing here is refused with 403 (and a warning naming it), whoever asks. Entries are
/// for any method, so a wrong method still gets 405.
///
/// # Errors
/// An invalid permission (a programming error, caught at start-up).
pub fn permissions() -> Result<PermissionMap, RbacError> {
    let need = |permission: &str| permission.parse().map(Requirement::Permission);
    let mut map = PermissionMap::builder();
    for (route, permission) in [
        ("/predict", policy::MODEL_PREDICT),
        ("/predict/batch", policy::MODEL_PREDICT),
        ("/encrypt", policy::CRYPTO_ENCRYPT),
        ("/encrypt/", policy::CRYPTO_ENCRYPT),
        ("/decrypt", policy::CRYPTO_DECRYPT),
        ("/decrypt/", policy::CRYPTO_DECRYPT),
        (METRICS_PATH, policy::METRICS_READ),
    ] {
        let requirement = need(permission).map_err(|source| RbacError::InvalidPermission {
            context: format!("route {route}"),
            permission: permission.to_owned(),
            source,
        })?;
        map = map.requirement(None, route, requirement);
    }
    for route in [
        "/token",
        "/healthz",
        "/readyz",
        OPENAPI_PATH,
        DOCS_PATH,
        "/docs/",
        "/docs/{*rest}",
    ] {
        map = map.requirement(None, route, Requirement::Public);
    }
    map.build()
}

/// Every route of the server and its whole request path, outer to inner, before the global
/// hardening of [`harden`]: the routes, `/openapi.json`, `/docs` and `/metrics`, with the
/// request metrics ([`Metrics::request_layer`]), the refusal counts and audit events
/// ([`Metrics::refusal_layer`]) and the prediction counts ([`crate::metrics::track`]) around
/// them all.
///
/// | route | authentication | permission (guard) | in-flight cap | quota | handler |
/// |---|---|---|---|---|---|
/// | `POST /predict` | API key or bearer | `model:predict` | per principal | `predict`, 1 unit | [`predict::predict`] |
/// | `POST /predict/batch` | API key or bearer | `model:predict` | per principal | `predict`, 1 unit per row ([`predict::batch_rows`]) | [`predict::batch`] |
/// | `POST /encrypt`, `/encrypt/` | API key or bearer | `crypto:encrypt` | per principal | `crypto` (shared) | [`crypto::encrypt`] |
/// | `POST /decrypt`, `/decrypt/` | API key or bearer | `crypto:decrypt` | per principal | `crypto` (shared) | [`crypto::decrypt`] |
/// | `GET /metrics` | API key or bearer | `metrics:read` | - | - | [`crate::metrics::metrics`] |
/// | `POST /token` | - | public | - | `token-ip`, then `token-user` | mlguard-auth's [`token_route`] (it writes the login audit events) |
/// | `GET /healthz`, `/readyz` | - | public | - | - | [`health`] |
/// | `GET /openapi.json`, `/docs` | - | public | - | - | [`crate::openapi::router`] |
///
/// `extra` routes are served like the protected ones (authentication, then the guard): a route
/// added there without an entry in [`permissions`] is refused with 403.
///
/// # Errors
/// An invalid policy or permission (a programming error, caught at start-up).
pub fn api_router(
    state: AppState,
    json: JsonConfig,
    quotas: &Quotas,
    auth: &Auth,
    metrics: &Metrics,
    extra: Router<AppState>,
) -> Result<Router, RbacError> {
    let guard = GuardLayer::try_new(&policy::authorizer()?, permissions()?)?;
    // Per route, outer to inner (`ServiceBuilder` reads top-down): the per-principal
    // in-flight cap (a request refused for being one too many in flight spends no quota),
    // then the quota, then the handler, which reads the body inside the in-flight cap.
    let limited = |handler: MethodRouter<AppState>, quota: &RateLimitLayer| -> MethodRouter<AppState> {
        handler.layer(
            ServiceBuilder::new()
                .layer(quotas.in_flight.clone())
                .layer(quota.clone()),
        )
    };
    // `/predict/batch`: the rows are read and counted first (`batch_rows`), then the quota
    // charges one unit per row through mlguard-ratelimit's cost.
    // (`route_layer`: a wrong method still gets 405, not a body check.)
    let batch: MethodRouter<AppState> = post(predict::batch)
        .route_layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(state.clone(), predict::batch_rows))
                .layer(quotas.predict.clone()),
        )
        .layer(quotas.in_flight.clone());
    // Protected: authentication (401), then the guard (403 without the route's permission,
    // before any quota is spent), then each route's caps and quota, then the handler.
    // `/encrypt` and `/decrypt` share one crypto quota (clones of one layer share its state).
    let protected = Router::new()
        .route("/predict", limited(post(predict::predict), &quotas.predict))
        .route("/predict/batch", batch)
        .route("/encrypt", limited(post(crypto::encrypt), &quotas.crypto))
        .route("/encrypt/", limited(post(crypto::encrypt), &quotas.crypto))
        .route("/decrypt", limited(post(crypto::decrypt), &quotas.crypto))
        .route("/decrypt/", limited(post(crypto::decrypt), &quotas.crypto))
        .route(
            METRICS_PATH,
            get(crate::metrics::metrics).with_state(metrics.clone()),
        )
        .merge(extra)
        .route_layer(guard.clone())
        .route_layer(auth.layer.clone());
    // Public, through the guard as well (their entries say `Public`): `/token` is limited per
    // client IP, then per username, then served by mlguard-auth's token endpoint.
    let token: MethodRouter<AppState> = token_route(auth.token.clone()).layer(
        ServiceBuilder::new()
            .layer(quotas.token_ip.clone())
            .layer(quotas.token_user.clone()),
    );
    let public = Router::new()
        .route("/token", token)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(crate::openapi::router())
        .route_layer(guard);
    Ok(protected
        .merge(public)
        .layer(Extension(json))
        .layer(from_fn_with_state(metrics.clone(), crate::metrics::track))
        .layer(metrics.refusal_layer())
        .layer(metrics.request_layer())
        .with_state(state))
}

/// The router could not be built: a programming error in the policy, or a limit of 0 (which
/// the configuration already refuses: this is the layer's own check).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An invalid policy, permission or permission map.
    #[error(transparent)]
    Rbac(#[from] RbacError),
    /// An in-flight or shedding limit of 0.
    #[error(transparent)]
    Limits(#[from] LimitsError),
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

/// The complete application: [`api_router`] (no extra routes) inside [`harden`].
///
/// # Errors
/// As [`api_router`] and [`harden`].
pub fn build(
    state: AppState,
    json: JsonConfig,
    quotas: &Quotas,
    auth: &Auth,
    options: &HardeningOptions,
) -> Result<Router, BuildError> {
    build_with(state, json, quotas, auth, options, Router::new())
}

/// [`build`] with `extra` protected routes (see [`api_router`]).
///
/// # Errors
/// As [`build`].
pub fn build_with(
    state: AppState,
    json: JsonConfig,
    quotas: &Quotas,
    auth: &Auth,
    options: &HardeningOptions,
    extra: Router<AppState>,
) -> Result<Router, BuildError> {
    let metrics = Metrics::new(Some(quotas)).with_model_guard(state.model_protection().guard());
    Ok(harden(
        api_router(state, json, quotas, auth, &metrics, extra)?,
        options,
    )?)
}
