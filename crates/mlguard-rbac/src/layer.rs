//! [`RequirePermissionLayer`] and [`RequireRoleLayer`]: one requirement on a route or router.

use crate::authorizer::Site;
use crate::{Authorizer, Permission, RbacError, Requirement};
use http::Request;
use mlguard_core::{ResponseFuture, WwwAuthenticate};
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Requires a permission on every request to the wrapped service.
///
/// The [`Principal`](mlguard_core::Principal) must be in the request extensions (an
/// authentication layer put it there, so this layer goes *inside* it). A request marked
/// [`Anonymous`](mlguard_core::Anonymous) (no credentials): 401 with the authorizer's
/// challenge. Neither (no authentication layer ran): 500 `server misconfigured` and a logged
/// error naming the fix. Not allowed: 403, with `WWW-Authenticate: Bearer error="insufficient_scope",
/// scope="<permission>"` for bearer-token principals.
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use mlguard_core::Principal;
/// use mlguard_rbac::{Authorizer, Policy, RequirePermissionLayer};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let authz = Authorizer::new(Policy::builder().role("user", ["model:predict"]).build()?);
/// let svc = ServiceBuilder::new()
///     .layer(RequirePermissionLayer::try_new(&authz, "model:predict")?)
///     .service_fn(|_req: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
///
/// let mut req = Request::new(());
/// req.extensions_mut().insert(Principal::builder("bob").role("guest").build());
/// let res = svc.clone().oneshot(req).await?;
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
///
/// let mut anonymous = Request::new(());
/// anonymous.extensions_mut().insert(mlguard_core::Anonymous);
/// let res = svc.clone().oneshot(anonymous).await?;
/// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
///
/// // No authentication layer in front: the server's mistake.
/// let res = svc.oneshot(Request::new(())).await?;
/// assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RequirePermissionLayer {
    inner: AuthorizeLayer,
}

impl RequirePermissionLayer {
    /// Requires `permission` under `authorizer`'s policy and settings.
    pub fn new(authorizer: &Authorizer, permission: Permission) -> Self {
        Self {
            inner: AuthorizeLayer::new(authorizer.clone(), Requirement::Permission(permission)),
        }
    }

    /// Parses `permission` and requires it.
    pub fn try_new(authorizer: &Authorizer, permission: &str) -> Result<Self, RbacError> {
        let permission = Permission::parse(permission).map_err(|source| RbacError::InvalidPermission {
            context: "RequirePermissionLayer".to_owned(),
            permission: permission.to_owned(),
            source,
        })?;
        Ok(Self::new(authorizer, permission))
    }

    /// Overrides the authorizer's dry-run setting for this layer.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.inner.authorizer = self.inner.authorizer.dry_run(dry_run);
        self
    }

    /// Overrides the authorizer's 401 challenge for this layer.
    pub fn challenge(mut self, challenge: WwwAuthenticate) -> Self {
        self.inner.authorizer = self.inner.authorizer.challenge(challenge);
        self
    }
}

/// Requires a role (or a role that includes it) on every request to the wrapped service.
///
/// Answers like [`RequirePermissionLayer`]. The role must be defined by the policy: naming an
/// undefined role is an error at construction, not a route nobody can reach. When the
/// principal's token carries a scope, the scope must cover all the role's permissions (see
/// [`Policy::has_role`](crate::Policy::has_role)). Prefer permissions: roles are coarse.
///
/// ```
/// use mlguard_rbac::{Authorizer, Policy, RequireRoleLayer};
/// let authz = Authorizer::new(Policy::builder().role("admin", ["*"]).build()?);
/// assert!(RequireRoleLayer::try_new(&authz, "admin").is_ok());
/// assert!(RequireRoleLayer::try_new(&authz, "root").is_err());
/// # Ok::<(), mlguard_rbac::RbacError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct RequireRoleLayer {
    inner: AuthorizeLayer,
}

impl RequireRoleLayer {
    /// Requires `role`, which `authorizer`'s policy must define.
    pub fn try_new(authorizer: &Authorizer, role: &str) -> Result<Self, RbacError> {
        let requirement = Requirement::Role(role.to_owned());
        authorizer.validate(&requirement, "RequireRoleLayer")?;
        Ok(Self {
            inner: AuthorizeLayer::new(authorizer.clone(), requirement),
        })
    }

    /// Overrides the authorizer's dry-run setting for this layer.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.inner.authorizer = self.inner.authorizer.dry_run(dry_run);
        self
    }

    /// Overrides the authorizer's 401 challenge for this layer.
    pub fn challenge(mut self, challenge: WwwAuthenticate) -> Self {
        self.inner.authorizer = self.inner.authorizer.challenge(challenge);
        self
    }
}

#[derive(Clone, Debug)]
struct AuthorizeLayer {
    authorizer: Authorizer,
    requirement: Arc<Requirement>,
}

impl AuthorizeLayer {
    fn new(authorizer: Authorizer, requirement: Requirement) -> Self {
        Self {
            authorizer,
            requirement: Arc::new(requirement),
        }
    }

    fn service<S>(&self, inner: S) -> Authorize<S> {
        Authorize {
            inner,
            authorizer: self.authorizer.clone(),
            requirement: self.requirement.clone(),
        }
    }
}

impl<S> Layer<S> for RequirePermissionLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.inner.service(inner)
    }
}

impl<S> Layer<S> for RequireRoleLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.inner.service(inner)
    }
}

/// The service made by [`RequirePermissionLayer`] and [`RequireRoleLayer`].
#[derive(Clone, Debug)]
pub struct Authorize<S> {
    inner: S,
    authorizer: Authorizer,
    requirement: Arc<Requirement>,
}

impl<S, B, ResBody> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<mlguard_core::ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let site = Site {
            method: Some(req.method().as_str()),
            route: None,
        };
        match self
            .authorizer
            .check_request(req.extensions(), req.headers(), Some(&self.requirement), site)
        {
            None => ResponseFuture::inner(self.inner.call(req)),
            Some(problem) => ResponseFuture::reject(problem),
        }
    }
}
