//! Where roles come from (a JSON Pointer or a mapper), which scope entries narrow, and what
//! handlers can read of the verified claims.

mod common;

use common::*;
use mlguard_auth::AuthError;
use mlguard_auth::jwt::{Claims, JwtAlgorithm, JwtVerifier, JwtVerifierBuilder, TokenError, VerifyingKey};
use mlguard_core::ManualClock;
use serde_json::{Value, json};
use std::sync::Arc;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_700_000_000;

fn builder() -> JwtVerifierBuilder {
    JwtVerifier::builder()
        .key(VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap())
        .audience("ml-api")
        .clock(Arc::new(ManualClock::at_unix(NOW)))
}

fn token(extra: Value) -> String {
    let mut claims = json!({"sub": "alice", "exp": NOW + 600, "iat": NOW, "aud": "ml-api"});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    hs256(&json!({"alg": "HS256", "typ": "JWT"}), &claims, SECRET)
}

fn roles(v: &JwtVerifier, extra: Value) -> Result<Vec<String>, TokenError> {
    v.verify(&token(extra)).map(|t| t.roles)
}

#[test]
fn roles_come_from_the_configured_pointer() {
    let keycloak = builder().roles_claim("/realm_access/roles").build().unwrap();
    let kc = json!({"realm_access": {"roles": ["admin", "offline_access"]}, "roles": ["user"]});
    assert_eq!(roles(&keycloak, kc).unwrap(), ["admin", "offline_access"]);
    // The top-level `roles` is not looked at once another claim is configured.
    assert_eq!(
        roles(&keycloak, json!({"roles": ["admin"]})).unwrap(),
        Vec::<String>::new()
    );

    let groups = builder().roles_claim("/groups").build().unwrap();
    assert_eq!(roles(&groups, json!({"groups": "admin"})).unwrap(), ["admin"]);

    let namespaced = builder()
        .roles_claim("/https:~1~1example.com~1roles")
        .build()
        .unwrap();
    assert_eq!(
        roles(&namespaced, json!({"https://example.com/roles": ["user"]})).unwrap(),
        ["user"]
    );
    // The default is `/roles`, also when named explicitly.
    for v in [
        builder().build().unwrap(),
        builder().roles_claim("/roles").build().unwrap(),
    ] {
        assert_eq!(roles(&v, json!({"roles": ["user"]})).unwrap(), ["user"]);
        assert_eq!(roles(&v, json!({"roles": "user"})).unwrap(), ["user"]);
        assert!(
            roles(&v, json!({"realm_access": {"roles": ["admin"]}}))
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn a_roles_value_of_the_wrong_type_refuses_the_token() {
    let keycloak = builder().roles_claim("/realm_access/roles").build().unwrap();
    for bad in [
        json!(1),
        json!({"admin": true}),
        json!(["admin", 2]),
        json!(null),
        json!(true),
    ] {
        assert_eq!(
            roles(&keycloak, json!({"realm_access": {"roles": bad}})),
            Err(TokenError::InvalidClaimType("roles"))
        );
    }
}

#[test]
fn bad_roles_settings_fail_at_build() {
    for bad in ["roles", "realm_access/roles", "/a~2", ""] {
        assert!(
            matches!(builder().roles_claim(bad).build(), Err(AuthError::Config(_))),
            "{bad:?}"
        );
    }
    let both = builder()
        .roles_claim("/groups")
        .roles_mapper(|_: &Claims| Some(vec![]));
    assert!(matches!(both.build(), Err(AuthError::Config(_))));
}

#[test]
fn a_mapper_sees_all_claims_and_can_refuse() {
    let v = builder()
        .roles_mapper(|claims: &Claims| {
            let groups = claims.get("groups")?.as_array()?;
            Some(
                groups
                    .iter()
                    .filter_map(|g| g.as_str()?.strip_prefix("/ml/").map(str::to_owned))
                    .collect(),
            )
        })
        .build()
        .unwrap();
    assert_eq!(
        roles(&v, json!({"groups": ["/ml/admin", "/other/x"]})).unwrap(),
        ["admin"]
    );
    assert_eq!(
        roles(&v, json!({"roles": ["admin"]})),
        Err(TokenError::RolesUnmapped)
    );
}

// ---- scope: only permission-shaped entries narrow ----

fn policy() -> mlguard_rbac::Policy {
    mlguard_rbac::Policy::from_toml_str(
        r#"
        [roles.user]
        permissions = ["model:predict"]
        [roles.admin]
        permissions = ["model:*", "metrics:read"]
        "#,
    )
    .unwrap()
}

fn allowed(v: &JwtVerifier, extra: Value, needed: &str) -> bool {
    let principal = v.verify(&token(extra)).unwrap().into_principal();
    let needed = mlguard_rbac::Permission::parse(needed).unwrap();
    policy().is_allowed(&principal, &needed).is_allowed()
}

#[test]
fn oidc_scopes_do_not_narrow_an_admin() {
    let v = builder().roles_claim("/realm_access/roles").build().unwrap();
    let admin = || json!({"realm_access": {"roles": ["admin"]}, "scope": "openid profile email"});
    for needed in ["model:predict", "model:reload", "metrics:read"] {
        assert!(allowed(&v, admin(), needed), "{needed}");
    }
    let p = v.verify(&token(admin())).unwrap();
    // The token's scope is still there for the application to read.
    assert_eq!(
        p.scopes.as_deref(),
        Some(&["openid".to_owned(), "profile".into(), "email".into()][..])
    );
    assert_eq!(p.into_principal().scopes(), None);
}

#[test]
fn permission_shaped_scope_entries_narrow() {
    let v = builder().build().unwrap();
    let scoped = |scope: &str| json!({"roles": ["admin"], "scope": scope});
    assert!(allowed(&v, scoped("model:predict"), "model:predict"));
    assert!(!allowed(&v, scoped("model:predict"), "model:reload"));
    assert!(!allowed(&v, scoped("model:predict"), "metrics:read"));
    // Mixed with OIDC scopes: the permission-shaped entries alone narrow.
    assert!(allowed(
        &v,
        scoped("openid model:predict profile"),
        "model:predict"
    ));
    assert!(!allowed(
        &v,
        scoped("openid model:predict profile"),
        "metrics:read"
    ));
    // URL-shaped scopes (Azure's `api://...`) and single words are not permissions.
    assert!(allowed(
        &v,
        scoped("api://ml/.default offline_access"),
        "metrics:read"
    ));
    // `*` is a permission: it narrows to everything, i.e. to what the roles grant.
    assert!(allowed(&v, scoped("*"), "metrics:read"));
    // A scope can never add: a user scoped `model:*` still cannot reload.
    assert!(!allowed(
        &v,
        json!({"roles": ["user"], "scope": "model:*"}),
        "model:reload"
    ));
    // An empty scope (no entries at all) still allows nothing, as before.
    assert!(!allowed(&v, scoped(""), "model:predict"));
}
