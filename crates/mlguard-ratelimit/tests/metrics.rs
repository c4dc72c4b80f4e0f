//! `mlguard_ratelimit::metrics::export`: a limiter's decisions, counted by the layer, reach a
//! Prometheus recorder under the documented names, with the server's prefix and policy label.

mod common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode};
use metrics_exporter_prometheus::PrometheusBuilder;
use mlguard_ratelimit::{KeyExtractor, RateLimitLayer, metrics::export};

#[tokio::test]
async fn allowed_and_rejected_decisions_are_exported_under_the_prefix() {
    let layer = RateLimitLayer::builder()
        .quota("1/minute")
        .key(KeyExtractor::global())
        .build()
        .unwrap();
    let svc = service(&layer);
    assert_eq!(status(&svc, Request::new(Body::empty())).await, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(
            status(&svc, Request::new(Body::empty())).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || export(layer.limiter(), "svc_", "predict"));
    let text = recorder.handle().render();
    for line in [
        r#"svc_ratelimit_decisions_total{policy="predict",decision="allowed"} 1"#,
        r#"svc_ratelimit_decisions_total{policy="predict",decision="rejected"} 2"#,
        r#"svc_ratelimit_backend_errors_total{policy="predict"} 0"#,
        r#"svc_ratelimit_fallback_decisions_total{policy="predict"} 0"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}
