//! What an authenticator decides, and the trait the shared [`AuthService`](crate::AuthService)
//! runs. A leaf module: the authenticators ([`apikey`](crate::apikey), [`jwt`](crate::jwt)),
//! the combined configuration and the service all depend on it, never the other way.

use http::{Extensions, HeaderMap, Uri};
use mlguard_core::{Principal, Problem};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A successful authentication: the principal, and what else the authenticator wants the
/// inner service to see (the verified claims of a bearer token).
pub(crate) struct Authenticated {
    pub(crate) principal: Principal,
    pub(crate) extensions: Option<Extensions>,
}

impl From<Principal> for Authenticated {
    fn from(principal: Principal) -> Self {
        Self {
            principal,
            extensions: None,
        }
    }
}

impl Authenticated {
    /// Writes the principal (and the extra extensions) into a request's extensions.
    pub(crate) fn insert_into(self, extensions: &mut Extensions) {
        extensions.insert(self.principal);
        if let Some(extra) = self.extensions {
            extensions.extend(extra);
        }
    }
}

/// A boxed authentication step that needs I/O (a revocation lookup, a JWKS refresh).
pub(crate) type AuthCheck = Pin<Box<dyn Future<Output = Result<Authenticated, Problem>> + Send>>;

/// What an authenticator decided, synchronously or not.
pub(crate) enum Outcome {
    Done(Result<Authenticated, Problem>),
    Pending(AuthCheck),
}

impl Outcome {
    /// Runs the check to its end.
    pub(crate) async fn finish(self) -> Result<Authenticated, Problem> {
        match self {
            Self::Done(result) => result,
            Self::Pending(check) => check.await,
        }
    }
}

/// One way (or a choice of ways) to authenticate a request.
pub(crate) trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// Decides from the request's headers and URI.
    fn authenticate(&self, headers: &HeaderMap, uri: &Uri) -> Outcome;

    /// Removes the credential headers so the inner service never sees them.
    fn strip(&self, headers: &mut HeaderMap);
}
