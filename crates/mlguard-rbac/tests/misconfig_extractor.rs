//! The `Authorized<P>` extractor with no authentication in front: 500, like the layers (in a
//! binary of its own: tracing caches callsite interest process-wide, and this test emits the
//! error event with no subscriber, which would hide it from `misconfig.rs`'s capture).

mod misconfig_common;

use axum::Router;
use axum::middleware::from_fn;
use axum::routing::post;
use http::StatusCode;
use misconfig_common::{auth, authz, send};
use mlguard_rbac::Authorizer;

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
