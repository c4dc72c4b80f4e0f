//! The `Authorized<P>` extractor with no authentication in front: 500, like the layers (in a
//! binary of its own: tracing caches callsite interest process-wide, and this test emits the
//! error event with no subscriber, which would hide it from `misconfig.rs`'s capture).

use axum::Router;
use axum::body::Body;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::post;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use mlguard_core::{Anonymous, Principal};
use mlguard_rbac::{Authorizer, Policy};
use serde_json::Value;
use tower::ServiceExt;

fn authz() -> Authorizer {
    Authorizer::new(Policy::builder().role("user", ["model:predict"]).build().unwrap())
}

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

mlguard_rbac::permission_marker!(ModelPredict = "model:predict");

#[derive(Clone, axum::extract::FromRef)]
struct State {
    authz: Authorizer,
}

/// The extractor answers alike: no authentication in front is 500, anonymous is 401.
#[tokio::test]
async fn the_extractor_without_authentication_is_a_500() {
    let handler = |_: mlguard_rbac::Authorized<ModelPredict>| async { "setosa" };
    let bare: Router = Router::new()
        .route("/predict", post(handler))
        .with_state(State { authz: authz() });
    let (status, body) = send(&bare, Some("alice")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["detail"], "server misconfigured");

    let behind_auth: Router = Router::new()
        .route("/predict", post(handler))
        .route_layer(from_fn(auth))
        .with_state(State { authz: authz() });
    assert_eq!(send(&behind_auth, Some("alice")).await.0, StatusCode::OK);
    assert_eq!(send(&behind_auth, None).await.0, StatusCode::UNAUTHORIZED);
}
