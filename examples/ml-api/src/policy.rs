//! The RBAC policy of the server, and the permission each route needs.
//!
//! | role | permissions |
//! |---|---|
//! | `admin` | `model:*`, `crypto:*`, `metrics:read` |
//! | `user` | `crypto:encrypt`, `crypto:decrypt` (not `model:predict`, as in the tutorial) |
//! | `client` | `model:predict` only: predictions with the label, without probabilities |
//!
//! `model:probabilities` (in `admin`'s `model:*`) decides whether `/predict` and
//! `/predict/batch` answers carry `probabilities` (see [`crate::model_guard`]).

use mlguard_core::WwwAuthenticate;
use mlguard_rbac::{Authorizer, Policy, RbacError};

/// Permission of `POST /predict` and `POST /predict/batch`.
pub const MODEL_PREDICT: &str = "model:predict";
/// Whether prediction answers include `probabilities` (rounded to `probability_decimals`).
pub const MODEL_PROBABILITIES: &str = "model:probabilities";
/// Permission of `POST /encrypt`.
pub const CRYPTO_ENCRYPT: &str = "crypto:encrypt";
/// Permission of `POST /decrypt`.
pub const CRYPTO_DECRYPT: &str = "crypto:decrypt";
/// Permission of `GET /metrics` (issue 9).
pub const METRICS_READ: &str = "metrics:read";
/// The roles users and API keys may have.
pub const ROLES: [&str; 3] = ["admin", "user", "client"];
/// The realm in `WWW-Authenticate` challenges.
pub const REALM: &str = "ml-api";

/// The policy in the table above.
///
/// ```
/// let policy = ml_api::policy::policy().unwrap();
/// assert!(policy.has_role_defined("admin") && policy.has_role_defined("user"));
/// ```
///
/// # Errors
/// Never in practice (the policy is fixed); a typed error if it were edited into an invalid one.
pub fn policy() -> Result<Policy, RbacError> {
    Policy::builder()
        .role("admin", ["model:*", "crypto:*", METRICS_READ])
        .role("user", [CRYPTO_ENCRYPT, CRYPTO_DECRYPT])
        .role("client", [MODEL_PREDICT])
        .build()
}

/// The authorizer with the policy and the server's bearer challenge.
///
/// # Errors
/// As [`policy`].
pub fn authorizer() -> Result<Authorizer, RbacError> {
    Ok(Authorizer::new(policy()?).challenge(WwwAuthenticate::bearer().realm(REALM)))
}

/// Checks a role name given on the command line.
///
/// # Errors
/// A message listing the known roles.
pub fn check_role(role: &str) -> Result<(), String> {
    if ROLES.contains(&role) {
        Ok(())
    } else {
        Err(format!(
            "unknown role {role:?}; known roles: {}",
            ROLES.join(", ")
        ))
    }
}
