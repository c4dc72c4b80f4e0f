//! Where a token's roles come from: a claim named by a [`JsonPointer`] (default `/roles`), or
//! a [`RoleMapper`] of the application's own.
//!
//! Identity providers put roles in different places: Keycloak under `realm_access.roles`,
//! many under `groups`, Auth0 under a namespaced claim such as `https://example.com/roles`.
//! [`JwtVerifierBuilder::roles_claim`](super::JwtVerifierBuilder::roles_claim) names the place;
//! the value there may be a string (one role) or an array of strings. A missing value means no
//! roles; any other type refuses the token (`InvalidClaimType("roles")`), since a role list
//! that silently became empty would hide a misconfiguration.

use super::claims::Claims;
use super::error::TokenError;
use super::pointer::JsonPointer;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// The default roles claim: `/roles`.
pub const DEFAULT_ROLES_CLAIM: &str = "/roles";

/// Maps a verified token's claims to roles; implemented for every
/// `Fn(&Claims) -> Option<Vec<String>>`. Returning `None` refuses the token
/// ([`TokenError::RolesUnmapped`]). It runs after the signature and the standard claims were
/// checked, on every request: keep it cheap.
///
/// The alternative is a JSON Pointer: identity providers put roles in different places
/// (Keycloak under `realm_access.roles`, many under `groups`, Auth0 under a namespaced claim),
/// and [`JwtVerifierBuilder::roles_claim`](super::JwtVerifierBuilder::roles_claim) names the
/// place.
///
/// ```
/// use mlguard_auth::jwt::{Claims, JwtAlgorithm, JwtVerifier, VerifyingKey};
///
/// let key = || VerifyingKey::hmac(JwtAlgorithm::HS256, &[1u8; 32]).unwrap();
/// // Keycloak's realm roles:
/// let keycloak = JwtVerifier::builder().key(key()).audience("ml-api").roles_claim("/realm_access/roles").build();
/// assert!(keycloak.is_ok());
/// // A custom mapping: `groups` entries under `/ml/` become roles; `None` refuses the token.
/// let custom = JwtVerifier::builder()
///     .key(key())
///     .audience("ml-api")
///     .roles_mapper(|claims: &Claims| {
///         let groups = claims.get("groups")?.as_array()?;
///         Some(groups.iter().filter_map(|g| g.as_str()?.strip_prefix("/ml/").map(str::to_owned)).collect())
///     })
///     .build();
/// assert!(custom.is_ok());
/// assert!(JwtVerifier::builder().key(key()).audience("a").roles_claim("roles").build().is_err());
/// ```
pub trait RoleMapper: Send + Sync + 'static {
    /// The roles for these claims, or `None` to refuse the token.
    fn roles(&self, claims: &Claims) -> Option<Vec<String>>;
}

impl<F> RoleMapper for F
where
    F: Fn(&Claims) -> Option<Vec<String>> + Send + Sync + 'static,
{
    fn roles(&self, claims: &Claims) -> Option<Vec<String>> {
        self(claims)
    }
}

/// The configured source of roles.
#[derive(Clone)]
pub(super) enum RolesSource {
    /// `/roles`, read while the claims are parsed (no JSON map is built).
    Default,
    /// Another pointer, resolved in the claims map.
    Pointer(JsonPointer),
    /// The application's mapping.
    Mapper(Arc<dyn RoleMapper>),
}

impl fmt::Debug for RolesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str(DEFAULT_ROLES_CLAIM),
            Self::Pointer(p) => f.write_str(p.as_str()),
            Self::Mapper(_) => f.write_str("custom mapper"),
        }
    }
}

impl RolesSource {
    /// The roles from `claims`; `default` holds what the parser found at `/roles`.
    pub(super) fn roles(
        &self,
        default: Option<Result<Vec<String>, ()>>,
        claims: &Claims,
    ) -> Result<Vec<String>, TokenError> {
        match self {
            Self::Default => match default {
                None => Ok(Vec::new()),
                Some(roles) => roles.map_err(|()| TokenError::InvalidClaimType("roles")),
            },
            Self::Pointer(pointer) => match pointer.resolve_in(claims) {
                None => Ok(Vec::new()),
                Some(value) => roles_from_value(value),
            },
            Self::Mapper(mapper) => mapper.roles(claims).ok_or(TokenError::RolesUnmapped),
        }
    }
}

/// A string (one role) or an array of strings.
fn roles_from_value(value: &Value) -> Result<Vec<String>, TokenError> {
    match value {
        Value::String(role) => Ok(vec![role.clone()]),
        Value::Array(list) => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(TokenError::InvalidClaimType("roles")),
        _ => Err(TokenError::InvalidClaimType("roles")),
    }
}
