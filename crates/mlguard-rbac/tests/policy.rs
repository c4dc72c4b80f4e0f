//! Policy building, validation, inheritance, wildcards and scope narrowing.

use mlguard_core::{AuthMethod, Principal};
use mlguard_rbac::{Decision, DenyReason, Permission, Policy, PolicyConfig, RbacError};

fn p(s: &str) -> Permission {
    Permission::parse(s).unwrap()
}

fn file_policy() -> Policy {
    Policy::from_toml_file(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.toml")).unwrap()
}

fn who(roles: &[&str]) -> Principal {
    Principal::builder("alice").roles(roles.iter().copied()).build()
}

fn scoped(roles: &[&str], scopes: &[&str]) -> Principal {
    Principal::builder("alice")
        .roles(roles.iter().copied())
        .scopes(scopes.iter().copied())
        .method(AuthMethod::Bearer { token_id: None })
        .build()
}

#[test]
fn multi_level_inheritance_from_toml() {
    let policy = file_policy();
    let cases = [
        // (role, permission, allowed)
        ("guest", "model:read", true),
        ("guest", "model:predict", false),
        ("user", "model:read", true),
        ("user", "model:predict", true),
        ("user", "metrics:scrape", false),
        ("operator", "model:read", true), // two levels up
        ("operator", "metrics:scrape", true),
        ("operator", "keys:create", false),
        ("admin", "model:read", true), // three levels up
        ("admin", "metrics:scrape", true),
        ("admin", "keys:create", true),
        ("admin", "crypto:decrypt", true),
        ("admin", "crypto:encrypt", false),
        ("auditor", "keys:read", true),
        ("auditor", "keys:create", false),
        ("root", "anything:at:all", true),
    ];
    for (role, perm, want) in cases {
        assert_eq!(
            policy.is_allowed(&who(&[role]), &p(perm)).is_allowed(),
            want,
            "{role} -> {perm}"
        );
    }
    assert!(policy.role_includes("admin", "guest"));
    assert!(policy.role_includes("admin", "admin"));
    assert!(!policy.role_includes("guest", "admin"));
    assert!(!policy.role_includes("auditor", "guest"));
}

#[test]
fn inheritance_does_not_flow_downwards_or_sideways() {
    let policy = Policy::builder()
        .role("a", ["x:a"])
        .role("b", ["x:b"])
        .role("c", ["x:c"])
        .inherit("b", "a")
        .inherit("c", "a")
        .build()
        .unwrap();
    assert!(policy.is_allowed(&who(&["b"]), &p("x:a")).is_allowed());
    assert!(!policy.is_allowed(&who(&["a"]), &p("x:b")).is_allowed());
    assert!(!policy.is_allowed(&who(&["b"]), &p("x:c")).is_allowed());
    // Several roles: the union.
    assert!(policy.is_allowed(&who(&["b", "c"]), &p("x:c")).is_allowed());
}

#[test]
fn diamond_inheritance_is_not_a_cycle() {
    let policy = Policy::builder()
        .role("base", ["x:base"])
        .role("l", [] as [&str; 0])
        .role("r", [] as [&str; 0])
        .role("top", [] as [&str; 0])
        .inherit("l", "base")
        .inherit("r", "base")
        .inherit("top", "l")
        .inherit("top", "r")
        .build()
        .unwrap();
    assert!(policy.is_allowed(&who(&["top"]), &p("x:base")).is_allowed());
}

#[test]
fn cycles_are_rejected_with_the_loop() {
    let self_loop = Policy::builder().role("a", ["x:y"]).inherit("a", "a").build();
    match self_loop {
        Err(RbacError::InheritanceCycle { cycle }) => assert_eq!(cycle, ["a", "a"]),
        other => panic!("{other:?}"),
    }
    let three = Policy::builder()
        .role("a", ["x:y"])
        .role("b", ["x:y"])
        .role("c", ["x:y"])
        .role("d", ["x:y"])
        .inherit("d", "a")
        .inherit("a", "b")
        .inherit("b", "c")
        .inherit("c", "a")
        .build();
    match three {
        Err(RbacError::InheritanceCycle { cycle }) => {
            assert_eq!(cycle.first(), cycle.last());
            assert_eq!(cycle.len(), 4);
            for r in ["a", "b", "c"] {
                assert!(cycle.iter().any(|c| c == r), "{cycle:?}");
            }
            let msg = RbacError::InheritanceCycle { cycle }.to_string();
            assert!(msg.contains(" -> "), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let toml = "[roles.a]\ninherits = [\"b\"]\n[roles.b]\ninherits = [\"a\"]\n";
    assert!(matches!(
        Policy::from_toml_str(toml),
        Err(RbacError::InheritanceCycle { .. })
    ));
}

#[test]
fn unknown_roles_in_inheritance_are_rejected() {
    let err = Policy::builder()
        .role("admin", ["x:y"])
        .inherit("admin", "usr")
        .build()
        .unwrap_err();
    match err {
        RbacError::UnknownRole { role, referenced_by } => {
            assert_eq!(role, "usr");
            assert!(referenced_by.contains("admin"));
        }
        other => panic!("{other:?}"),
    }
    // The inheriting role itself must exist too.
    let err = Policy::builder()
        .role("user", ["x:y"])
        .inherit("ghost", "user")
        .build();
    assert!(matches!(err, Err(RbacError::UnknownRole { role, .. }) if role == "ghost"));
    let err = Policy::from_toml_str("[roles.admin]\ninherits = [\"nobody\"]\n");
    assert!(matches!(err, Err(RbacError::UnknownRole { role, .. }) if role == "nobody"));
}

#[test]
fn malformed_permissions_in_a_policy_are_rejected() {
    for bad in [
        "",
        "model",
        "Model:predict",
        "model:pred*",
        "model::x",
        " model:x",
        "model:x\n",
    ] {
        let err = Policy::builder()
            .role("user", ["ok:fine", bad])
            .build()
            .unwrap_err();
        match err {
            RbacError::InvalidPermission {
                permission, context, ..
            } => {
                assert_eq!(permission, bad);
                assert!(context.contains("user"));
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let toml = "[roles.user]\npermissions = [\"model:Predict\"]\n";
    assert!(matches!(
        Policy::from_toml_str(toml),
        Err(RbacError::InvalidPermission { .. })
    ));
}

#[test]
fn bad_role_names_duplicates_and_unknown_toml_keys() {
    for bad in ["", "has space", "a:b", "é", &"r".repeat(65)] {
        assert!(
            matches!(
                Policy::builder().role(bad, ["x:y"]).build(),
                Err(RbacError::InvalidRoleName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Policy::builder().role("a", ["x:y"]).role("a", ["x:z"]).build(),
        Err(RbacError::DuplicateRole { .. })
    ));
    // A misspelt key is an error, not a role that silently inherits nothing.
    assert!(matches!(
        Policy::from_toml_str("[roles.admin]\ninherit = [\"user\"]\n"),
        Err(RbacError::Toml(_))
    ));
    assert!(matches!(
        Policy::from_toml_str("[role.admin]\n"),
        Err(RbacError::Toml(_))
    ));
    assert!(matches!(
        Policy::from_toml_file("/nonexistent/policy.toml"),
        Err(RbacError::Io { .. })
    ));
}

#[test]
fn toml_and_builder_agree() {
    let from_toml = file_policy();
    let cfg: PolicyConfig = toml::from_str(include_str!("data/policy.toml")).unwrap();
    let from_cfg = cfg.build().unwrap();
    assert_eq!(
        from_toml.roles(),
        ["admin", "auditor", "guest", "operator", "root", "user"]
    );
    for role in from_toml.roles() {
        assert_eq!(
            from_toml.role_permissions(role),
            from_cfg.role_permissions(role),
            "{role}"
        );
    }
    let names: Vec<String> = from_toml
        .role_permissions("operator")
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(names, ["keys:read", "metrics:*", "model:predict", "model:read"]);
}

#[test]
fn wildcards_in_roles() {
    let policy = Policy::builder()
        .role("modeler", ["model:*"])
        .role("reader", ["*:read"])
        .role("god", ["*"])
        .build()
        .unwrap();
    let cases = [
        ("modeler", "model:predict", true),
        ("modeler", "model:iris:predict", true),
        ("modeler", "models:predict", false),
        ("modeler", "model:*", true),
        ("modeler", "*", false),
        ("reader", "keys:read", true),
        ("reader", "keys:write", false),
        ("god", "keys:write", true),
        ("god", "*", true),
    ];
    for (role, perm, want) in cases {
        assert_eq!(
            policy.is_allowed(&who(&[role]), &p(perm)).is_allowed(),
            want,
            "{role} {perm}"
        );
    }
}

#[test]
fn scope_narrows_and_never_widens() {
    let policy = file_policy();
    let cases: &[(&[&str], &[&str], &str, Decision)] = &[
        // An admin token scoped to predicting can predict ...
        (&["admin"], &["model:predict"], "model:predict", Decision::Allow),
        // ... and nothing else its roles allow.
        (
            &["admin"],
            &["model:predict"],
            "keys:create",
            Decision::Deny(DenyReason::OutsideScope),
        ),
        (
            &["admin"],
            &["model:predict"],
            "model:read",
            Decision::Deny(DenyReason::OutsideScope),
        ),
        // Wildcard scopes.
        (&["admin"], &["model:*"], "model:read", Decision::Allow),
        (&["admin"], &["*"], "keys:create", Decision::Allow),
        (
            &["admin"],
            &["keys:*", "model:read"],
            "keys:delete",
            Decision::Allow,
        ),
        // The scope cannot add what the roles lack.
        (
            &["user"],
            &["*"],
            "keys:create",
            Decision::Deny(DenyReason::NotGranted),
        ),
        (
            &["user"],
            &["keys:create"],
            "keys:create",
            Decision::Deny(DenyReason::NotGranted),
        ),
        // Empty scope: nothing.
        (
            &["admin"],
            &[],
            "model:read",
            Decision::Deny(DenyReason::OutsideScope),
        ),
        // Entries that are not permissions match nothing.
        (
            &["admin"],
            &["openid", "profile", "Model:Read"],
            "model:read",
            Decision::Deny(DenyReason::OutsideScope),
        ),
        (
            &["admin"],
            &["openid", "model:read"],
            "model:read",
            Decision::Allow,
        ),
    ];
    for (roles, scopes, perm, want) in cases {
        assert_eq!(
            policy.is_allowed(&scoped(roles, scopes), &p(perm)),
            *want,
            "{roles:?} scoped {scopes:?} -> {perm}"
        );
    }
}

#[test]
fn direct_grants_and_undefined_roles() {
    let policy = file_policy();
    let direct = Principal::builder("svc")
        .permission("metrics:scrape")
        .permission("not a permission")
        .build();
    assert!(policy.is_allowed(&direct, &p("metrics:scrape")).is_allowed());
    assert!(!policy.is_allowed(&direct, &p("model:read")).is_allowed());
    // A direct wildcard grant works like a role's.
    let wild = Principal::builder("svc").permission("model:*").build();
    assert!(policy.is_allowed(&wild, &p("model:predict")).is_allowed());
    // The scope narrows direct grants too.
    let narrowed = Principal::builder("svc")
        .permission("metrics:scrape")
        .scopes(["model:read"])
        .build();
    assert_eq!(
        policy.is_allowed(&narrowed, &p("metrics:scrape")),
        Decision::Deny(DenyReason::OutsideScope)
    );
    // A role the policy does not define grants nothing (and is not an error at request time).
    assert_eq!(
        policy.is_allowed(&who(&["superuser"]), &p("model:read")),
        Decision::Deny(DenyReason::NotGranted)
    );
    assert_eq!(
        policy.is_allowed(&who(&[]), &p("model:read")),
        Decision::Deny(DenyReason::NotGranted)
    );
}

#[test]
fn role_checks_use_inheritance_and_respect_scope() {
    let policy = file_policy();
    assert!(policy.has_role(&who(&["admin"]), "user").is_allowed());
    assert!(policy.has_role(&who(&["admin"]), "guest").is_allowed());
    assert!(!policy.has_role(&who(&["user"]), "admin").is_allowed());
    assert!(!policy.has_role(&who(&["auditor"]), "guest").is_allowed());
    assert!(!policy.has_role(&who(&["admin"]), "undefined").is_allowed());
    // A token scoped to predicting does not pass an admin check, nor a `user` check
    // (`user` also has model:read, which the scope lacks) ...
    assert_eq!(
        policy.has_role(&scoped(&["admin"], &["model:predict"]), "admin"),
        Decision::Deny(DenyReason::OutsideScope)
    );
    assert_eq!(
        policy.has_role(&scoped(&["admin"], &["model:predict"]), "user"),
        Decision::Deny(DenyReason::OutsideScope)
    );
    // ... but one whose scope covers the whole role does.
    assert!(
        policy
            .has_role(&scoped(&["admin"], &["model:*"]), "user")
            .is_allowed()
    );
    assert!(policy.has_role(&scoped(&["admin"], &["*"]), "admin").is_allowed());
}
