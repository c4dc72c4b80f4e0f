//! A permission check with no authentication layer in front of it is the server's mistake:
//! 500 `server misconfigured` and one logged error naming the fix, never a 401 that tells a
//! client with good credentials to authenticate. A request an authentication layer marked
//! [`Anonymous`] (optional authentication, no credentials) still gets 401.

mod misconfig_common;

mod log_capture;
use axum::Router;
use axum::middleware::from_fn;
use axum::routing::post;
use http::StatusCode;
use log_capture::Buffer;
use misconfig_common::{auth, authz, send};
use mlguard_rbac::RequirePermissionLayer;
use serde_json::Value;

/// The classic ordering mistake: with `route_layer`, the layer added last runs first, so
/// adding the permission after the authentication puts the check in front of it.
#[tokio::test]
async fn permission_outside_authentication_is_a_500_with_a_logged_fix() {
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let wrong = Router::new().route(
        "/predict",
        post(|| async { "setosa" })
            .route_layer(from_fn(auth))
            .route_layer(RequirePermissionLayer::try_new(&authz(), "model:predict").unwrap()),
    );
    for _ in 0..3 {
        let (status, body) = send(&wrong, Some("alice")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert_eq!(body["detail"], "server misconfigured");
    }
    let logs = buf.text();
    let errors: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["level"] == "ERROR" && v["target"] == "mlguard_rbac")
        .collect();
    assert_eq!(errors.len(), 1, "one error, not one per request: {logs}");
    let message = errors[0]["fields"]["message"].as_str().unwrap();
    assert!(message.contains("authentication layer"), "{message}");
    assert!(message.contains("mlguard_core::Anonymous"), "{message}");

    // The right order: the check runs inside the authentication.
    let right = Router::new().route(
        "/predict",
        post(|| async { "setosa" })
            .route_layer(RequirePermissionLayer::try_new(&authz(), "model:predict").unwrap())
            .route_layer(from_fn(auth)),
    );
    assert_eq!(send(&right, Some("alice")).await.0, StatusCode::OK);
    // No credentials under optional authentication: the client's mistake, 401.
    let (status, body) = send(&right, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["detail"], "Not authenticated");
}
