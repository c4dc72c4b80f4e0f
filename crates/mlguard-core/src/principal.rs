//! Who the caller is: the [`Principal`] that authentication writes and everything else reads.
//!
//! Authentication layers (API key, JWT, or a service's own) insert a `Principal` into the
//! request extensions. Authorization reads its roles and scope, rate limiting keys on its typed
//! [`PrincipalId`] (never the bare subject: an API key and a user may share a name), handlers
//! read it to know who asked. Because the type lives here and not in the auth
//! crate, a service can swap mlguard's authentication for its own and keep the other layers.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// How a principal proved who it is.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// An API key; `key_id` is the public identifier of the key, never the secret.
    ApiKey {
        /// The key's public id.
        key_id: String,
    },
    /// A bearer token (JWT); `token_id` is its `jti` when it has one.
    Bearer {
        /// The token's `jti` claim.
        token_id: Option<String>,
    },
    /// Anything else (mTLS, a session, a test), named by the authenticating layer.
    Other(String),
}

impl AuthMethod {
    /// A short, log-safe name: `api_key`, `bearer` or the `Other` name.
    pub fn kind(&self) -> &str {
        match self {
            Self::ApiKey { .. } => "api_key",
            Self::Bearer { .. } => "bearer",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey { key_id } => f.debug_struct("ApiKey").field("key_id", key_id).finish(),
            Self::Bearer { token_id } => f.debug_struct("Bearer").field("token_id", token_id).finish(),
            Self::Other(name) => f.debug_tuple("Other").field(name).finish(),
        }
    }
}

/// A principal's identity, typed by how it authenticated: what per-principal state (quotas,
/// in-flight caps, budgets) should be keyed on.
///
/// The subject alone is free text chosen by whoever names the credential: an API key *named*
/// `admin` has the subject `admin`, like the user `admin`. Keying on the subject merges their
/// buckets, so one can spend the other's quota. A `PrincipalId` keeps them apart:
///
/// | how the principal authenticated | its id |
/// |---|---|
/// | API key | the key id (server-generated, unique; not the key's name) |
/// | bearer token | the token's subject (`sub`: the user) |
/// | anything else | the method's name and the subject |
///
/// Its [`Display`](fmt::Display) form is unambiguous (different ids never print the same), so it
/// can be a key in an external store: `api_key:<key id>`, `bearer:<subject>`,
/// `other:<length of name>:<name>:<subject>`.
///
/// ```
/// use mlguard_core::{AuthMethod, Principal, PrincipalId};
///
/// let key = Principal::builder("admin")
///     .method(AuthMethod::ApiKey { key_id: "k1".into() })
///     .build();
/// let user = Principal::builder("admin")
///     .method(AuthMethod::Bearer { token_id: None })
///     .build();
/// assert_eq!(key.subject(), user.subject());
/// assert_ne!(key.id(), user.id());
/// assert_eq!(key.id(), PrincipalId::ApiKey("k1".into()));
/// assert_eq!(user.id().to_string(), "bearer:admin");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PrincipalId {
    /// A caller that used an API key: the key's public id.
    ApiKey(String),
    /// A caller that used a bearer token: its subject.
    Bearer(String),
    /// A caller authenticated some other way ([`AuthMethod::Other`]).
    Other {
        /// The method's name.
        method: String,
        /// The subject.
        subject: String,
    },
}

impl PrincipalId {
    /// The kind: `api_key`, `bearer` or `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ApiKey(_) => "api_key",
            Self::Bearer(_) => "bearer",
            Self::Other { .. } => "other",
        }
    }
}

impl PrincipalId {
    /// The same id, borrowed.
    pub fn as_id_ref(&self) -> PrincipalIdRef<'_> {
        match self {
            Self::ApiKey(id) => PrincipalIdRef::ApiKey(id),
            Self::Bearer(subject) => PrincipalIdRef::Bearer(subject),
            Self::Other { method, subject } => PrincipalIdRef::Other { method, subject },
        }
    }
}

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_id_ref(), f)
    }
}

