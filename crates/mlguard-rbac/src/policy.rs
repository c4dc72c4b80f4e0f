//! [`Policy`]: roles, the permissions they grant, and which roles include which.
//!
//! A policy is built once, in code ([`Policy::builder`]) or from TOML
//! ([`Policy::from_toml_str`]), and validated as it is built: malformed permissions, unknown
//! roles in inheritance and inheritance cycles are [`RbacError`]s. Each role's *effective*
//! permission set (its own plus those of every role it includes, transitively) is computed
//! then, so a check is a hash lookup plus a scan of the role's few wildcard grants.
//!
//! # TOML
//!
//! ```toml
//! [roles.user]
//! permissions = ["model:predict", "model:read"]
//!
//! [roles.admin]
//! inherits = ["user"]           # admin can do everything user can
//! permissions = ["keys:*", "crypto:decrypt"]
//! ```
//!
//! Unknown keys are rejected, so a misspelt `inherit = [...]` is an error rather than a role
//! that silently inherits nothing.
//!
//! # The effective-permission rule
//!
//! [`Policy::is_allowed`] allows a principal to do `needed` exactly when:
//!
//! 1. some permission the principal holds implies `needed` (see [`Permission::implies`]), where
//!    the held permissions are those of each of its roles that the policy defines (with
//!    inheritance) plus its directly granted [`Principal::permissions`]; roles the policy does
//!    not define grant nothing, and direct grants that are not valid permissions grant nothing;
//! 2. and, when [`Principal::scopes`] is `Some` (it came from a token that carried a `scope`),
//!    some scope entry that is a valid permission (`model:predict`, `model:*`, `*`) also
//!    implies `needed`. Entries that are not permissions (`openid`, `profile`) match nothing,
//!    and an empty scope allows nothing.
//!
//! The scope only ever removes: a token scoped `*` can do exactly what its roles can, and a
//! token scoped `model:predict` for an admin can only predict. That is what stops a token
//! issued for one job (a CI job's predict-only token) from being replayed for another.

use crate::permission::str_implies;
use crate::{Decision, DenyReason, Permission, RbacError};
use mlguard_core::Principal;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The longest role name.
pub const MAX_ROLE_LEN: usize = 64;

/// Checks a role name: 1 to [`MAX_ROLE_LEN`] characters of `A-Z a-z 0-9 _ . -`.
pub(crate) fn valid_role_name(role: &str) -> bool {
    !role.is_empty()
        && role.len() <= MAX_ROLE_LEN
        && role
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A role's permissions, split for fast checks.
#[derive(Debug, Default)]
struct PermissionSet {
    exact: HashSet<Permission>,
    wildcards: Vec<Permission>,
}

impl PermissionSet {
    fn insert(&mut self, p: Permission) {
        if p.is_wildcard() {
            if !self.wildcards.contains(&p) {
                self.wildcards.push(p);
            }
        } else {
            self.exact.insert(p);
        }
    }

    fn implies(&self, needed: &Permission) -> bool {
        self.exact.contains(needed) || self.wildcards.iter().any(|w| w.implies(needed))
    }

    fn iter(&self) -> impl Iterator<Item = &Permission> {
        self.exact.iter().chain(self.wildcards.iter())
    }
}

#[derive(Debug)]
struct Role {
    /// The role itself and every role it includes, transitively.
    includes: BTreeSet<String>,
    effective: PermissionSet,
}

/// A validated, immutable role policy; cheap to clone (one `Arc`).
///
/// ```
/// use mlguard_core::Principal;
/// use mlguard_rbac::{Permission, Policy};
///
/// let policy = Policy::builder()
///     .role("user", ["model:predict"])
///     .role("admin", ["keys:*"])
///     .inherit("admin", "user")
///     .build()?;
///
/// let admin = Principal::builder("root").role("admin").build();
/// let predict = Permission::parse("model:predict")?;
/// assert!(policy.is_allowed(&admin, &predict).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Policy {
    roles: Arc<HashMap<String, Role>>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.roles.keys().collect();
        names.sort();
        f.debug_struct("Policy").field("roles", &names).finish()
    }
}

impl Policy {
    /// Starts building a policy in code.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// Parses and validates a TOML policy (see the [module docs](self) for the format).
    ///
    /// ```
    /// let policy = mlguard_rbac::Policy::from_toml_str(r#"
    ///     [roles.user]
    ///     permissions = ["model:predict"]
    ///     [roles.admin]
    ///     inherits = ["user"]
    ///     permissions = ["keys:*"]
    /// "#)?;
    /// assert!(policy.role_includes("admin", "user"));
    /// # Ok::<(), mlguard_rbac::RbacError>(())
    /// ```
    pub fn from_toml_str(toml: &str) -> Result<Self, RbacError> {
        let config: PolicyConfig = toml::from_str(toml)?;
        config.build()
    }

    /// Reads and parses a TOML policy file.
    pub fn from_toml_file(path: impl AsRef<Path>) -> Result<Self, RbacError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RbacError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Whether the policy defines `role`.
    pub fn has_role_defined(&self, role: &str) -> bool {
        self.roles.contains_key(role)
    }

