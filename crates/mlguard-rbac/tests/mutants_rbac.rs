//! What `scripts/mutants rbac` (issue 20) found no test reading: the texts that name a
//! requirement or a refusal in logs and errors, the dry-run accessor, and what a permission
//! map reports about itself. Each test fails with its mutant applied (checked by hand).

mod log_capture;
use http::{Method, Request, Response};
use log_capture::Buffer;
use mlguard_rbac::{
    Authorizer, DenyReason, GuardLayer, PermissionMap, Policy, RequirePermissionLayer, RequireRoleLayer,
    Requirement,
};
use serde_json::Value;
use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll, Waker};
use tower::{Layer, Service, ServiceExt};

fn policy() -> Policy {
    Policy::builder()
        .role("user", ["model:predict"])
        .build()
        .expect("a valid policy")
}

/// `Requirement`'s text is what the guard's warnings and `PermissionMap`'s `Debug` print.
#[test]
fn each_requirement_names_itself() {
    let permission = Requirement::Permission("model:predict".parse().expect("a permission"));
    assert_eq!(Requirement::Public.to_string(), "public");
    assert_eq!(Requirement::Authenticated.to_string(), "authenticated");
    assert_eq!(permission.to_string(), "permission model:predict");
    assert_eq!(Requirement::Role("admin".into()).to_string(), "role admin");
}

/// `DenyReason`'s text is its stable log name, the same as `as_str`.
#[test]
fn each_deny_reason_prints_its_stable_name() {
    for (reason, name) in [
        (DenyReason::Unauthenticated, "unauthenticated"),
        (DenyReason::NotGranted, "not_granted"),
        (DenyReason::OutsideScope, "outside_scope"),
        (DenyReason::UnmappedRoute, "unmapped_route"),
    ] {
        assert_eq!(reason.to_string(), name);
        assert_eq!(reason.as_str(), name);
    }
}

#[test]
fn dry_run_is_off_unless_asked_for_and_reported_as_set() {
    let enforcing = Authorizer::new(policy());
    assert!(!enforcing.is_dry_run());
    assert!(enforcing.clone().dry_run(true).is_dry_run());
    assert!(!enforcing.dry_run(true).dry_run(false).is_dry_run());
}

/// `Debug` lists every entry, sorted, with its method (`*` for any) and requirement: what an
/// operator reads to see what the guard enforces.
#[test]
fn a_permission_map_counts_and_lists_its_entries() {
    let map = PermissionMap::builder()
        .permission(Method::POST, "/predict", "model:predict")
        .public(Method::GET, "/health")
        .requirement(None, "/metrics", Requirement::Role("admin".into()))
        .build()
        .expect("a valid map");
    assert_eq!(map.len(), 3);
    assert!(!map.is_empty());
    assert_eq!(
        format!("{map:?}"),
        r#"PermissionMap { routes: ["* /metrics => role admin", "GET /health => public", "POST /predict => permission model:predict"] }"#
    );
    let empty = PermissionMap::builder().build().expect("an empty map");
    assert_eq!(empty.len(), 0);
    assert!(empty.is_empty());
    let one = PermissionMap::builder()
        .authenticated(Method::GET, "/me")
        .build()
        .expect("a valid map");
    assert_eq!(one.len(), 1);
}

/// A builder's `Debug` shows how many entries it holds (not their contents, which are not
/// validated yet).
#[test]
fn a_builder_shows_its_entry_count() {
    let builder = PermissionMap::builder()
        .public(Method::GET, "/health")
        .permission(Method::POST, "/predict", "model:predict");
    assert_eq!(format!("{builder:?}"), "PermissionMapBuilder { entries: 2 }");
}

/// An inner service that is never ready (a full concurrency limit, a closed pool).
#[derive(Clone)]
struct NeverReady;

impl Service<Request<()>> for NeverReady {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Pending
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(Response::new("served".to_owned())))
    }
}

/// The guard passes its inner service's back-pressure on: a guard that said "ready" over a
/// service that is not would make its caller call a service that cannot take the request.
#[test]
fn the_guard_is_ready_only_when_its_inner_service_is() {
    let map = PermissionMap::builder()
        .public(Method::GET, "/health")
        .build()
        .expect("a valid map");
    let layer = GuardLayer::try_new(&Authorizer::new(policy()), map).expect("a valid guard");
    let mut cx = Context::from_waker(Waker::noop());
    let mut guard = layer.layer(NeverReady);
    assert!(guard.poll_ready(&mut cx).is_pending());
    // Control: over a ready service, ready.
    let mut ready = layer.layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    assert!(matches!(ready.poll_ready(&mut cx), Poll::Ready(Ok(()))));
}

