//! [`Decision`]: the outcome of one authorization check, and why.

use std::fmt;

/// Why a request was (or, in dry-run mode, would have been) refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyReason {
    /// There is no [`Principal`](mlguard_core::Principal) in the request (401).
    Unauthenticated,
    /// None of the principal's roles (with inheritance) or direct grants gives what is needed.
    NotGranted,
    /// The roles give it, but the token's scope does not include it (a down-scoped token).
    OutsideScope,
    /// The route is not in the [`PermissionMap`](crate::PermissionMap) (deny by default).
    UnmappedRoute,
}

impl DenyReason {
    /// A short, stable, log-friendly name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::NotGranted => "not_granted",
            Self::OutsideScope => "outside_scope",
            Self::UnmappedRoute => "unmapped_route",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of an authorization check.
///
/// ```
/// use mlguard_rbac::{Decision, DenyReason};
/// assert!(Decision::Allow.is_allowed());
/// assert_eq!(Decision::Deny(DenyReason::OutsideScope).reason(), Some(DenyReason::OutsideScope));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[must_use]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Refused, for this reason.
    Deny(DenyReason),
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allow)
    }

    /// The reason for a refusal.
    pub fn reason(self) -> Option<DenyReason> {
        match self {
            Self::Allow => None,
            Self::Deny(r) => Some(r),
        }
    }

    /// `allow` or `deny`, as logged.
    pub fn outcome(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny(_) => "deny",
        }
    }
}
