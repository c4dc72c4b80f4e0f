//! Tokens from a Keycloak-shaped identity provider: a real JWKS server on 127.0.0.1 (mlguard-testkit's
//! `idp`), `RemoteJwks`, RS256 and ES256 tokens with roles under `realm_access.roles`,
//! `scope: "openid profile email"` and `aud` as a string and as an array.
#![cfg(all(feature = "jwks", feature = "axum"))]

mod common;

use common::*;
use http::StatusCode;
use mlguard_auth::jwt::{BearerAuth, JwtVerifier, RemoteJwks};
use mlguard_core::{Clock, ManualClock, Principal};
use mlguard_testkit::idp::{JwksProvider, jwk, keycloak_claims};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const NOW: u64 = 1_700_000_000;
const REFRESH: Duration = Duration::from_secs(60);

struct Idp {
    issuer: String,
    provider: JwksProvider,
    jwks: Arc<RemoteJwks>,
    auth: BearerAuth,
    clock: ManualClock,
}

async fn idp() -> Idp {
    let provider = JwksProvider::start(None).await;
    let issuer = provider.issuer().to_owned();
    let clock = ManualClock::at_unix(NOW);
    let jwks = Arc::new(
        RemoteJwks::builder(provider.certs_url())
            .min_refresh_interval(REFRESH)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    );
    let verifier = JwtVerifier::builder()
        .jwks(jwks.clone())
        .issuer(issuer.clone())
        .audience("ml-api")
        .roles_claim("/realm_access/roles")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    Idp {
        auth: BearerAuth::new(verifier).realm("ml-api"),
        issuer,
        provider,
        jwks,
        clock,
    }
}

#[derive(Clone, Copy)]
enum Signer {
    Rs256,
    Es256,
    Rs256Rotated,
}

impl Idp {
    /// A Keycloak-shaped access token for `roles`, with `overrides` applied to the claims.
    fn token(&self, signer: Signer, roles: &[&str], overrides: Value) -> String {
        let now = self
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let jti = format!("{now}-{}", roles.join("-"));
        let mut claims = keycloak_claims(&self.issuer, "ml-api", roles, now, &jti);
        for (k, v) in overrides.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let (alg, kid, pem) = match signer {
            Signer::Rs256 => (jsonwebtoken::Algorithm::RS256, "rsa-remote", RSA_PRIVATE),
            Signer::Es256 => (jsonwebtoken::Algorithm::ES256, "ec-remote", EC_PRIVATE),
            Signer::Rs256Rotated => (jsonwebtoken::Algorithm::RS256, "rsa2-remote", RSA2_PRIVATE),
        };
        let key = match alg {
            jsonwebtoken::Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(pem).unwrap(),
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem).unwrap(),
        };
        let header = json!({"alg": format!("{alg:?}"), "typ": "JWT", "kid": kid});
        sign(&header, &claims, &key, alg)
    }

    async fn check(&self, token: &str) -> Result<Principal, StatusCode> {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        self.auth
            .authenticate_headers(&headers)
            .await
            .map_err(|p| p.status())
    }
}

fn policy() -> mlguard_rbac::Policy {
    mlguard_rbac::Policy::from_toml_str(
        r#"
        [roles.user]
        permissions = ["model:predict"]
        [roles.admin]
        inherits = ["user"]
        permissions = ["model:reload", "metrics:read"]
        "#,
    )
    .unwrap()
}

fn may(p: &Principal, permission: &str) -> bool {
    policy()
        .is_allowed(p, &mlguard_rbac::Permission::parse(permission).unwrap())
        .is_allowed()
}

#[tokio::test]
async fn keycloak_tokens_map_realm_roles_and_keep_their_permissions() {
    let idp = idp().await;
    for signer in [Signer::Rs256, Signer::Es256] {
        for aud in [json!("ml-api"), json!(["account", "ml-api"])] {
            let admin = idp
                .check(&idp.token(signer, &["admin", "offline_access"], json!({"aud": aud})))
                .await
                .unwrap();
            assert!(admin.has_role("admin"));
            assert_eq!(admin.subject(), "f3b1c2d4-0000-4000-8000-000000000001");
            assert_eq!(admin.scopes(), None, "openid profile email does not narrow");
            assert!(may(&admin, "model:predict") && may(&admin, "model:reload"));

            let user = idp
                .check(&idp.token(signer, &["user"], json!({"aud": aud})))
                .await
                .unwrap();
            assert!(may(&user, "model:predict"));
            assert!(!may(&user, "model:reload"), "a user is not an admin");
        }
    }
    assert_eq!(idp.provider.hits(), 1, "one fetch served both keys");
}