/// A [`PrincipalId`] borrowed from its [`Principal`] ([`Principal::id_ref`]): the same id and
/// the same [`Display`](fmt::Display) form, without copying the strings, for code that only
/// reads or prints the id on every request (a rate-limit key).
///
/// ```
/// use mlguard_core::{AuthMethod, Principal};
///
/// let key = Principal::builder("admin")
///     .method(AuthMethod::ApiKey { key_id: "k1".into() })
///     .build();
/// assert_eq!(key.id_ref().to_string(), key.id().to_string());
/// assert_eq!(key.id_ref().to_owned(), key.id());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrincipalIdRef<'a> {
    /// As [`PrincipalId::ApiKey`].
    ApiKey(&'a str),
    /// As [`PrincipalId::Bearer`].
    Bearer(&'a str),
    /// As [`PrincipalId::Other`].
    Other {
        /// The method's name.
        method: &'a str,
        /// The subject.
        subject: &'a str,
    },
}

impl PrincipalIdRef<'_> {
    /// The owned id.
    pub fn to_owned(self) -> PrincipalId {
        match self {
            Self::ApiKey(id) => PrincipalId::ApiKey(id.to_owned()),
            Self::Bearer(subject) => PrincipalId::Bearer(subject.to_owned()),
            Self::Other { method, subject } => PrincipalId::Other {
                method: method.to_owned(),
                subject: subject.to_owned(),
            },
        }
    }
}

impl fmt::Display for PrincipalIdRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(id) => write!(f, "api_key:{id}"),
            Self::Bearer(subject) => write!(f, "bearer:{subject}"),
            // The name's length makes the split between name and subject unambiguous.
            Self::Other { method, subject } => write!(f, "other:{}:{method}:{subject}", method.len()),
        }
    }
}

#[derive(PartialEq, Eq)]
struct Inner {
    subject: String,
    roles: BTreeSet<String>,
    permissions: BTreeSet<String>,
    scopes: Option<BTreeSet<String>>,
    method: AuthMethod,
    expires_at: Option<SystemTime>,
}

/// An authenticated caller. Cheap to clone (one `Arc`); its `Debug` output holds no secret
/// (it never holds one: only the subject, roles, scope, key id or token id, and expiry).
///
/// ```
/// use mlguard_core::{AuthMethod, Principal};
///
/// let p = Principal::builder("alice")
///     .role("admin")
///     .scopes(["model:predict"])
///     .method(AuthMethod::Bearer { token_id: Some("t-1".into()) })
///     .build();
/// assert!(p.has_role("admin"));
/// assert_eq!(p.scopes().map(|s| s.len()), Some(1));
///
/// // Authentication layers write it into the request; others read it from there.
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(p.clone());
/// assert_eq!(Principal::from_extensions(request.extensions()).map(|p| p.subject()), Some("alice"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    inner: Arc<Inner>,
}

impl Principal {
    /// Starts building a principal for `subject` (a user name, a key name, a service id).
    pub fn builder(subject: impl Into<String>) -> PrincipalBuilder {
        PrincipalBuilder {
            inner: Inner {
                subject: subject.into(),
                roles: BTreeSet::new(),
                permissions: BTreeSet::new(),
                scopes: None,
                method: AuthMethod::Other("unspecified".into()),
                expires_at: None,
            },
        }
    }

    /// The principal written into `extensions` by an authentication layer, if any.
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&Principal> {
        extensions.get::<Principal>()
    }

    /// Who the caller is.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// The caller's roles.
    pub fn roles(&self) -> &BTreeSet<String> {
        &self.inner.roles
    }

