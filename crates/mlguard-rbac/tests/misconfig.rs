//! A permission check with no authentication layer in front of it is the server's mistake:
//! 500 `server misconfigured` and one logged error naming the fix, never a 401 that tells a
//! client with good credentials to authenticate. A request an authentication layer marked
//! [`Anonymous`] (optional authentication, no credentials) still gets 401.

use axum::Router;
use axum::body::Body;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::post;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use mlguard_core::{Anonymous, Principal};
use mlguard_rbac::{Authorizer, Policy, RequirePermissionLayer};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn authz() -> Authorizer {
    Authorizer::new(Policy::builder().role("user", ["model:predict"]).build().unwrap())
}

/// Stand-in authentication: `x-user` becomes a principal with role `user`; without it the
/// request is marked anonymous (optional authentication).
async fn auth(mut req: Request<Body>, next: Next) -> Response {
    let user = req
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match user {
        Some(user) => {
            req.extensions_mut()
                .insert(Principal::builder(user).role("user").build());
        }
        None => {
            req.extensions_mut().insert(Anonymous);
        }
    }
    next.run(req).await
}

async fn send(app: &Router, user: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::post("/predict");
    if let Some(user) = user {
        req = req.header("x-user", user);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

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
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
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
