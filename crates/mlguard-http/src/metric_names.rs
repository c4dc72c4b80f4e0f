//! The names of the metrics the layers emit (see the crate docs' table).

/// Requests shed by [`crate::limits::ShedLayer`].
pub const SHED: &str = "mlguard_http_shed_total";
/// Requests refused by a [`crate::limits::PerKeyInFlightLayer`], label `cap`.
pub const IN_FLIGHT_REFUSED: &str = "mlguard_http_in_flight_refused_total";
/// Requests answered 408 by [`crate::limits::BodyReadTimeoutLayer`].
pub const BODY_READ_TIMEOUTS: &str = "mlguard_http_body_read_timeouts_total";
/// Requests answered 400 by [`crate::path::CanonicalPathLayer`].
pub const PATH_REFUSED: &str = "mlguard_http_path_refused_total";
/// Connections closed by [`crate::server`] over their address's cap.
pub const CONNECTIONS_REFUSED_PER_ADDRESS: &str = "mlguard_http_connections_refused_total";

/// Log lines dropped by a `log_writer::LogWriter` (feature `subscriber`) because its
/// queue was full: the log sink is stuck or too slow. Raised to the writer's drop count by the
/// write that finds new drops.
pub const LOG_LINES_DROPPED: &str = "mlguard_http_log_lines_dropped_total";

/// Requests seen by [`crate::request_metrics::RequestMetricsLayer`] (default prefix), labels
/// `route`, `method`, `status`.
pub const REQUESTS: &str = "mlguard_http_requests_total";
/// Their durations in seconds, a histogram (default prefix), labels `route`, `method`, `status`.
pub const REQUEST_DURATION: &str = "mlguard_http_request_duration_seconds";

#[cfg(test)]
pub(crate) mod tests {
    use metrics::{
        Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    /// A recorder that only counts counters, by name.
    #[derive(Default)]
    pub(crate) struct CountingRecorder {
        counters: Mutex<HashMap<String, Arc<Count>>>,
    }

    #[derive(Default)]
    pub(crate) struct Count(AtomicU64);

    impl CounterFn for Count {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::Relaxed);
        }
        fn absolute(&self, value: u64) {
            self.0.store(value, Ordering::Relaxed);
        }
    }

    impl CountingRecorder {
        pub(crate) fn get(&self, name: &str) -> u64 {
            let map = self.counters.lock().unwrap();
            map.get(name).map_or(0, |c| c.0.load(Ordering::Relaxed))
        }
    }

    impl Recorder for CountingRecorder {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let mut map = self.counters.lock().unwrap();
            Counter::from_arc(map.entry(key.name().to_owned()).or_default().clone())
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }
}
