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
//! A server's own families (its request counts and durations, its business counters, figures
//! read from other crates at scrape time) go to a [`Registry`] of its own, which renders them
//! with the layers' global families appended: what `GET /metrics` serves.
//!
//! [`DEFAULT_PREFIX`]: crate::request_metrics::DEFAULT_PREFIX

use crate::request_metrics::{DEFAULT_PREFIX, DURATION_BUCKETS, RequestMetricsLayer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The content type of the Prometheus text exposition format, for the `/metrics` answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

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
/// [`RequestMetricsLayer`] with `prefix`: its
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

/// A figure read at scrape time (see [`Registry::on_scrape`]).
type Scrape = Arc<dyn Fn() + Send + Sync>;

/// One server's metrics, for its `/metrics` route: a recorder of its own (two servers in one
/// process count apart), the request families of a [`RequestMetricsLayer`] with its prefix
/// ([`request_layer`](Self::request_layer)), its own counters ([`record`](Self::record)), figures
/// read from other crates when scraped ([`on_scrape`](Self::on_scrape), e.g. a rate limiter's
/// counters), and, appended when rendered, the `mlguard_http_*` families this crate's layers
/// record to the global recorder (installed by [`Registry::new`]). Cheap to clone.
///
/// ```
/// use mlguard_http::prometheus::Registry;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let queue = Arc::new(AtomicU64::new(3));
/// let depth = queue.clone();
/// let registry = Registry::new("svc_http_").on_scrape(move || {
///     metrics::gauge!("svc_queue_depth").set(depth.load(Ordering::Relaxed) as f64);
/// });
/// registry.record(|| metrics::counter!("svc_jobs_total").increment(2));
/// let text = registry.render();
/// assert!(text.contains("svc_jobs_total 2"));
/// assert!(text.contains("svc_queue_depth 3"));
/// // Mount `registry.request_layer()` on the router for the request families.
/// ```
#[derive(Clone)]
pub struct Registry {
    // One `Arc`: a clone (axum clones a router's state for every request) is one atomic add.
    inner: Arc<Inner>,
}

struct Inner {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    prefix: String,
    scrapes: Vec<Scrape>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.inner.prefix)
            .field("scrapes", &self.inner.scrapes.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// A registry whose request families are named `{prefix}requests_total` and
    /// `{prefix}request_duration_seconds` ([`local_recorder`]). Installs the global recorder
    /// ([`install_global`]) now, before the first request, so no layer event is lost.
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        let recorder = Arc::new(local_recorder(prefix));
        let handle = recorder.handle();
        let _ = install_global();
        Self {
            inner: Arc::new(Inner {
                recorder,
                handle,
                prefix: prefix.to_owned(),
                scrapes: Vec::new(),
            }),
        }
    }

    /// Also runs `scrape` at each [`render`](Self::render), with this registry's recorder
    /// current: for figures another component keeps (a gauge set from a count, counters
    /// exported by a rate limiter). Clones made before this call do not run it.
    #[must_use]
    pub fn on_scrape(self, scrape: impl Fn() + Send + Sync + 'static) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            recorder: shared.recorder.clone(),
            handle: shared.handle.clone(),
            prefix: shared.prefix.clone(),
            scrapes: shared.scrapes.clone(),
        });
        inner.scrapes.push(Arc::new(scrape));
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The request counts and durations, into this registry (mount it inside the routing,
    /// where the matched route is known).
    pub fn request_layer(&self) -> RequestMetricsLayer {
        RequestMetricsLayer::new()
            .prefix(&self.inner.prefix)
            .recorder(self.inner.recorder.clone())
    }

    /// Runs `f` with this registry's recorder current: the `metrics` macros in it record here.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        let recorder: &PrometheusRecorder = &self.inner.recorder;
        metrics::with_local_recorder(recorder, f)
    }

    /// The Prometheus text: the scrape-time figures read now, this registry's families, then
    /// the global `mlguard_http_*` ones (each family once).
    pub fn render(&self) -> String {
        self.record(|| self.inner.scrapes.iter().for_each(|scrape| scrape()));
        self.inner.handle.run_upkeep();
        let mut text = self.inner.handle.render();
        text.push_str(&render_global(DEFAULT_PREFIX));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two registries in one process count apart, each runs its own scrape-time figures, and
    /// a clone shares the counts.
    #[test]
    fn registries_count_apart_and_clones_share() {
        let a = Registry::new("a_http_").on_scrape(|| metrics::gauge!("scraped").set(1.0));
        let b = Registry::new("b_http_");
        a.record(|| metrics::counter!("jobs_total").increment(2));
        a.clone().record(|| metrics::counter!("jobs_total").increment(1));
        b.record(|| metrics::counter!("jobs_total").increment(5));
        let (text_a, text_b) = (a.render(), b.render());
        assert!(text_a.contains("jobs_total 3"), "{text_a}");
        assert!(text_a.contains("scraped 1"), "{text_a}");
        assert!(text_b.contains("jobs_total 5"), "{text_b}");
        assert!(!text_b.contains("scraped"), "{text_b}");
        assert_eq!(
            format!("{a:?}"),
            r#"Registry { prefix: "a_http_", scrapes: 1, .. }"#
        );
    }

    /// A clone is one shared `Arc` (axum clones the state for every request); adding a
    /// scrape-time figure to a shared registry leaves the other clones as they were.
    #[test]
    fn clones_share_one_allocation_and_on_scrape_does_not_reach_earlier_clones() {
        let a = Registry::new("c_http_");
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
        let a = a.on_scrape(|| metrics::gauge!("only_in_a").set(1.0));
        assert!(!Arc::ptr_eq(&a.inner, &b.inner));
        assert_eq!((a.inner.scrapes.len(), b.inner.scrapes.len()), (1, 0));
        assert!(a.render().contains("only_in_a 1"));
        // Both still count into the same recorder.
        b.record(|| metrics::counter!("shared_total").increment(1));
        assert!(a.render().contains("shared_total 1"));
    }

    /// The global recorder is installed (the tests of this binary install no other) and
    /// takes `metrics` events; `render_global` gives the families with the prefix, their
    /// `# TYPE` line included, and no other; a registry's text ends with them.
    #[test]
    fn the_global_recorder_renders_the_families_with_the_prefix() {
        assert!(install_global().is_some());
        metrics::counter!("mlguard_http_global_test_total").increment(3);
        metrics::counter!("not_mlguard_global_test_total").increment(1);
        let text = render_global("mlguard_http_global_test");
        assert_eq!(
            text,
            "# TYPE mlguard_http_global_test_total counter\nmlguard_http_global_test_total 3\n"
        );
        let all = render_global(DEFAULT_PREFIX);
        assert!(all.contains("mlguard_http_global_test_total 3\n"), "{all}");
        assert!(!all.contains("not_mlguard"), "{all}");
        let registry = Registry::new("g_http_").render();
        assert!(
            registry.contains("mlguard_http_global_test_total 3\n"),
            "{registry}"
        );
    }

    /// `request_layer` records into the registry, under its prefix, and not globally.
    #[tokio::test]
    async fn the_request_layer_records_into_the_registry_with_its_prefix() {
        use tower::{ServiceBuilder, ServiceExt};
        let registry = Registry::new("layer_test_http_");
        let layer = registry.request_layer();
        assert_eq!(layer.requests_name(), "layer_test_http_requests_total");
        let svc = ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_req: http::Request<()>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(()))
            });
        let req = http::Request::get("/x").body(()).unwrap();
        svc.oneshot(req).await.unwrap();
        let text = registry.render();
        assert!(
            text.contains(r#"layer_test_http_requests_total{route="unmatched",method="GET",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("layer_test_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
