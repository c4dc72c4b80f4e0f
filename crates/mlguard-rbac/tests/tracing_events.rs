//! Every decision emits one `tracing` event with the subject, the permission and the outcome,
//! and never a credential. Captured with a real `tracing-subscriber` JSON formatter.

mod log_capture;
use log_capture::Buffer;
use mlguard_core::{AuthMethod, Principal};
use mlguard_rbac::{Authorizer, Policy, Requirement};
use serde_json::Value;

/// Runs `f` under a JSON subscriber at DEBUG and returns the events of target `mlguard_rbac`.
fn capture(f: impl FnOnce()) -> Vec<Value> {
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    buf.text()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["target"] == "mlguard_rbac")
        .collect()
}

fn policy() -> Policy {
    Policy::builder()
        .role("user", ["model:predict"])
        .role("admin", ["keys:*"])
        .inherit("admin", "user")
        .build()
        .unwrap()
}

fn bearer(roles: &[&str]) -> Principal {
    Principal::builder("alice")
        .roles(roles.iter().copied())
        .method(AuthMethod::Bearer {
            token_id: Some("jti-must-not-be-logged".into()),
        })
        .build()
}

fn api_key(roles: &[&str]) -> Principal {
    Principal::builder("svc-1")
        .roles(roles.iter().copied())
        .method(AuthMethod::ApiKey {
            key_id: "key-id-must-not-be-logged".into(),
        })
        .build()
}

fn need(p: &str) -> Requirement {
    Requirement::Permission(p.parse().unwrap())
}

#[test]
fn allow_and_deny_events_carry_subject_permission_outcome() {
    let authz = Authorizer::new(policy());
    let events = capture(|| {
        assert!(
            authz
                .rejection(Some(&bearer(&["user"])), &need("model:predict"))
                .is_none()
        );
        assert!(
            authz
                .rejection(Some(&api_key(&["user"])), &need("keys:create"))
                .is_some()
        );
        assert!(authz.rejection(None, &need("model:predict")).is_some());
    });
    assert_eq!(events.len(), 3, "{events:#?}");

    let allow = &events[0];
    assert_eq!(allow["level"], "DEBUG");
    assert_eq!(allow["fields"]["subject"], "alice");
    assert_eq!(allow["fields"]["permission"], "model:predict");
    assert_eq!(allow["fields"]["outcome"], "allow");
    assert_eq!(allow["fields"]["auth"], "bearer");
    assert_eq!(allow["fields"]["dry_run"], false);
    assert!(allow["fields"].get("reason").is_none());

    let deny = &events[1];
    assert_eq!(deny["level"], "INFO");
    assert_eq!(deny["fields"]["subject"], "svc-1");
    assert_eq!(deny["fields"]["permission"], "keys:create");
    assert_eq!(deny["fields"]["outcome"], "deny");
    assert_eq!(deny["fields"]["reason"], "not_granted");
    assert_eq!(deny["fields"]["auth"], "api_key");

    let anonymous = &events[2];
    assert!(anonymous["fields"].get("subject").is_none());
    assert_eq!(anonymous["fields"]["reason"], "unauthenticated");

    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("jti-must-not-be-logged"), "{all}");
    assert!(!all.contains("key-id-must-not-be-logged"), "{all}");
}

#[test]
fn dry_run_logs_the_decision_it_would_have_made() {
    let authz = Authorizer::new(policy()).dry_run(true);
    let events = capture(|| {
        assert!(
            authz
                .rejection(Some(&bearer(&["user"])), &need("keys:create"))
                .is_none()
        );
        assert!(
            authz
                .rejection(Some(&bearer(&["admin"])), &need("keys:create"))
                .is_none()
        );
    });
    assert_eq!(events.len(), 2);
    let would_deny = &events[0];
    assert_eq!(would_deny["level"], "WARN");
    assert_eq!(would_deny["fields"]["outcome"], "deny");
    assert_eq!(would_deny["fields"]["reason"], "not_granted");
    assert_eq!(would_deny["fields"]["dry_run"], true);
    assert_eq!(would_deny["fields"]["permission"], "keys:create");
    assert!(
        would_deny["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("dry run"),
        "{would_deny}"
    );
    assert_eq!(events[1]["fields"]["outcome"], "allow");
    assert_eq!(events[1]["fields"]["dry_run"], true);
}

/// Needs the `axum` feature: the guard reads axum's `MatchedPath` (`/models/{id}`).
#[cfg(feature = "axum")]
mod with_axum {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use http::{Method, Request, StatusCode};
    use mlguard_rbac::{GuardLayer, PermissionMap, RequirePermissionLayer};
    use tower::ServiceExt;

    #[test]
    fn layers_and_guard_log_method_route_and_unmapped_routes() {
        let authz = Authorizer::new(policy());
        let map = PermissionMap::builder()
            .permission(Method::GET, "/models/{id}", "model:predict")
            .build()
            .unwrap();
        let app = Router::new()
            .route("/models/{id}", get(|| async { "m" }))
            .route(
                "/predict",
                post(|| async { "p" })
                    .layer(RequirePermissionLayer::try_new(&authz, "model:predict").unwrap()),
            )
            .layer(GuardLayer::try_new(&authz, map).unwrap());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let send = |method: &str, path: &str| {
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            req.extensions_mut().insert(bearer(&["user"]));
            rt.block_on(app.clone().oneshot(req)).unwrap().status()
        };
        let events = capture(|| {
            assert_eq!(send("GET", "/models/iris"), StatusCode::OK);
            assert_eq!(send("POST", "/predict"), StatusCode::FORBIDDEN);
        });
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_eq!(events[0]["fields"]["route"], "/models/{id}");
        assert_eq!(events[0]["fields"]["method"], "GET");
        assert_eq!(events[0]["fields"]["outcome"], "allow");
        assert_eq!(events[1]["level"], "WARN");
        assert_eq!(events[1]["fields"]["reason"], "unmapped_route");
        assert_eq!(events[1]["fields"]["route"], "/predict");
        assert_eq!(events[1]["fields"]["subject"], "alice");
        assert_eq!(events[1]["fields"]["requirement"], "none (unmapped route)");
        assert_eq!(events[0]["fields"]["requirement"], "permission");
        // A long client-chosen path is cut before it reaches the logs.
        let long = format!("/{}", "a".repeat(5000));
        let events = capture(|| assert_eq!(send("GET", &long), StatusCode::FORBIDDEN));
        assert_eq!(events[0]["fields"]["route"].as_str().unwrap().len(), 256);
    }
}