    /// The defined roles, sorted.
    pub fn roles(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.roles.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Whether `role` is `included` or includes it through inheritance (`admin` includes
    /// `user`). False when either is undefined.
    pub fn role_includes(&self, role: &str, included: &str) -> bool {
        self.roles
            .get(role)
            .is_some_and(|r| r.includes.contains(included))
    }

    /// The effective permissions of `role` (its own and inherited ones), sorted; `None` when
    /// the role is undefined.
    ///
    /// ```
    /// let policy = mlguard_rbac::Policy::builder()
    ///     .role("user", ["model:predict"])
    ///     .role("admin", ["keys:*"])
    ///     .inherit("admin", "user")
    ///     .build()?;
    /// let perms = policy.role_permissions("admin").unwrap();
    /// let names: Vec<&str> = perms.iter().map(|p| p.as_str()).collect();
    /// assert_eq!(names, ["keys:*", "model:predict"]);
    /// # Ok::<(), mlguard_rbac::RbacError>(())
    /// ```
    pub fn role_permissions(&self, role: &str) -> Option<Vec<&Permission>> {
        let r = self.roles.get(role)?;
        let mut v: Vec<&Permission> = r.effective.iter().collect();
        v.sort();
        Some(v)
    }

    /// Whether `principal` may do `needed`: see the [module docs](self#the-effective-permission-rule)
    /// for the exact rule. Pure: logs nothing (the layers and extractors log each decision).
    ///
    /// ```
    /// use mlguard_core::Principal;
    /// use mlguard_rbac::{Decision, DenyReason, Permission, Policy};
    ///
    /// let policy = Policy::builder().role("admin", ["*"]).build()?;
    /// let token = Principal::builder("ci").role("admin").scopes(["model:predict"]).build();
    /// let p = |s| Permission::parse(s).unwrap();
    /// assert_eq!(policy.is_allowed(&token, &p("model:predict")), Decision::Allow);
    /// assert_eq!(
    ///     policy.is_allowed(&token, &p("keys:create")),
    ///     Decision::Deny(DenyReason::OutsideScope)
    /// );
    /// # Ok::<(), mlguard_rbac::RbacError>(())
    /// ```
    pub fn is_allowed(&self, principal: &Principal, needed: &Permission) -> Decision {
        let by_role = principal
            .roles()
            .iter()
            .filter_map(|r| self.roles.get(r))
            .any(|r| r.effective.implies(needed));
        let granted = by_role || principal.permissions().iter().any(|g| str_implies(g, needed));
        if !granted {
            return Decision::Deny(DenyReason::NotGranted);
        }
        if !scope_allows(principal, needed) {
            return Decision::Deny(DenyReason::OutsideScope);
        }
        Decision::Allow
    }

    /// Whether `principal` holds `role`: one of its roles is `role` or includes it. When the
    /// principal carries a scope, the scope must also cover *every* effective permission of
    /// `role`, otherwise a token scoped `model:predict` would pass an admin-only check; a
    /// role check is coarse, so prefer [`is_allowed`](Self::is_allowed) where you can.
    ///
    /// ```
    /// use mlguard_core::Principal;
    /// use mlguard_rbac::Policy;
    ///
    /// let policy = Policy::builder()
    ///     .role("user", ["model:predict"])
    ///     .role("admin", ["keys:*"])
    ///     .inherit("admin", "user")
    ///     .build()?;
    /// let admin = Principal::builder("root").role("admin").build();
    /// assert!(policy.has_role(&admin, "user").is_allowed());
    /// let user = Principal::builder("u").role("user").build();
    /// assert!(!policy.has_role(&user, "admin").is_allowed());
    /// # Ok::<(), mlguard_rbac::RbacError>(())
    /// ```
    pub fn has_role(&self, principal: &Principal, role: &str) -> Decision {
        let held = principal
            .roles()
            .iter()
            .filter_map(|r| self.roles.get(r))
            .any(|r| r.includes.contains(role));
        let Some(target) = self.roles.get(role).filter(|_| held) else {
            return Decision::Deny(DenyReason::NotGranted);
        };
        if target.effective.iter().all(|p| scope_allows(principal, p)) {
            Decision::Allow
        } else {
            Decision::Deny(DenyReason::OutsideScope)
        }
    }
}

/// Rule 2: no scope, or a scope entry implies `needed`.
fn scope_allows(principal: &Principal, needed: &Permission) -> bool {
    principal
        .scopes()
        .is_none_or(|scopes| scopes.iter().any(|s| str_implies(s, needed)))
}

/// The serde form of a policy, for embedding in a larger configuration file.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct ServerConfig {
///     listen: String,
///     rbac: mlguard_rbac::PolicyConfig,
/// }
/// let cfg: ServerConfig = toml::from_str(r#"
///     listen = "127.0.0.1:8080"
///     [rbac.roles.user]
///     permissions = ["model:predict"]
/// "#)?;
/// let policy = cfg.rbac.build()?;
/// assert_eq!(policy.roles(), ["user"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Role name -> definition.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
}

/// One role in a [`PolicyConfig`].
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Permissions granted by the role itself.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Roles whose permissions this role also has.
    #[serde(default)]
    pub inherits: Vec<String>,
}