    /// Whether the caller has `role` (exact match; inheritance is the policy's business).
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.roles.contains(role)
    }

    /// Permissions granted directly to this principal (besides those of its roles).
    pub fn permissions(&self) -> &BTreeSet<String> {
        &self.inner.permissions
    }

    /// The token's scope, when the principal came from a token that carried one. `None` means
    /// "not narrowed": the roles' permissions apply in full.
    pub fn scopes(&self) -> Option<&BTreeSet<String>> {
        self.inner.scopes.as_ref()
    }

    /// How the caller authenticated.
    pub fn method(&self) -> &AuthMethod {
        &self.inner.method
    }

    /// The API key id, when the caller used an API key.
    pub fn api_key_id(&self) -> Option<&str> {
        match &self.inner.method {
            AuthMethod::ApiKey { key_id } => Some(key_id),
            _ => None,
        }
    }

    /// The token id (`jti`), when the caller used a bearer token that had one.
    pub fn token_id(&self) -> Option<&str> {
        match &self.inner.method {
            AuthMethod::Bearer { token_id } => token_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the caller authenticated with a bearer token (RFC 6750 challenges apply).
    pub fn is_bearer(&self) -> bool {
        matches!(self.inner.method, AuthMethod::Bearer { .. })
    }

    /// When the credential expires, if it does.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.inner.expires_at
    }

    /// The typed identity to key per-principal state on (quotas, in-flight caps); unlike the
    /// [`subject`](Self::subject), it tells an API key from a user of the same name. See
    /// [`PrincipalId`].
    pub fn id(&self) -> PrincipalId {
        self.id_ref().to_owned()
    }

    /// [`id`](Self::id), borrowed from the principal (no copy).
    pub fn id_ref(&self) -> PrincipalIdRef<'_> {
        match &self.inner.method {
            AuthMethod::ApiKey { key_id } => PrincipalIdRef::ApiKey(key_id),
            AuthMethod::Bearer { .. } => PrincipalIdRef::Bearer(&self.inner.subject),
            AuthMethod::Other(method) => PrincipalIdRef::Other {
                method,
                subject: &self.inner.subject,
            },
        }
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.inner.subject)
            .field("roles", &self.inner.roles)
            .field("permissions", &self.inner.permissions)
            .field("scopes", &self.inner.scopes)
            .field("method", &self.inner.method)
            .field("expires_at", &self.inner.expires_at)
            .finish()
    }
}

/// Builds a [`Principal`]; see [`Principal::builder`].
#[derive(Debug)]
#[must_use]
pub struct PrincipalBuilder {
    inner: Inner,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrincipalBuilder")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl PrincipalBuilder {
    /// Adds a role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.inner.roles.insert(role.into());
        self
    }

    /// Adds roles.
    pub fn roles<I, R>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<String>,
    {
        self.inner.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds a permission granted directly (not through a role).
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        self.inner.permissions.insert(permission.into());
        self
    }

    /// Sets the token scope that narrows the principal's permissions.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets how the principal authenticated.
    pub fn method(mut self, method: AuthMethod) -> Self {
        self.inner.method = method;
        self
    }

    /// Sets when the credential expires.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.inner.expires_at = Some(at);
        self
    }

    /// Finishes the principal.
    pub fn build(self) -> Principal {
        Principal {
            inner: Arc::new(self.inner),
        }
    }
}

/// The mark an authentication layer leaves on a request it lets through *without* a
/// [`Principal`] (optional authentication: public routes behind one layer).
///
/// Layers that read a principal (permissions, per-principal quotas) tell two cases apart by it:
/// no principal but `Anonymous` is the client's doing (no credentials: 401), no principal and
/// no `Anonymous` means no authentication layer ran in front of them, a server
/// misconfiguration (500 and a logged error naming the fix, see [`crate::misconfig`]). An
/// authentication layer of your own that lets anonymous requests through must insert it.
///
/// ```
/// use mlguard_core::{Anonymous, Principal};
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(Anonymous);
/// assert!(Principal::from_extensions(req.extensions()).is_none());
/// assert!(Anonymous::is_marked(req.extensions()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Anonymous;

