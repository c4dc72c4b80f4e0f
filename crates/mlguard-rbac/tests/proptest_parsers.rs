//! The parsers never panic, and what they accept behaves.

use mlguard_core::Principal;
use mlguard_rbac::{Permission, Policy};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![Just("*".to_owned()), "[a-z0-9_.-]{1,6}"]
}

fn valid_permission() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        prop::collection::vec(segment(), 2..5).prop_map(|s| s.join(":")),
    ]
}

proptest! {
    #[test]
    fn permission_parse_never_panics(s in "\\PC{0,200}") {
        if let Ok(p) = Permission::parse(&s) {
            prop_assert_eq!(p.as_str(), s.as_str());
            prop_assert!(p.implies(&p));
            prop_assert!(Permission::parse("*").unwrap().implies(&p));
        }
    }

    #[test]
    fn permission_parse_never_panics_on_near_misses(s in "[a-zA-Z0-9_.*: -]{0,40}") {
        let _ = Permission::parse(&s);
    }

    #[test]
    fn generated_permissions_parse_and_imply_themselves(s in valid_permission()) {
        let p = Permission::parse(&s).unwrap();
        prop_assert!(p.implies(&p));
        // A concrete permission never implies a different one.
        if !p.is_wildcard() {
            let other = Permission::parse(&format!("{s}:x")).unwrap();
            prop_assert!(!p.implies(&other));
        }
    }

    #[test]
    fn toml_policy_parse_never_panics(s in "\\PC{0,300}") {
        let _ = Policy::from_toml_str(&s);
    }

    /// Random policies: building never panics; when it succeeds, inheritance is transitive and
    /// checks never panic.
    #[test]
    fn random_policies_build_or_fail_cleanly(
        roles in prop::collection::vec(
            ("[a-d]", prop::collection::vec(prop_oneof![valid_permission(), "[a-z*:A]{0,8}"], 0..3), prop::collection::vec("[a-e]", 0..2)),
            0..6,
        ),
        asked in "[a-z*:]{0,8}",
    ) {
        let mut toml = String::new();
        let mut seen = std::collections::HashSet::new();
        for (name, perms, parents) in &roles {
            if !seen.insert(name.clone()) {
                continue;
            }
            toml.push_str(&format!(
                "[roles.{name}]\npermissions = {perms:?}\ninherits = {parents:?}\n"
            ));
        }
        if let Ok(policy) = Policy::from_toml_str(&toml) {
            for a in policy.roles() {
                for b in policy.roles() {
                    for c in policy.roles() {
                        if policy.role_includes(a, b) && policy.role_includes(b, c) {
                            prop_assert!(policy.role_includes(a, c));
                        }
                    }
                }
            }
            let principal = Principal::builder("p").roles(policy.roles()).scopes([asked.clone()]).build();
            if let Ok(perm) = Permission::parse(&asked) {
                let _ = policy.is_allowed(&principal, &perm);
            }
        }
    }
}