#[tokio::test]
async fn wrong_issuer_audience_expired_or_unknown_kid_are_refused() {
    let idp = idp().await;
    let ok = idp.token(Signer::Rs256, &["admin"], json!({}));
    assert!(idp.check(&ok).await.is_ok());
    let refused = [
        (
            "wrong issuer",
            idp.token(
                Signer::Rs256,
                &["admin"],
                json!({"iss": "http://127.0.0.1:1/realms/other"}),
            ),
        ),
        (
            "wrong audience",
            idp.token(Signer::Es256, &["admin"], json!({"aud": "account"})),
        ),
        (
            "wrong audiences",
            idp.token(Signer::Es256, &["admin"], json!({"aud": ["account", "broker"]})),
        ),
        (
            "no audience",
            idp.token(Signer::Rs256, &["admin"], json!({"aud": []})),
        ),
        (
            "expired",
            idp.token(Signer::Rs256, &["admin"], json!({"exp": NOW - 60})),
        ),
        (
            "unknown kid",
            idp.token(Signer::Rs256Rotated, &["admin"], json!({})),
        ),
    ];
    for (why, token) in refused {
        assert_eq!(
            idp.check(&token).await.unwrap_err(),
            StatusCode::UNAUTHORIZED,
            "{why}"
        );
    }
}

