//! `RequestMetricsLayer` against a real Prometheus recorder: names, labels (route template,
//! never the raw path), unmatched routes, errors, and the prefix that keeps a service's names.
#![cfg(feature = "axum")]

use axum::Router;
use axum::body::Body;
use axum::routing::{any, get};
use http::{Request, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use mlguard_http::request_metrics::{RequestMetricsLayer, UNMATCHED};
use std::sync::Arc;
use tower::ServiceExt;

fn recorder() -> (
    Arc<metrics_exporter_prometheus::PrometheusRecorder>,
    PrometheusHandle,
) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    (Arc::new(recorder), handle)
}

async fn send(app: &Router, method: &str, uri: &str) -> StatusCode {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn counts_by_route_template_method_and_status_with_the_given_prefix() {
    let (rec, handle) = recorder();
    let layer = RequestMetricsLayer::new().prefix("app_http_").recorder(rec);
    assert_eq!(layer.requests_name(), "app_http_requests_total");
    assert_eq!(layer.duration_name(), "app_http_request_duration_seconds");
    let app = Router::new()
        .route("/users/{id}", get(|| async { "hi" }))
        .layer(layer);
    assert_eq!(send(&app, "GET", "/users/7").await, StatusCode::OK);
    assert_eq!(send(&app, "GET", "/users/8").await, StatusCode::OK);
    assert_eq!(
        send(&app, "POST", "/users/8").await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(send(&app, "GET", "/scanner/probe").await, StatusCode::NOT_FOUND);
    assert_eq!(
        send(&app, "BREW", "/users/8").await,
        StatusCode::METHOD_NOT_ALLOWED
    );

    let text = handle.render();
    for line in [
        r#"app_http_requests_total{route="/users/{id}",method="GET",status="200"} 2"#,
        r#"app_http_requests_total{route="/users/{id}",method="POST",status="405"} 1"#,
        r#"app_http_requests_total{route="/users/{id}",method="OTHER",status="405"} 1"#,
        r#"app_http_request_duration_seconds_count{route="/users/{id}",method="GET",status="200"} 2"#,
    ] {
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    assert!(
        text.contains(&format!(
            r#"app_http_requests_total{{route="{UNMATCHED}",method="GET",status="404"}} 1"#
        )),
        "{text}"
    );
    // Raw paths never become labels.
    assert!(!text.contains("/users/7") && !text.contains("/scanner"), "{text}");
    assert!(!text.contains("mlguard_http_"), "{text}");
}

#[tokio::test]
async fn a_closure_names_routes_and_service_errors_count_as_500() {
    let (rec, handle) = recorder();
    let layer = RequestMetricsLayer::new()
        .recorder(rec)
        .route_label(|uri, _| uri.path().starts_with("/api/").then(|| "api".to_owned()));
    let failing = tower::service_fn(|_req: Request<Body>| async {
        Err::<http::Response<Body>, std::io::Error>(std::io::Error::other("down"))
    });
    let svc = tower::Layer::layer(&layer, failing);
    let req = Request::builder().uri("/api/x").body(Body::empty()).unwrap();
    assert!(svc.oneshot(req).await.is_err());

    let text = handle.render();
    assert!(
        text.contains(r#"mlguard_http_requests_total{route="api",method="GET",status="500"} 1"#),
        "{text}"
    );
}

/// Each standard method has its own label; any other is `OTHER`.
#[tokio::test]
async fn each_standard_method_has_its_own_label() {
    let (rec, handle) = recorder();
    let app = Router::new()
        .route("/any", any(|| async { "ok" }))
        .layer(RequestMetricsLayer::new().recorder(rec));
    let methods = [
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "BREW",
    ];
    for method in methods {
        assert_eq!(send(&app, method, "/any").await, StatusCode::OK, "{method}");
    }
    let text = handle.render();
    for label in ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"] {
        let line = format!(r#"mlguard_http_requests_total{{route="/any",method="{label}",status="200"}} 1"#);
        assert!(text.contains(&line), "{line} missing in\n{text}");
    }
    // TRACE and BREW.
    assert!(
        text.contains(r#"mlguard_http_requests_total{route="/any",method="OTHER",status="200"} 2"#),
        "{text}"
    );
}