/// The per-route layers too (`Authorize`, made by both `RequirePermissionLayer` and
/// `RequireRoleLayer`).
#[test]
fn a_per_route_check_is_ready_only_when_its_inner_service_is() {
    let authz = Authorizer::new(policy());
    let permission = RequirePermissionLayer::try_new(&authz, "model:predict").expect("a permission");
    let role = RequireRoleLayer::try_new(&authz, "user").expect("a defined role");
    let mut cx = Context::from_waker(Waker::noop());
    assert!(permission.layer(NeverReady).poll_ready(&mut cx).is_pending());
    assert!(role.layer(NeverReady).poll_ready(&mut cx).is_pending());
    let mut ready = permission.layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    assert!(matches!(ready.poll_ready(&mut cx), Poll::Ready(Ok(()))));
}

/// The `route` field of the guard's warning for an unmapped path that a client chose: cut at
/// 256 bytes, back to a character boundary when byte 256 falls inside a character.
async fn logged_route(path: &str) -> String {
    let map = PermissionMap::builder().build().expect("an empty map");
    let layer = GuardLayer::try_new(&Authorizer::new(policy()), map).expect("a valid guard");
    let service = layer.layer(tower::service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let request = Request::get(path).body(()).expect("a valid request");
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let response = {
        let _guard = tracing::subscriber::set_default(subscriber);
        service.oneshot(request).await.expect("infallible")
    };
    assert_eq!(response.status(), 403);
    let text = buf.text();
    let event: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["target"] == "mlguard_rbac")
        .expect("the guard's warning");
    event["fields"]["route"]
        .as_str()
        .expect("a route field")
        .to_owned()
}

#[tokio::test]
async fn a_long_unmapped_route_is_logged_cut_at_a_character_boundary() {
    // 255 ASCII bytes, then a 2-byte character across byte 256, then more.
    let path = format!("/{}é{}", "a".repeat(254), "b".repeat(100));
    assert!(!path.is_char_boundary(256));
    assert_eq!(logged_route(&path).await, path[..255]);
    // Control: a path within the bound is logged whole.
    let short = format!("/{}", "c".repeat(100));
    assert_eq!(logged_route(&short).await, short);
}

/// A permission of exactly `MAX_LEN` bytes is valid; one byte more is too long.
#[test]
fn a_permission_may_be_exactly_max_len_bytes_long() {
    use mlguard_rbac::permission::{MAX_LEN, check};
    use mlguard_rbac::{Permission, PermissionError};
    let at_max = format!("model:{}", "p".repeat(MAX_LEN - "model:".len()));
    assert_eq!(at_max.len(), MAX_LEN);
    assert_eq!(check(&at_max), Ok(()));
    assert!(Permission::parse(&at_max).is_ok());
    let over = format!("{at_max}x");
    assert_eq!(check(&over), Err(PermissionError::TooLong));
}

#[test]
fn only_a_permission_with_a_star_segment_is_a_wildcard() {
    use mlguard_rbac::Permission;
    let p = |s: &str| Permission::parse(s).expect("a valid permission");
    assert!(!p("model:predict").is_wildcard());
    assert!(p("model:*").is_wildcard());
    assert!(p("*").is_wildcard());
    assert!(p("*:read").is_wildcard());
}

#[test]
fn a_permission_shows_itself_as_written() {
    use mlguard_rbac::Permission;
    let p = Permission::parse("model:predict").expect("a valid permission");
    let text: &str = p.as_ref();
    assert_eq!(text, "model:predict");
    assert_eq!(p.as_str(), "model:predict");
    assert_eq!(format!("{p:?}"), r#"Permission("model:predict")"#);
}

/// A policy prints its role names, sorted (what an operator checks at start-up).
#[test]
fn a_policy_shows_its_roles_sorted() {
    let policy = Policy::builder()
        .role("user", ["model:predict"])
        .role("admin", ["keys:*"])
        .build()
        .expect("a valid policy");
    assert_eq!(format!("{policy:?}"), r#"Policy { roles: ["admin", "user"] }"#);
}
