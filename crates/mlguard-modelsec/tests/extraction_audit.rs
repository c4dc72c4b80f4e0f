//! The audit event and metric of an extraction alarm. Alone in its own test binary: tracing
//! caches each callsite's interest process-wide, and a test running at the same time on another
//! thread without a subscriber can register the alarm's callsite as uninteresting, which made
//! this test flaky when it shared a binary with the other extraction tests.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use mlguard_core::{ManualClock, Principal};
use mlguard_modelsec::ExtractionAction;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_alarm_is_a_metric_and_an_audit_event_without_the_inputs() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let queries = uniform(8, 60);
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            rt.block_on(async {
                let clock = ManualClock::at_unix(1_800_000_000);
                let d = detector(&clock, ExtractionAction::Degrade, true);
                let eve = Principal::builder("eve@example").build();
                assert!(first_alarm(&d, &eve, &queries).await.is_some());
            });
        });
    });
    let rendered = handle.render();
    assert!(
        rendered.contains(r#"mlguard_extraction_alarms_total{detector="ood_rate",action="degrade"} 1"#),
        "{rendered}"
    );
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let events: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["target"] == "audit" && v["fields"]["event"] == "extraction_alarm")
        .collect();
    assert_eq!(events.len(), 1, "{logs}");
    let f = &events[0]["fields"];
    assert_eq!(f["principal"], "eve@example");
    assert_eq!(f["detector"], "ood_rate");
    assert_eq!(f["statistic"], "ood_fraction");
    assert!(f["value"].as_f64().unwrap() > 0.25);
    // No raw input in any log line: look for the first query's values.
    for v in &queries[0] {
        assert!(!logs.contains(&format!("{v}")), "input value {v} logged");
    }
}