impl PolicyConfig {
    /// Validates and builds the policy.
    pub fn build(self) -> Result<Policy, RbacError> {
        let mut b = Policy::builder();
        for (name, role) in self.roles {
            for parent in &role.inherits {
                b = b.inherit(&name, parent);
            }
            b = b.role(name, role.permissions);
        }
        b.build()
    }
}

/// Builds a [`Policy`]; nothing is checked until [`build`](Self::build).
#[derive(Debug, Default)]
#[must_use]
pub struct PolicyBuilder {
    roles: Vec<(String, Vec<String>)>,
    inherits: Vec<(String, String)>,
}

impl PolicyBuilder {
    /// Defines `role` with the permissions it grants itself. Defining a role twice is an error.
    pub fn role<I, P>(mut self, role: impl Into<String>, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.roles
            .push((role.into(), permissions.into_iter().map(Into::into).collect()));
        self
    }

    /// Makes `role` include `parent`: everything `parent` can do (transitively), `role` can do.
    pub fn inherit(mut self, role: impl Into<String>, parent: impl Into<String>) -> Self {
        self.inherits.push((role.into(), parent.into()));
        self
    }

    /// Validates everything and precomputes each role's effective permissions.
    ///
    /// ```
    /// use mlguard_rbac::{Policy, RbacError};
    /// let err = Policy::builder()
    ///     .role("a", ["x:y"])
    ///     .role("b", ["x:z"])
    ///     .inherit("a", "b")
    ///     .inherit("b", "a")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, RbacError::InheritanceCycle { .. }));
    /// ```
    pub fn build(self) -> Result<Policy, RbacError> {
        let mut own: BTreeMap<String, Vec<Permission>> = BTreeMap::new();
        for (role, perms) in self.roles {
            if !valid_role_name(&role) {
                return Err(RbacError::InvalidRoleName { role });
            }
            let mut parsed = Vec::with_capacity(perms.len());
            for p in perms {
                match Permission::parse(&p) {
                    Ok(perm) => parsed.push(perm),
                    Err(source) => {
                        return Err(RbacError::InvalidPermission {
                            context: format!("role {role:?}"),
                            permission: p,
                            source,
                        });
                    }
                }
            }
            if own.contains_key(&role) {
                return Err(RbacError::DuplicateRole { role });
            }
            own.insert(role, parsed);
        }
        let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (role, parent) in &self.inherits {
            for (name, referenced_by) in [
                (role, "an inherit() call".to_owned()),
                (parent, format!("role {role:?}")),
            ] {
                if !own.contains_key(name) {
                    return Err(RbacError::UnknownRole {
                        role: name.clone(),
                        referenced_by,
                    });
                }
            }
            parents.entry(role.as_str()).or_default().insert(parent.as_str());
        }
        if let Some(cycle) = find_cycle(own.keys().map(String::as_str), &parents) {
            return Err(RbacError::InheritanceCycle { cycle });
        }
        let mut roles = HashMap::with_capacity(own.len());
        for name in own.keys() {
            let includes = closure(name, &parents);
            let mut effective = PermissionSet::default();
            for included in &includes {
                for p in own.get(included.as_str()).into_iter().flatten() {
                    effective.insert(p.clone());
                }
            }
            roles.insert(name.clone(), Role { includes, effective });
        }
        Ok(Policy {
            roles: Arc::new(roles),
        })
    }
}

/// `role` and every role it includes (the graph is known to be acyclic).
fn closure(role: &str, parents: &BTreeMap<&str, BTreeSet<&str>>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![role];
    while let Some(r) = stack.pop() {
        if seen.insert(r.to_owned()) {
            stack.extend(parents.get(r).into_iter().flatten().copied());
        }
    }
    seen
}

/// A cycle in the inheritance graph, as a path whose first role is repeated at the end.
fn find_cycle<'a>(
    roles: impl Iterator<Item = &'a str>,
    parents: &BTreeMap<&'a str, BTreeSet<&'a str>>,
) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    for start in roles {
        if marks.contains_key(start) {
            continue;
        }
        // Iterative DFS: (node, its parents still to visit); `path` mirrors the stack.
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, next_of(start, parents))];
        marks.insert(start, Mark::Active);
        while let Some((node, pending)) = stack.last_mut() {
            let node = *node;
            match pending.pop() {
                Some(next) => match marks.get(next) {
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                        cycle.push(next.to_owned());
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(next, Mark::Active);
                        stack.push((next, next_of(next, parents)));
                    }
                },
                None => {
                    marks.insert(node, Mark::Done);
                    stack.pop();
                }
            }
        }
    }
    None
}

fn next_of<'a>(node: &str, parents: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<&'a str> {
    // Reversed so that `pop` visits parents in sorted order (deterministic error messages).
    parents
        .get(node)
        .map(|p| p.iter().rev().copied().collect())
        .unwrap_or_default()
}
