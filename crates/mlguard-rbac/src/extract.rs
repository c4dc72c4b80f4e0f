//! axum extractors: [`Authorized<P>`] (a permission) and [`HasRole<R>`] (a role).
//!
//! Both read the [`Authorizer`] from the router state (`Authorizer: FromRef<S>`), so a router
//! without one does not compile, and the [`Principal`] from the request extensions. They
//! answer exactly like the layers (401 / 403 problem bodies, `insufficient_scope` for bearer
//! tokens, one `tracing` event per decision, dry-run).

use crate::authorizer::Site;
use crate::{Authorizer, Permission, RequiredPermission, RequiredRole, Requirement};
use axum::extract::{FromRef, FromRequestParts, MatchedPath};
use http::StatusCode;
use http::request::Parts;
use mlguard_core::{Principal, Problem};
use std::fmt;
use std::marker::PhantomData;

/// Extracts only when the caller may do `P::PERMISSION`.
///
/// ```
/// use axum::{Router, extract::FromRef, routing::post};
/// use mlguard_rbac::{Authorized, Authorizer, Policy, permission_marker};
///
/// permission_marker!(ModelPredict = "model:predict");
///
/// #[derive(Clone, FromRef)]
/// struct AppState {
///     authz: Authorizer,
/// }
///
/// async fn predict(auth: Authorized<ModelPredict>) -> String {
///     format!("hello {}", auth.principal().map_or("?", |p| p.subject()))
/// }
///
/// let authz = Authorizer::new(Policy::builder().role("user", ["model:predict"]).build()?);
/// let app: Router = Router::new().route("/predict", post(predict)).with_state(AppState { authz });
/// # Ok::<(), mlguard_rbac::RbacError>(())
/// ```
pub struct Authorized<P> {
    principal: Option<Principal>,
    _marker: PhantomData<fn() -> P>,
}

/// Extracts only when the caller holds `R::ROLE` (or a role that includes it).
pub struct HasRole<R> {
    principal: Option<Principal>,
    _marker: PhantomData<fn() -> R>,
}

macro_rules! accessors {
    ($ty:ident, $bound:ident) => {
        impl<T: $bound> $ty<T> {
            /// The authorized principal; `None` only in dry-run mode, when a request without
            /// one was let through.
            pub fn principal(&self) -> Option<&Principal> {
                self.principal.as_ref()
            }

            /// The principal, by value.
            pub fn into_principal(self) -> Option<Principal> {
                self.principal
            }
        }

        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("principal", &self.principal)
                    .finish()
            }
        }
    };
}
accessors!(Authorized, RequiredPermission);
accessors!(HasRole, RequiredRole);

fn misconfigured(what: &str) -> Problem {
    tracing::error!(target: "mlguard_rbac", requirement = what, "authorization misconfigured: request refused");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Authorization is misconfigured",
    )
}

/// The rejection to send, or the principal (if any) to hand to the handler.
fn check(
    parts: &Parts,
    authz: &Authorizer,
    requirement: &Requirement,
) -> Result<Option<Principal>, Box<Problem>> {
    let site = Site {
        method: Some(parts.method.as_str()),
        route: parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str),
    };
    match authz.check_request(&parts.extensions, &parts.headers, Some(requirement), site) {
        Some(problem) => Err(Box::new(problem)),
        None => Ok(Principal::from_extensions(&parts.extensions).cloned()),
    }
}

impl<S, P> FromRequestParts<S> for Authorized<P>
where
    S: Send + Sync,
    P: RequiredPermission,
    Authorizer: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A malformed `P::PERMISSION` fails the build here.
        const {
            assert!(
                crate::permission::check(P::PERMISSION).is_ok(),
                "malformed RequiredPermission::PERMISSION"
            );
        }
        let authz = Authorizer::from_ref(state);
        let permission = Permission::parse(P::PERMISSION).map_err(|_| misconfigured(P::PERMISSION))?;
        let principal = check(parts, &authz, &Requirement::Permission(permission)).map_err(|p| *p)?;
        Ok(Self {
            principal,
            _marker: PhantomData,
        })
    }
}

impl<S, R> FromRequestParts<S> for HasRole<R>
where
    S: Send + Sync,
    R: RequiredRole,
    Authorizer: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authz = Authorizer::from_ref(state);
        let requirement = Requirement::Role(R::ROLE.to_owned());
        if authz.validate(&requirement, "HasRole").is_err() {
            return Err(misconfigured(R::ROLE));
        }
        let principal = check(parts, &authz, &requirement).map_err(|p| *p)?;
        Ok(Self {
            principal,
            _marker: PhantomData,
        })
    }
}
