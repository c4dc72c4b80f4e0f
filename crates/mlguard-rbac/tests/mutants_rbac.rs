//! What `scripts/mutants rbac` (issue 20) found no test reading: the texts that name a
//! requirement or a refusal in logs and errors, the dry-run accessor, and what a permission
//! map reports about itself. Each test fails with its mutant applied (checked by hand).

use http::Method;
use mlguard_rbac::{Authorizer, DenyReason, PermissionMap, Policy, Requirement};

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
