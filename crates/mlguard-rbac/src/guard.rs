//! Deny by default: [`GuardLayer`] checks every request against a [`PermissionMap`] of
//! method + route -> [`Requirement`], and refuses routes the map does not name.
//!
//! Per-route layers have a failure mode that no type checker catches: a new route is added
//! and nobody remembers to put a `RequirePermissionLayer` on it (OWASP API5, broken
//! function-level authorization). Put a `GuardLayer` on the whole router and that route answers
//! 403 (and logs a warning naming it) until someone decides what it requires, `Public`
//! included: a health check must be declared public explicitly.
//!
//! Routes are looked up by the route *template* axum matched (`/models/{id}`, read from
//! `axum::extract::MatchedPath`, with the `axum` feature), or by the literal request path when
//! there is none (plain tower services). So write the map's paths exactly as the router's. A
//! `HEAD` request without its own entry uses the `GET` entry (axum answers `HEAD` with the `GET`
//! handler). A request that matches no route at all (axum's 404 fallback) is also unmapped
//! and gets 403, which does not tell a scanner which paths exist.

use crate::authorizer::Site;
use crate::{Authorizer, Permission, RbacError, Requirement};
use http::{Method, Request};
use mlguard_core::ResponseFuture;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// A validated map of method + route to [`Requirement`]. Build with [`PermissionMap::builder`].
#[derive(Clone, Default)]
pub struct PermissionMap {
    // Route -> its entries; `None` method = any method. Keyed by the route alone so that a
    // request's lookup borrows its path (no copy per request).
    routes: HashMap<String, Vec<(Option<Method>, Requirement)>>,
}

impl fmt::Debug for PermissionMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut entries: Vec<String> = self
            .requirements()
            .map(|(label, r)| format!("{label} => {r}"))
            .collect();
        entries.sort();
        f.debug_struct("PermissionMap").field("routes", &entries).finish()
    }
}

impl PermissionMap {
    /// Starts a map.
    pub fn builder() -> PermissionMapBuilder {
        PermissionMapBuilder::default()
    }

    /// The requirement for `method` on `route`: an exact method entry, else an any-method
    /// entry, else (for `HEAD`) the `GET` entry. `None` means unmapped: denied.
    ///
    /// ```
    /// use http::Method;
    /// use mlguard_rbac::{PermissionMap, Requirement};
    /// let map = PermissionMap::builder()
    ///     .permission(Method::POST, "/predict", "model:predict")
    ///     .public(Method::GET, "/health")
    ///     .build()?;
    /// assert_eq!(map.lookup(&Method::HEAD, "/health"), Some(&Requirement::Public));
    /// assert_eq!(map.lookup(&Method::GET, "/predict"), None);
    /// # Ok::<(), mlguard_rbac::RbacError>(())
    /// ```
    pub fn lookup(&self, method: &Method, route: &str) -> Option<&Requirement> {
        let entries = self.routes.get(route)?;
        let get = |m: Option<&Method>| {
            entries
                .iter()
                .find(|(method, _)| method.as_ref() == m)
                .map(|(_, r)| r)
        };
        get(Some(method)).or_else(|| get(None)).or_else(|| {
            if method == Method::HEAD {
                get(Some(&Method::GET))
            } else {
                None
            }
        })
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.routes.values().map(Vec::len).sum()
    }

    /// Whether there are no entries (a guard with an empty map refuses everything).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    fn requirements(&self) -> impl Iterator<Item = (String, &Requirement)> {
        self.routes.iter().flat_map(|(p, entries)| {
            entries
                .iter()
                .map(move |(m, r)| (format!("{} {p}", m.as_ref().map_or("*", Method::as_str)), r))
        })
    }
}

enum RawRequirement {
    Ready(Requirement),
    Permission(String),
}

/// Builds a [`PermissionMap`]; checked at [`build`](Self::build).
#[derive(Default)]
#[must_use]
pub struct PermissionMapBuilder {
    entries: Vec<(Option<Method>, String, RawRequirement)>,
}

