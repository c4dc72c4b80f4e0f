//! The process-wide Prometheus recorder that this crate's layers (and any other `metrics`
//! facade user) record to, for a server that serves `/metrics` itself (feature `prometheus`).
//!
//! [`install_global`] installs it once, before the first request, so no layer event is lost;
//! when the program had installed another global recorder first, the layers' metrics go to that
//! one and [`render_global`] returns nothing (a warning says so, once). A server that keeps its
//! own registry beside it appends [`render_global`]`(`[`DEFAULT_PREFIX`]`)`, the `mlguard_http_*`
//! families, to its own text, so a family is never written twice.
//!
//! ```
//! use mlguard_http::prometheus::{install_global, render_global};
//! use mlguard_http::request_metrics::DEFAULT_PREFIX;
//! assert!(install_global().is_some());
//! metrics::counter!("mlguard_http_doc_total").increment(1);
//! metrics::counter!("other_total").increment(1);
//! let text = render_global(DEFAULT_PREFIX);
//! assert!(text.contains("mlguard_http_doc_total 1"));
//! assert!(!text.contains("other_total"));
//! ```
//!
//! [`DEFAULT_PREFIX`]: crate::request_metrics::DEFAULT_PREFIX

use crate::request_metrics::DURATION_BUCKETS;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::sync::OnceLock;

/// The global recorder's handle: installed by the first call, `None` when the program had
/// installed another global recorder (logged once).
pub fn install_global() -> Option<&'static PrometheusHandle> {
    static GLOBAL: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "another global metrics recorder is installed: the mlguard_http_* metrics go to it, not to /metrics");
                None
            }
        })
        .as_ref()
}

/// The families of the global recorder whose names start with `prefix`, in the Prometheus
/// text format (their `# HELP` and `# TYPE` lines included); empty without the recorder.
pub fn render_global(prefix: &str) -> String {
    let Some(handle) = install_global() else {
        return String::new();
    };
    handle.run_upkeep();
    let family = |line: &str| {
        let line = line
            .strip_prefix("# TYPE ")
            .or_else(|| line.strip_prefix("# HELP "))
            .unwrap_or(line);
        line.starts_with(prefix)
    };
    handle
        .render()
        .lines()
        .filter(|l| family(l))
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// A recorder of a server's own (not installed globally) for a
/// [`RequestMetricsLayer`](crate::request_metrics::RequestMetricsLayer) with `prefix`: its
/// `{prefix}request_duration_seconds` histogram gets the [`DURATION_BUCKETS`].
///
/// ```
/// use mlguard_http::prometheus::local_recorder;
/// let recorder = local_recorder("svc_http_");
/// metrics::with_local_recorder(&recorder, || {
///     metrics::histogram!("svc_http_request_duration_seconds").record(0.003);
/// });
/// assert!(recorder.handle().render().contains(r#"svc_http_request_duration_seconds_bucket{le="0.005"} 1"#));
/// ```
pub fn local_recorder(prefix: &str) -> PrometheusRecorder {
    let duration = Matcher::Full(format!("{prefix}request_duration_seconds"));
    PrometheusBuilder::new()
        .set_buckets_for_metric(duration, &DURATION_BUCKETS)
        // Only an empty bucket list is refused; DURATION_BUCKETS is a non-empty constant.
        .unwrap_or_else(|_| PrometheusBuilder::new())
        .build_recorder()
}
