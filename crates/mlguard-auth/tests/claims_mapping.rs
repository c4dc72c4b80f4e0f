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
    // A misspelt permission still narrows (to nothing), never widens.
    assert!(!allowed(&v, scoped("Model:Predict"), "model:predict"));
    assert!(!allowed(&v, scoped("openid Model:Predict"), "metrics:read"));
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

// ---- audience required by default; optional typ ----

fn key() -> VerifyingKey {
    VerifyingKey::hmac(JwtAlgorithm::HS256, SECRET).unwrap()
}

#[test]
fn a_verifier_without_an_audience_does_not_build() {
    let err = JwtVerifier::builder().key(key()).build().unwrap_err();
    assert!(
        matches!(&err, AuthError::Config(m) if m.contains("audience")),
        "{err}"
    );
    // The explicit opt-out builds, and then any `aud` (or none) is accepted.
    let any = JwtVerifier::builder()
        .key(key())
        .accept_any_audience()
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .build()
        .unwrap();
    assert!(any.verify(&token(json!({"aud": "someone-else"}))).is_ok());
    // Both at once is a contradiction, refused.
    let both = JwtVerifier::builder()
        .key(key())
        .audience("a")
        .accept_any_audience();
    assert!(matches!(both.build(), Err(AuthError::Config(_))));
}

#[test]
fn aud_may_be_a_string_or_an_array() {
    let v = builder().audience("ml-batch").build().unwrap();
    assert!(v.verify(&token(json!({"aud": "ml-api"}))).is_ok());
    assert!(v.verify(&token(json!({"aud": ["account", "ml-batch"]}))).is_ok());
    assert_eq!(
        v.verify(&token(json!({"aud": ["account", "broker"]})))
            .unwrap_err(),
        TokenError::WrongAudience
    );
    assert_eq!(
        v.verify(&token(json!({"aud": "account"}))).unwrap_err(),
        TokenError::WrongAudience
    );
    let mut no_aud = json!({"sub": "alice", "exp": NOW + 600});
    no_aud.as_object_mut().unwrap().remove("aud");
    let t = hs256(&json!({"alg": "HS256"}), &no_aud, SECRET);
    assert_eq!(v.verify(&t).unwrap_err(), TokenError::MissingClaim("aud"));
}

#[test]
fn typ_check_accepts_rfc9068_forms_only_when_asked() {
    let v = builder().require_access_token_typ().build().unwrap();
    let with_typ = |typ: Value| {
        let claims = json!({"sub": "alice", "exp": NOW + 600, "aud": "ml-api"});
        hs256(&json!({"alg": "HS256", "typ": typ}), &claims, SECRET)
    };
    for ok in ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"] {
        assert!(v.verify(&with_typ(json!(ok))).is_ok(), "{ok}");
    }
    for bad in [
        json!("JWT"),
        json!("at+jwt2"),
        json!("application/jwt"),
        json!(1),
        json!(null),
    ] {
        assert_eq!(
            v.verify(&with_typ(bad.clone())).unwrap_err(),
            TokenError::WrongType,
            "{bad}"
        );
    }
    // `typ` missing entirely (`token` sends "JWT"; build one with no typ at all).
    let claims = json!({"sub": "alice", "exp": NOW + 600, "aud": "ml-api"});
    assert_eq!(
        v.verify(&hs256(&json!({"alg": "HS256"}), &claims, SECRET))
            .unwrap_err(),
        TokenError::WrongType
    );
    // Not asked: `typ` is not looked at.
    assert!(builder().build().unwrap().verify(&with_typ(json!("JWT"))).is_ok());
    assert!(builder().require_typ("").build().is_err());
}

#[test]
fn a_repeated_typ_never_matches_a_required_type() {
    let v = builder().require_access_token_typ().build().unwrap();
    let claims = r#"{"sub":"alice","exp":1700000600,"aud":"ml-api"}"#;
    let header = r#"{"alg":"HS256","typ":"at+jwt","typ":"at+jwt"}"#;
    let message = format!("{}.{}", b64_raw(header), b64_raw(claims));
    let sig = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    assert_eq!(
        v.verify(&format!("{message}.{sig}")).unwrap_err(),
        TokenError::WrongType
    );
}