impl fmt::Debug for PermissionMapBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermissionMapBuilder")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl PermissionMapBuilder {
    /// `method route` requires `permission`.
    pub fn permission(
        mut self,
        method: Method,
        route: impl Into<String>,
        permission: impl Into<String>,
    ) -> Self {
        self.entries.push((
            Some(method),
            route.into(),
            RawRequirement::Permission(permission.into()),
        ));
        self
    }

    /// `method route` requires `role` (checked against the policy by [`GuardLayer::try_new`]).
    pub fn role(self, method: Method, route: impl Into<String>, role: impl Into<String>) -> Self {
        self.requirement(Some(method), route, Requirement::Role(role.into()))
    }

    /// `method route` needs any principal.
    pub fn authenticated(self, method: Method, route: impl Into<String>) -> Self {
        self.requirement(Some(method), route, Requirement::Authenticated)
    }

    /// `method route` is open to anyone.
    pub fn public(self, method: Method, route: impl Into<String>) -> Self {
        self.requirement(Some(method), route, Requirement::Public)
    }

    /// Any entry; `method` `None` means every method not mapped on its own.
    pub fn requirement(
        mut self,
        method: Option<Method>,
        route: impl Into<String>,
        requirement: Requirement,
    ) -> Self {
        self.entries
            .push((method, route.into(), RawRequirement::Ready(requirement)));
        self
    }

    /// Validates paths and permissions and rejects duplicate entries.
    pub fn build(self) -> Result<PermissionMap, RbacError> {
        let mut routes: HashMap<String, Vec<(Option<Method>, Requirement)>> = HashMap::new();
        for (method, path, raw) in self.entries {
            let label = format!("{} {path}", method.as_ref().map_or("*", Method::as_str));
            if !path.starts_with('/') {
                return Err(RbacError::InvalidRoutePath { path });
            }
            let requirement = match raw {
                RawRequirement::Ready(r) => r,
                RawRequirement::Permission(p) => match Permission::parse(&p) {
                    Ok(p) => Requirement::Permission(p),
                    Err(source) => {
                        return Err(RbacError::InvalidPermission {
                            context: format!("route {label}"),
                            permission: p,
                            source,
                        });
                    }
                },
            };
            let entries = routes.entry(path).or_default();
            if entries.iter().any(|(m, _)| *m == method) {
                return Err(RbacError::DuplicateRoute { route: label });
            }
            entries.push((method, requirement));
        }
        Ok(PermissionMap { routes })
    }
}

/// Checks every request against a [`PermissionMap`]; unmapped routes get 403 (or, in dry-run
/// mode, pass with a warning). See the [module docs](self).
///
/// ```
/// use http::{Method, Request, Response, StatusCode};
/// use mlguard_rbac::{Authorizer, GuardLayer, PermissionMap, Policy};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let authz = Authorizer::new(Policy::builder().role("user", ["model:predict"]).build()?);
/// let map = PermissionMap::builder()
///     .public(Method::GET, "/health")
///     .permission(Method::POST, "/predict", "model:predict")
///     .build()?;
/// let svc = ServiceBuilder::new()
///     .layer(GuardLayer::try_new(&authz, map)?)
///     .service_fn(|_req: Request<()>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
///
/// let get = |path: &str| Request::get(path).body(()).unwrap();
/// assert_eq!(svc.clone().oneshot(get("/health")).await?.status(), StatusCode::OK);
/// assert_eq!(svc.oneshot(get("/admin")).await?.status(), StatusCode::FORBIDDEN);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct GuardLayer {
    authorizer: Authorizer,
    map: Arc<PermissionMap>,
}

impl GuardLayer {
    /// A guard for `map` under `authorizer`; every role the map names must be defined.
    pub fn try_new(authorizer: &Authorizer, map: PermissionMap) -> Result<Self, RbacError> {
        for (label, requirement) in map.requirements() {
            authorizer.validate(requirement, &format!("route {label}"))?;
        }
        Ok(Self {
            authorizer: authorizer.clone(),
            map: Arc::new(map),
        })
    }

    /// Overrides the authorizer's dry-run setting for this guard.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.authorizer = self.authorizer.dry_run(dry_run);
        self
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            authorizer: self.authorizer.clone(),
            map: self.map.clone(),
        }
    }
}

/// The service made by [`GuardLayer`].
#[derive(Clone, Debug)]
pub struct Guard<S> {
    inner: S,
    authorizer: Authorizer,
    map: Arc<PermissionMap>,
}

/// The longest route logged; a client picks unmapped paths, so bound what reaches the logs.
const MAX_LOGGED_ROUTE: usize = 256;

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn route_of<B>(req: &Request<B>) -> &str {
    #[cfg(feature = "axum")]
    if let Some(matched) = req.extensions().get::<axum::extract::MatchedPath>() {
        return matched.as_str();
    }
    req.uri().path()
}

impl<S, B, ResBody> Service<Request<B>> for Guard<S>
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
        let route = route_of(&req);
        let site = Site {
            method: Some(req.method().as_str()),
            route: Some(truncate(route, MAX_LOGGED_ROUTE)),
        };
        let requirement = self.map.lookup(req.method(), route);
        let verdict = self
            .authorizer
            .check_request(req.extensions(), req.headers(), requirement, site);
        match verdict {
            None => ResponseFuture::inner(self.inner.call(req)),
            Some(problem) => ResponseFuture::reject(problem),
        }
    }
}