#[tokio::test]
async fn key_rotation_on_the_provider_is_picked_up_without_a_restart() {
    let idp = idp().await;
    let old = idp.token(Signer::Rs256, &["admin"], json!({}));
    assert!(idp.check(&old).await.is_ok());
    assert_eq!(idp.provider.hits(), 1);

    // The provider rotates: a new RSA key (new kid) is published, the old one withdrawn.
    let ec = jwk("ec-remote");
    let rotated = jwk("rsa2-remote");
    idp.provider.publish(&[rotated, ec]);
    idp.clock.advance(REFRESH);
    let new = idp.token(Signer::Rs256Rotated, &["admin"], json!({}));
    let admin = idp.check(&new).await.unwrap();
    assert!(admin.has_role("admin"));
    assert_eq!(idp.provider.hits(), 2, "the unknown kid fetched once");
    // The withdrawn key is gone with the old set.
    let old_again = idp.token(Signer::Rs256, &["admin"], json!({}));
    assert_eq!(idp.check(&old_again).await.unwrap_err(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_empty_key_set_is_not_a_successful_refresh() {
    let idp = idp().await;
    assert_eq!(idp.jwks.refresh().await.unwrap(), 2);
    let token = idp.token(Signer::Es256, &["admin"], json!({}));
    assert!(idp.check(&token).await.is_ok());

    // The provider (or something in front of it) serves no keys: the cache must stay.
    idp.provider.publish(&[]);
    assert!(
        idp.jwks.refresh().await.is_err(),
        "an empty key set must fail the refresh"
    );
    assert_eq!(idp.jwks.len(), 2, "the last good keys stay");
    assert!(idp.check(&token).await.is_ok());

    // Same for a set with no usable signature key (only an HMAC key).
    idp.provider
        .publish(&[json!({"kty": "oct", "k": "c2VjcmV0", "kid": "oct"})]);
    assert!(idp.jwks.refresh().await.is_err());
    assert_eq!(idp.jwks.len(), 2);
    // And through the paced path an unknown kid takes.
    idp.clock.advance(REFRESH);
    assert!(idp.jwks.refresh_if_due().await);
    assert!(idp.check(&token).await.is_ok());
}

#[tokio::test]
async fn each_issuer_is_checked_with_its_own_keys_and_the_denylist_covers_both() {
    use mlguard_auth::jwt::{JwtAlgorithm, VerifyingKey};
    use mlguard_auth::revocation::MemoryRevocationStore;
    let idp = idp().await;
    let clock: mlguard_core::SharedClock = Arc::new(idp.clock.clone());
    let secret = [7u8; 32];
    let own = JwtVerifier::builder()
        .key(
            VerifyingKey::hmac(JwtAlgorithm::HS256, &secret)
                .unwrap()
                .with_kid("own"),
        )
        .issuer("ml-api")
        .audience("ml-api")
        .clock(clock.clone())
        .build()
        .unwrap();
    let provider = JwtVerifier::builder()
        .jwks(idp.jwks.clone())
        .issuer(idp.issuer.clone())
        .audience("ml-api")
        .roles_claim("/realm_access/roles")
        .clock(clock)
        .build()
        .unwrap();
    let revoked = Arc::new(MemoryRevocationStore::new());
    let auth = BearerAuth::new(own)
        .issuer_verifier(idp.issuer.clone(), provider)
        .realm("ml-api")
        .revocation(revoked.clone());
    let check = |token: String| {
        let auth = auth.clone();
        async move {
            let mut headers = http::HeaderMap::new();
            headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
            auth.authenticate_headers(&headers).await.map_err(|p| p.status())
        }
    };
    let hs = |claims: Value| hs256(&json!({"alg": "HS256", "kid": "own"}), &claims, &secret);
    let base = |iss: &str| {
        json!({"iss": iss, "aud": "ml-api", "sub": "bob", "exp": NOW + 300, "jti": format!("{iss}-1"),
               "roles": ["admin"], "realm_access": {"roles": ["admin"]}})
    };

    // Each issuer's own tokens pass, with that issuer's role mapping.
    let from_idp = idp.token(Signer::Rs256, &["admin"], json!({"jti": "idp-1"}));
    assert!(check(from_idp.clone()).await.unwrap().has_role("admin"));
    assert!(check(hs(base("ml-api"))).await.unwrap().has_role("admin"));
    // Crossed: the HS256 secret cannot vouch for the provider's iss, nor the provider's key
    // for ml-api's.
    assert_eq!(
        check(hs(base(&idp.issuer))).await.unwrap_err(),
        StatusCode::UNAUTHORIZED
    );
    let rs_as_own = idp.token(
        Signer::Rs256,
        &["admin"],
        json!({"iss": "ml-api", "roles": ["admin"]}),
    );
    assert_eq!(check(rs_as_own).await.unwrap_err(), StatusCode::UNAUTHORIZED);
    // The denylist applies to the provider's tokens too.
    // (The store forgets an entry after its expiry by the system clock: a time ahead of it.)
    revoked.revoke_now("idp-1", std::time::SystemTime::now() + Duration::from_secs(3600));
    assert_eq!(check(from_idp).await.unwrap_err(), StatusCode::UNAUTHORIZED);
}

/// `mlguard_auth::idp`: the provider's settings are checked together, naming the setting.
#[test]
fn identity_provider_settings_are_checked_together() {
    use mlguard_auth::idp::{IdentityProvider, IdpSetting};
    let idp = |url: &str| IdentityProvider::new(url, "https://sso/realms/ml", "ml-api");
    let refused = |p: IdentityProvider| p.validate().unwrap_err().setting;
    for loopback in [
        "http://127.0.0.1:8080/certs",
        "http://[::1]/certs",
        "http://localhost/certs",
    ] {
        assert_eq!(idp(loopback).validate(), Ok(()), "{loopback}");
    }
    assert_eq!(idp("https://sso/certs").ca("ca.pem").validate(), Ok(()));
    assert_eq!(refused(idp("https://sso/certs")), IdpSetting::Ca);
    assert_eq!(refused(idp("http://127.0.0.1/c").ca("ca.pem")), IdpSetting::Ca);
    for remote in [
        "http://10.0.0.1/certs",
        "http://127.evil.example/certs",
        "ftp://127.0.0.1/certs",
        "not a url",
    ] {
        assert_eq!(refused(idp(remote)), IdpSetting::JwksUrl, "{remote}");
    }
    let local = "http://127.0.0.1/c";
    assert_eq!(
        refused(IdentityProvider::new(local, " ", "a")),
        IdpSetting::Issuer
    );
    assert_eq!(
        refused(IdentityProvider::new(local, "i", "")),
        IdpSetting::Audience
    );
    assert_eq!(refused(idp(local).roles_claim("roles")), IdpSetting::RolesClaim);
    assert_eq!(
        refused(idp(local).refresh_interval(Duration::from_millis(500))),
        IdpSetting::RefreshInterval
    );
    // The verifier is refused for the same reasons, and for a CA file that is not there.
    assert!(idp("http://10.0.0.1/certs").verifier().is_err());
    let missing_ca = idp("https://sso/certs").ca("/nonexistent/ca.pem").verifier();
    assert!(missing_ca.unwrap_err().to_string().contains("CA file"));
}

/// A JWKS URL with credentials (`user:password@`, deprecated by RFC 3986 section 3.2.1) is
/// refused without echoing them, and `Debug` of the settings never shows them, validated or
/// not.
#[test]
fn a_jwks_url_with_credentials_is_refused_and_never_printed() {
    use mlguard_auth::idp::{IdentityProvider, IdpSetting};
    for url in [
        "https://reader:hunter2@sso/certs",
        "http://reader:hunter2@127.0.0.1/certs",
        "https://hunter2@sso/certs?x=1",
    ] {
        let idp = IdentityProvider::new(url, "https://sso/realms/ml", "ml-api").ca("ca.pem");
        let error = idp.validate().unwrap_err();
        assert_eq!(error.setting, IdpSetting::JwksUrl, "{url}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let shown = format!("{idp:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("[redacted]@") && shown.contains("/certs"),
            "{shown}"
        );
        let refused = idp.verifier().unwrap_err().to_string();
        assert!(!refused.contains("hunter2"), "{refused}");
    }
    // Control: a URL without credentials is shown whole, and an `@` in its path or query is
    // not userinfo.
    let plain = IdentityProvider::new("https://sso/certs?who=a@b", "i", "a").ca("ca.pem");
    assert_eq!(plain.validate(), Ok(()));
    assert!(
        format!("{plain:?}").contains("\"https://sso/certs?who=a@b\""),
        "{plain:?}"
    );
}
