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
    /// Any text, valid permissions, and valid permissions with one character
    /// inserted: about 48% (122-126 of 256, two runs) of the cases parse and
    /// reach the assertions (measured once with a counter; with any text
    /// alone, as before, almost none).
    #[test]
    fn permission_parse_never_panics(
        s in prop_oneof![
            1 => "\\PC{0,200}",
            2 => valid_permission(),
            2 => (valid_permission(), any::<prop::sample::Index>(), prop::sample::select(vec!['*', ':', 'A', ' ', 'é', '-', 'a']))
                .prop_map(|(p, at, c)| {
                    let mut p: Vec<char> = p.chars().collect();
                    p.insert(at.index(p.len() + 1), c);
                    p.into_iter().collect()
                }),
        ],
    ) {
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
    /// checks never panic. Biased to policies that build (mostly valid permissions, parents
    /// mostly among the roles defined after the role): measured once with counters over 256
    /// cases, 48% (122) build, 13% (33) contain a chain a -> b -> c of three distinct roles
    /// (where transitivity is really tested), and 32% (82) build and
    /// ask a valid permission.
    #[test]
    fn random_policies_build_or_fail_cleanly(
        roles in prop::collection::vec(
            (
                prop::collection::vec(prop_oneof![8 => valid_permission(), 1 => "[a-z*:A]{0,8}"], 0..3),
                // Parents: a subset of the roles named after this one (so mostly no cycle),
                // and sometimes any name at all (a cycle, itself, or an undefined role).
                any::<u8>(),
                prop_oneof![6 => Just(None), 1 => "[a-z]".prop_map(Some)],
            ),
            1..6,
        ),
        asked in prop_oneof![2 => valid_permission(), 1 => "[a-z*:]{0,8}"],
    ) {
        let names = ["a", "b", "c", "d", "e"];
        let mut toml = String::new();
        for (i, (perms, later, any_name)) in roles.iter().enumerate() {
            let mut parents: Vec<String> = (i + 1..roles.len())
                .filter(|j| later & (1 << j) != 0)
                .map(|j| names[j].to_owned())
                .collect();
            parents.extend(any_name.clone());
            toml.push_str(&format!(
                "[roles.{}]\npermissions = {perms:?}\ninherits = {parents:?}\n",
                names[i]
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