impl Anonymous {
    /// Whether an authentication layer marked the request as anonymous.
    pub fn is_marked(extensions: &http::Extensions) -> bool {
        extensions.get::<Anonymous>().is_some()
    }
}

/// The principal, or whose mistake its absence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrincipalLookup<'a> {
    /// An authentication layer wrote this principal.
    Found(&'a Principal),
    /// Authentication ran and let the request through without credentials ([`Anonymous`]):
    /// the client's mistake if the route needs a principal (401).
    Anonymous,
    /// No authentication layer ran in front of the reader: the server's mistake (500).
    NoAuthentication,
}

impl PrincipalLookup<'_> {
    /// What the request's `extensions` hold.
    ///
    /// ```
    /// use mlguard_core::{Anonymous, PrincipalLookup};
    /// let mut ext = http::Extensions::new();
    /// assert_eq!(PrincipalLookup::of(&ext), PrincipalLookup::NoAuthentication);
    /// ext.insert(Anonymous);
    /// assert_eq!(PrincipalLookup::of(&ext), PrincipalLookup::Anonymous);
    /// ```
    pub fn of(extensions: &http::Extensions) -> PrincipalLookup<'_> {
        match extensions.get::<Principal>() {
            Some(p) => PrincipalLookup::Found(p),
            None if Anonymous::is_marked(extensions) => PrincipalLookup::Anonymous,
            None => PrincipalLookup::NoAuthentication,
        }
    }
}

