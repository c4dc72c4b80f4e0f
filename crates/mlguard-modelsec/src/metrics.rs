//! A [`ModelGuard`]'s counters (kept in [`ModelSecStats`]) exported as the families of the
//! [`events`](crate::events) table, into the current `metrics` recorder.
//!
//! The components also record each event to the global recorder as it happens; a server that
//! serves its metrics from a recorder of its own (one per server, as the example's tests start
//! several in one process) calls [`ModelGuard::export_metrics`] at scrape time instead.

use crate::ModelGuard;
use crate::ModelSecStats;
use crate::events::{BUDGET_EXHAUSTED, EXTRACTION_ALARMS, OOD_INPUTS};
use ::metrics::counter;

impl ModelGuard {
    /// Sets `mlguard_extraction_alarms_total{action}`, `mlguard_ood_inputs_total{action}`
    /// and `mlguard_query_budget_exhausted_total` to this guard's counts, in the current
    /// recorder (`metrics::with_local_recorder` for a server's own). A component the guard does
    /// not have reports `action="off"` and 0.
    ///
    /// ```
    /// use metrics_exporter_prometheus::PrometheusBuilder;
    /// use mlguard_modelsec::{ModelGuard, OutputPolicy, OutputPolicyResolver};
    ///
    /// let guard = ModelGuard::builder(OutputPolicyResolver::new(OutputPolicy::LabelOnly)).build();
    /// let recorder = PrometheusBuilder::new().build_recorder();
    /// metrics::with_local_recorder(&recorder, || guard.export_metrics());
    /// let text = recorder.handle().render();
    /// assert!(text.contains(r#"mlguard_extraction_alarms_total{action="off"} 0"#));
    /// assert!(text.contains("mlguard_query_budget_exhausted_total 0"));
    /// ```
    pub fn export_metrics(&self) {
        let (action, alarms) = self.extraction().map_or(("off", 0), |d| {
            (
                d.action().as_str(),
                ModelSecStats::get(&d.stats().extraction_alarms),
            )
        });
        counter!(EXTRACTION_ALARMS, "action" => action).absolute(alarms);
        let (action, ood) = self.envelope().map_or(("off", 0), |e| {
            (e.action().as_str(), ModelSecStats::get(&e.stats().ood_inputs))
        });
        counter!(OOD_INPUTS, "action" => action).absolute(ood);
        let spent = self
            .budget()
            .map_or(0, |b| ModelSecStats::get(&b.stats().budget_exhausted));
        counter!(BUDGET_EXHAUSTED).absolute(spent);
    }
}
