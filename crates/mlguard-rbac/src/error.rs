//! [`RbacError`]: everything that can be wrong with a policy, a route map or a requirement.
//!
//! All of these are configuration mistakes, reported once at construction; none can happen
//! while serving a request.

use crate::PermissionError;

/// A configuration error found while building a policy, a route map or a layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RbacError {
    /// A permission string does not follow the grammar (see [`crate::permission`]).
    #[error("invalid permission {permission:?} in {context}: {source}")]
    InvalidPermission {
        /// Where it appeared (`role "admin"`, `route POST /predict`, ...).
        context: String,
        /// The offending string.
        permission: String,
        /// What is wrong with it.
        #[source]
        source: PermissionError,
    },
    /// A role name outside `[A-Za-z0-9_.-]{1,64}`.
    #[error("invalid role name {role:?}: use 1 to 64 of A-Z a-z 0-9 _ . -")]
    InvalidRoleName {
        /// The offending name.
        role: String,
    },
    /// The same role was defined twice.
    #[error("role {role:?} is defined more than once")]
    DuplicateRole {
        /// The role.
        role: String,
    },
    /// A role inherits from, or a requirement names, a role the policy does not define.
    #[error("unknown role {role:?} (referenced by {referenced_by})")]
    UnknownRole {
        /// The undefined role.
        role: String,
        /// What referred to it (`role "admin"`, `RequireRoleLayer`, ...).
        referenced_by: String,
    },
    /// Roles inherit from each other in a loop; `cycle` lists it, first role repeated last.
    #[error("role inheritance cycle: {}", cycle.join(" -> "))]
    InheritanceCycle {
        /// The roles on the loop, e.g. `["a", "b", "a"]`.
        cycle: Vec<String>,
    },
    /// The TOML policy could not be parsed.
    #[error("invalid policy TOML: {0}")]
    Toml(#[from] toml::de::Error),
    /// The policy file could not be read.
    #[error("cannot read policy file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A route path that does not start with `/`.
    #[error("invalid route path {path:?}: it must start with '/'")]
    InvalidRoutePath {
        /// The path.
        path: String,
    },
    /// The same method and path were mapped twice.
    #[error("route {route} is mapped more than once")]
    DuplicateRoute {
        /// `METHOD /path` (or `* /path` for any method).
        route: String,
    },
}