/// How to fix a reader of the principal that no authentication layer runs in front of, for the
/// error a layer logs.
pub const NO_AUTHENTICATION_FIX: &str = "no authentication layer ran before this layer: put it inside (after) the \
     authentication layer (with axum's `.layer()`/`.route_layer()`, the layer added last runs first, \
     so add the authentication layer after this one); an authentication layer of your own must insert \
     `mlguard_core::Anonymous` into requests it lets through without credentials";

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Principal {
    type Rejection = crate::Problem;

    /// Extracts the principal an authentication layer wrote. Without one: 401 with a bare
    /// `Bearer` challenge when the authentication layer marked the request [`Anonymous`], and
    /// otherwise (no authentication layer in front of the handler) a 500 problem `server
    /// misconfigured` and a logged error naming the fix (at most once a minute).
    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        match PrincipalLookup::of(&parts.extensions) {
            PrincipalLookup::Found(p) => Ok(p.clone()),
            PrincipalLookup::Anonymous => Err(crate::Problem::unauthorized(
                "Not authenticated",
                &crate::WwwAuthenticate::bearer(),
            )),
            PrincipalLookup::NoAuthentication => {
                static GATE: std::sync::LazyLock<crate::misconfig::ReportGate> =
                    std::sync::LazyLock::new(crate::misconfig::ReportGate::default);
                if GATE.should_report() {
                    tracing::error!(
                        target: "mlguard_core",
                        fix = NO_AUTHENTICATION_FIX,
                        "server misconfigured: a handler extracts `Principal`, but {NO_AUTHENTICATION_FIX}"
                    );
                }
                Err(crate::Problem::server_misconfigured())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "axum")]
    #[tokio::test]
    async fn the_extractor_tells_anonymous_from_no_authentication() {
        use axum::extract::FromRequestParts;
        let extract = |ext: Option<Anonymous>| async move {
            let mut req = http::Request::new(());
            if let Some(a) = ext {
                req.extensions_mut().insert(a);
            }
            let (mut parts, ()) = req.into_parts();
            Principal::from_request_parts(&mut parts, &()).await
        };
        let anonymous = extract(Some(Anonymous)).await.unwrap_err();
        assert_eq!(anonymous.status(), http::StatusCode::UNAUTHORIZED);
        let nobody_ran = extract(None).await.unwrap_err();
        assert_eq!(nobody_ran.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(nobody_ran.detail(), "server misconfigured");
    }

    #[test]
    fn accessors_report_what_was_built() {
        let p = Principal::builder("k1-name")
            .roles(["user", "admin"])
            .permission("metrics:read")
            .method(AuthMethod::ApiKey { key_id: "k1".into() })
            .build();
        assert_eq!(p.subject(), "k1-name");
        assert!(p.has_role("user") && p.has_role("admin") && !p.has_role("root"));
        assert!(p.permissions().contains("metrics:read"));
        assert_eq!(p.api_key_id(), Some("k1"));
        assert_eq!(p.token_id(), None);
        assert!(!p.is_bearer());
        assert!(p.scopes().is_none());
        assert_eq!(p.method().kind(), "api_key");
    }

    #[test]
    fn the_borrowed_id_is_the_id() {
        for (method, id, text) in [
            (
                AuthMethod::ApiKey { key_id: "k1".into() },
                PrincipalId::ApiKey("k1".into()),
                "api_key:k1",
            ),
            (
                AuthMethod::Bearer {
                    token_id: Some("j".into()),
                },
                PrincipalId::Bearer("alice".into()),
                "bearer:alice",
            ),
            (
                AuthMethod::Other("mtls".into()),
                PrincipalId::Other {
                    method: "mtls".into(),
                    subject: "alice".into(),
                },
                "other:4:mtls:alice",
            ),
        ] {
            let p = Principal::builder("alice").method(method).build();
            let borrowed = p.id_ref();
            assert_eq!(p.id(), id);
            assert_eq!(borrowed.to_owned(), id);
            assert_eq!(borrowed, id.as_id_ref());
            assert_eq!(borrowed.to_string(), text);
            assert_eq!(id.to_string(), text);
        }
        let other = Principal::builder("alice")
            .method(AuthMethod::Other("mtls".into()))
            .build();
        assert_eq!(other.id_ref().to_string(), "other:4:mtls:alice");
        assert_eq!(
            other.id_ref(),
            PrincipalIdRef::Other {
                method: "mtls",
                subject: "alice"
            }
        );
    }

    #[test]
    fn ids_differ_by_kind_whatever_the_subject() {
        let key = Principal::builder("admin")
            .method(AuthMethod::ApiKey {
                key_id: "admin".into(),
            })
            .build();
        let user = Principal::builder("admin")
            .method(AuthMethod::Bearer {
                token_id: Some("t".into()),
            })
            .build();
        let other = Principal::builder("admin")
            .method(AuthMethod::Other("api_key".into()))
            .build();
        let ids = [key.id(), user.id(), other.id()];
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                assert_ne!(a, b);
                assert_ne!(a.to_string(), b.to_string());
            }
        }
        assert_eq!(key.id().kind(), "api_key");
        assert_eq!(other.id().to_string(), "other:7:api_key:admin");
        // The same key under another name is the same principal.
        let renamed = Principal::builder("renamed")
            .method(AuthMethod::ApiKey {
                key_id: "admin".into(),
            })
            .build();
        assert_eq!(renamed.id(), key.id());
    }

    #[test]
    fn other_ids_split_name_and_subject_unambiguously() {
        let a = PrincipalId::Other {
            method: "a:b".into(),
            subject: "c".into(),
        };
        let b = PrincipalId::Other {
            method: "a".into(),
            subject: "b:c".into(),
        };
        assert_ne!(a.to_string(), b.to_string());
    }

    #[test]
    fn clones_share_one_allocation() {
        let p = Principal::builder("a").build();
        let q = p.clone();
        assert!(Arc::ptr_eq(&p.inner, &q.inner));
    }

    #[test]
    fn debug_lists_identity_fields() {
        let p = Principal::builder("bob")
            .method(AuthMethod::Bearer {
                token_id: Some("jti-9".into()),
            })
            .build();
        let s = format!("{p:?}");
        assert!(s.contains("bob") && s.contains("jti-9") && s.contains("Bearer"));
    }
}
