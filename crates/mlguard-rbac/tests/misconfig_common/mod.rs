//! Shared by the misconfiguration test binaries (`misconfig.rs`, `misconfig_extractor.rs`),
//! which stay separate binaries because tracing caches callsite interest process-wide.

use axum::Router;
use axum::body::Body;
use axum::middleware::Next;
use axum::response::Response;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use mlguard_core::{Anonymous, Principal};
use mlguard_rbac::{Authorizer, Policy};
use serde_json::Value;
use tower::ServiceExt;

/// A policy where role `user` may `model:predict`.
pub(crate) fn authz() -> Authorizer {
    Authorizer::new(Policy::builder().role("user", ["model:predict"]).build().unwrap())
}

/// Stand-in authentication: `x-user` becomes a principal with role `user`; without it the
/// request is marked anonymous (optional authentication).
pub(crate) async fn auth(mut req: Request<Body>, next: Next) -> Response {
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

/// `POST /predict` as `user` (or with no user); the status and the JSON body.
pub(crate) async fn send(app: &Router, user: Option<&str>) -> (StatusCode, Value) {
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