fn b64_raw(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

// ---- handlers read the verified claims ----

#[cfg(feature = "axum")]
mod handlers {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use mlguard_auth::apikey::{MemoryKeyStore, generate};
    use mlguard_auth::jwt::{BearerAuth, VerifiedClaims};
    use mlguard_auth::{ApiKeyAuth, AuthLayer};
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    struct Custom {
        sub: String,
        tenant: String,
        realm_access: RealmAccess,
    }

    #[derive(serde::Deserialize)]
    struct RealmAccess {
        roles: Vec<String>,
    }

    async fn call(app: &Router, header: (&str, String)) -> (u16, String) {
        let request = http::Request::get("/me")
            .header(header.0, header.1)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        (response.status().as_u16(), body_string(response).await)
    }

    #[tokio::test]
    async fn typed_custom_claims_reach_the_handler() {
        let verifier = builder().roles_claim("/realm_access/roles").build().unwrap();
        let keys = Arc::new(MemoryKeyStore::new());
        let (api_key, record) = generate("batch", ["user"]).unwrap();
        keys.insert(record);
        let app = Router::new()
            .route(
                "/me",
                get(
                    |VerifiedClaims(c): VerifiedClaims<Custom>, raw: axum::Extension<Claims>| async move {
                        format!(
                            "{} {} {} {}",
                            c.sub,
                            c.tenant,
                            c.realm_access.roles.join(","),
                            raw.0["tenant"]
                        )
                    },
                ),
            )
            .layer(
                AuthLayer::new()
                    .api_key(ApiKeyAuth::new(keys))
                    .bearer(BearerAuth::new(verifier)),
            );
        let bearer = |extra: Value| ("authorization", format!("Bearer {}", token(extra)));

        let ok = call(
            &app,
            bearer(json!({"tenant": "acme", "realm_access": {"roles": ["admin"]}})),
        )
        .await;
        assert_eq!(ok, (200, r#"alice acme admin "acme""#.to_owned()));

        // A token whose claims do not fit the handler's type: 403, the claims not echoed.
        let (status, body) = call(&app, bearer(json!({"realm_access": {"roles": ["admin"]}}))).await;
        assert_eq!(status, 403);
        assert!(
            body.contains("The token's claims do not fit this route"),
            "{body}"
        );

        // An API-key caller has no claims: 403 naming what the route needs.
        let (status, body) = call(&app, ("x-api-key", api_key.expose_secret().to_owned())).await;
        assert_eq!(status, 403);
        assert!(body.contains("This route needs a bearer token"), "{body}");
    }

    #[tokio::test]
    async fn without_an_auth_layer_the_extractor_answers_401() {
        let app = Router::new().route(
            "/me",
            get(|VerifiedClaims(v): VerifiedClaims<Value>| async move { v.to_string() }),
        );
        let (status, _) = call(&app, ("x-other", "1".to_owned())).await;
        assert_eq!(status, 401);
    }
}

/// `Debug` of a verifier names where its roles come from (the claim's JSON Pointer, or a
/// custom mapper), so a misread setting shows in a log of the configuration. (Mutant: `Debug`
/// of `RolesSource` replaced by empty output.)
#[test]
fn debug_of_a_verifier_names_its_roles_source() {
    let shown = |v: &JwtVerifier| format!("{v:?}");
    assert!(shown(&builder().build().unwrap()).contains("roles: /roles"));
    let keycloak = builder().roles_claim("/realm_access/roles").build().unwrap();
    assert!(
        shown(&keycloak).contains("roles: /realm_access/roles"),
        "{}",
        shown(&keycloak)
    );
    let mapped = builder()
        .roles_mapper(|_: &Claims| Some(vec!["user".to_owned()]))
        .build()
        .unwrap();
    assert!(
        shown(&mapped).contains("roles: custom mapper"),
        "{}",
        shown(&mapped)
    );
}
