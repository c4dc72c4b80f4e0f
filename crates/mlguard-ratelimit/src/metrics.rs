//! A limiter's counters as Prometheus-style metrics, through the [`metrics`] facade.
//!
//! The limiter counts its decisions in [`RateLimitStats`](crate::RateLimitStats) (lock-free,
//! always on); [`export`] copies them into whatever recorder is current, as absolute counter
//! values, so a server calls it at scrape time (or from a timer) for each of its limiters and
//! gets the same families whichever recorder it uses.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `{prefix}ratelimit_decisions_total` | counter | `policy`, `decision` (`allowed`, `rejected`) |
//! | `{prefix}ratelimit_backend_errors_total` | counter | `policy`: Redis calls that failed or timed out |
//! | `{prefix}ratelimit_fallback_decisions_total` | counter | `policy`: decided locally because Redis failed |
//!
//! `prefix` is [`DEFAULT_PREFIX`] (`mlguard_`) unless the server keeps names of its own (the
//! example server exports `ml_api_ratelimit_*`). The `policy` label is the name the server gives
//! the limiter (`token-ip`, `predict`): never a key, so the label set stays small.

use crate::RateLimiter;
use ::metrics::counter;

/// The prefix of the families when the server has none of its own.
pub const DEFAULT_PREFIX: &str = "mlguard_";

/// Sets the families of the [module table](self) for `limiter`, labelled `policy`, in the
/// current recorder (`metrics::with_local_recorder` for a recorder of the server's own).
///
/// ```
/// use metrics_exporter_prometheus::PrometheusBuilder;
/// use mlguard_ratelimit::{RateLimitLayer, metrics::{DEFAULT_PREFIX, export}};
///
/// let layer = RateLimitLayer::builder().quota("5/minute").build().unwrap();
/// let recorder = PrometheusBuilder::new().build_recorder();
/// metrics::with_local_recorder(&recorder, || export(layer.limiter(), DEFAULT_PREFIX, "login"));
/// let text = recorder.handle().render();
/// assert!(text.contains(r#"mlguard_ratelimit_decisions_total{policy="login",decision="allowed"} 0"#));
/// assert!(text.contains(r#"mlguard_ratelimit_backend_errors_total{policy="login"} 0"#));
/// ```
pub fn export(limiter: &RateLimiter, prefix: &str, policy: &str) {
    let s = limiter.stats().snapshot();
    let policy = policy.to_owned();
    counter!(format!("{prefix}ratelimit_backend_errors_total"), "policy" => policy.clone())
        .absolute(s.backend_errors);
    counter!(format!("{prefix}ratelimit_fallback_decisions_total"), "policy" => policy.clone())
        .absolute(s.fallback_decisions);
    let decisions = format!("{prefix}ratelimit_decisions_total");
    counter!(decisions.clone(), "policy" => policy.clone(), "decision" => "allowed").absolute(s.allowed);
    counter!(decisions, "policy" => policy, "decision" => "rejected").absolute(s.rejected);
}
