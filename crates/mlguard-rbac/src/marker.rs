//! Marker types that name a permission or a role at the type level, for the extractors.
//!
//! Declare them with [`permission_marker!`](crate::permission_marker) and
//! [`role_marker!`](crate::role_marker); a malformed permission string is then a *compile*
//! error:
//!
//! ```compile_fail
//! mlguard_rbac::permission_marker!(Bad = "Model:Predict");
//! ```

/// A type that names the permission a handler needs.
pub trait RequiredPermission: Send + Sync + 'static {
    /// The permission, following the grammar in [`crate::permission`].
    const PERMISSION: &'static str;
}

/// A type that names the role a handler needs.
pub trait RequiredRole: Send + Sync + 'static {
    /// The role, which the policy must define.
    const ROLE: &'static str;
}

/// Declares a unit struct implementing [`RequiredPermission`], checking the string at compile
/// time.
///
/// ```
/// mlguard_rbac::permission_marker!(
///     /// Calling the model.
///     pub ModelPredict = "model:predict"
/// );
/// use mlguard_rbac::RequiredPermission;
/// assert_eq!(ModelPredict::PERMISSION, "model:predict");
/// ```
#[macro_export]
macro_rules! permission_marker {
    ($(#[$meta:meta])* $vis:vis $name:ident = $permission:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;
        impl $crate::RequiredPermission for $name {
            const PERMISSION: &'static str = $permission;
        }
        const _: () = ::core::assert!(
            $crate::permission::check($permission).is_ok(),
            "malformed permission: see mlguard_rbac::permission for the grammar"
        );
    };
}

/// Declares a unit struct implementing [`RequiredRole`]. Whether the policy defines the role
/// can only be known at run time: an undefined role answers 500 and logs an error.
///
/// ```
/// mlguard_rbac::role_marker!(
///     /// Administrators.
///     pub Admin = "admin"
/// );
/// use mlguard_rbac::RequiredRole;
/// assert_eq!(Admin::ROLE, "admin");
/// ```
#[macro_export]
macro_rules! role_marker {
    ($(#[$meta:meta])* $vis:vis $name:ident = $role:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        $vis struct $name;
        impl $crate::RequiredRole for $name {
            const ROLE: &'static str = $role;
        }
    };
}
