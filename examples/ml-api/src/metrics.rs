//! Prometheus metrics: `GET /metrics` on the main listener, behind authentication and the
//! permission `metrics:read` (role `admin` has it), in the Prometheus text format.
//!
//! Why the main listener and not a second one: one port to secure, one TLS setup, and the same
//! credentials as the API (an API key with role `admin` is the scraper's credential:
//! `ml-api apikey create prometheus --role admin`). Scrapers that cannot send a header can be
//! given a key through their `authorization`/`http_headers` settings.
//!
//! The families, their types and labels are listed in one table, in `docs/observability.md`
//! (section "`GET /metrics`"); no name there may change (dashboards and alerts script against them).
//!
//! The refusals (`ml_api_auth_failures_total`, `ml_api_authz_denials_total`,
//! `ml_api_rate_limited_total`) are counted, and 401/403 audited, by mlguard-auth's
//! [`RefusalMetricsLayer`] from the typed reasons the layers put into the responses.
//!
//! The counts are taken at the router, around each route (inside the hardening layers): answers
//! that the outer layers give on their own (413 over the body limit, 408, 503 when shedding, 400
//! for an ambiguous path) are in the access log, not here. The rate-limiter figures are read
//! from mlguard-ratelimit's own counters at scrape time ([`mlguard_ratelimit::metrics::export`]),
//! the `mlguard_*` figures from mlguard-modelsec's ([`mlguard_modelsec::ModelGuard::export_metrics`]).
//!
//! Each server has its own recorder for the `ml_api_*` figures: two servers in one process, as
//! in the tests, count separately. The crates' layers record their own metrics (the
//! `mlguard_http_*` table in mlguard-http's docs) through the `metrics` facade, to the
//! process-wide Prometheus recorder that the first server installs
//! ([`mlguard_http::prometheus`]); those
//! families are appended to every server's `/metrics` and are counted per process. If the
//! embedding program installed a global recorder of its own first, they go to that one.

use crate::quotas::Quotas;
use crate::routes::predict::PredictedClasses;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use metrics::counter;
use mlguard_auth::refusals::RefusalMetricsLayer;
use mlguard_core::Principal;
use mlguard_http::prometheus::Registry;
use mlguard_http::request_metrics::RequestMetricsLayer;
use mlguard_ratelimit::RateLimiter;

/// Where the metrics are served.
pub const METRICS_PATH: &str = "/metrics";
/// The Prometheus text exposition format.
pub const CONTENT_TYPE_TEXT: &str = mlguard_http::prometheus::CONTENT_TYPE;
/// Prefix of the request count and duration families ([`RequestMetricsLayer::prefix`]).
pub const HTTP_PREFIX: &str = "ml_api_http_";
/// Prefix of the metric families of mlguard-http's layers.
pub const LAYER_PREFIX: &str = mlguard_http::request_metrics::DEFAULT_PREFIX;
/// Route label of requests no route matched.
pub const UNMATCHED: &str = mlguard_http::request_metrics::UNMATCHED;

/// The server's metrics: mlguard-http's [`Registry`] with the rate limiters' and the model
/// guard's counters read at scrape time. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// A fresh recorder; the limiters of `quotas` are exported at each scrape.
    ///
    /// ```
    /// let metrics = ml_api::metrics::Metrics::new(None);
    /// metrics.record_prediction("setosa");
    /// assert!(metrics.render().contains(r#"ml_api_predictions_total{class="setosa"} 1"#));
    /// ```
    pub fn new(quotas: Option<&Quotas>) -> Self {
        let registry = Registry::new(HTTP_PREFIX);
        let Some(q) = quotas else {
            return Self { registry };
        };
        let limiters: Vec<(&'static str, RateLimiter)> = vec![
            ("token-ip", q.token_ip.limiter().clone()),
            ("token-user", q.token_user.limiter().clone()),
            ("predict", q.predict.limiter().clone()),
            ("crypto", q.crypto.limiter().clone()),
        ];
        let registry = registry.on_scrape(move || {
            for (policy, limiter) in &limiters {
                mlguard_ratelimit::metrics::export(limiter, "ml_api_", policy);
            }
        });
        Self { registry }
    }

    /// Exports `guard`'s counters (extraction alarms, out-of-distribution rows, spent budgets)
    /// at each scrape. Call before the metrics are shared (clones made before do not export them).
    #[must_use]
    pub fn with_model_guard(self, guard: &mlguard_modelsec::ModelGuard) -> Self {
        let guard = guard.clone();
        Self {
            registry: self.registry.on_scrape(move || guard.export_metrics()),
        }
    }

    /// Request counts and durations by route, method and status, into this server's recorder.
    /// Mount it with `Router::layer` (inside the routing, where the matched path is known).
    pub fn request_layer(&self) -> RequestMetricsLayer {
        self.registry.request_layer()
    }

    /// Counts one prediction of `class`.
    pub fn record_prediction(&self, class: &str) {
        let class = class.to_owned();
        self.registry
            .record(|| counter!("ml_api_predictions_total", "class" => class).increment(1));
    }

    /// The Prometheus text, with the rate limiters' counters read now.
    pub fn render(&self) -> String {
        self.registry.render()
    }

    /// The refusals (401 by reason, 403, 429, refused logins) counted by route into this
    /// server's recorder as `ml_api_*`, and audited: mlguard-auth's [`RefusalMetricsLayer`].
    /// Mount it with `Router::layer` (inside the routing, where the matched path is known).
    pub fn refusal_layer(&self) -> RefusalMetricsLayer {
        let registry = self.registry.clone();
        RefusalMetricsLayer::new("ml_api_").record_with(move |emit| registry.record(emit))
    }
}

/// The middleware: counts the classes of successful predictions (refusals:
/// [`Metrics::refusal_layer`]; request counts and durations: [`Metrics::request_layer`]).
/// Mount it with `Router::layer`.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    // Set by the prediction handlers: the classes answered, not a re-parse of the answer.
    if let Some(PredictedClasses(classes)) = response.extensions().get() {
        classes.iter().for_each(|class| metrics.record_prediction(class));
    }
    response
}

/// `GET /metrics`: the Prometheus text. Needs `metrics:read`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    operation_id = "metrics",
    summary = "Prometheus metrics (needs metrics:read)",
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain; version=0.0.4"),
    ),
    security(("oauth2_password" = []), ("bearer_jwt" = []), ("api_key" = []))
)]
pub async fn metrics(State(metrics): State<Metrics>, _principal: Principal) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_TEXT))],
        metrics.render(),
    )
}
