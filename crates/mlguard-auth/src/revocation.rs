//! Token revocation: a denylist of `jti`s, checked on every request by
//! [`BearerAuth`](crate::jwt::BearerAuth) when one is configured.
//!
//! A revocation is given the token's expiry (`exp`), and the stores keep the entry until
//! [`deny_until`]`(exp)`: `exp` plus [`MAX_LEEWAY`], the largest clock-skew leeway a
//! [`JwtVerifier`](crate::jwt::JwtVerifier) can be configured with. A verifier accepts a token
//! until `exp + leeway`, so a list that forgot the entry at `exp` would let a revoked token back
//! in for the leeway (issue 14, hole 2). Keeping it for the largest leeway, inside the store,
//! means no caller and no verifier configuration can get the horizon wrong. After that the
//! entry vanishes: every verifier refuses the token by itself, so the list stays as small as
//! the set of revoked tokens that could still be accepted.
//! [`MemoryRevocationStore`] serves one process; `RedisRevocationStore` (feature `redis`)
//! shares the list between replicas.

use crate::AuthError;
use mlguard_core::{SharedClock, SystemClock};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The largest clock-skew leeway a [`JwtVerifier`](crate::jwt::JwtVerifier) accepts (5 minutes);
/// denylist entries outlive their token's `exp` by this much.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Until when a token expiring at `expires_at` must stay denied: `expires_at +` [`MAX_LEEWAY`],
/// the last instant any verifier could still accept it. Every [`RevocationStore`] keeps its
/// entries at least this long.
pub fn deny_until(expires_at: SystemTime) -> SystemTime {
    expires_at.checked_add(MAX_LEEWAY).unwrap_or(expires_at)
}

#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "redis")]
pub use redis_store::{DEFAULT_REDIS_TIMEOUT, RedisRevocationStore};

/// A boxed, `Send` future (the stores are used as trait objects).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A `jti` denylist.
pub trait RevocationStore: Send + Sync + fmt::Debug + 'static {
    /// Denies `jti`, a token expiring at `expires_at` (its `exp`), until
    /// [`deny_until`]`(expires_at)`, so the token stays refused for as long as a verifier with
    /// any allowed leeway would accept it. Callers pass the token's own expiry; the store adds
    /// the leeway (implementations must: the built-in ones do).
    fn revoke<'a>(&'a self, jti: &'a str, expires_at: SystemTime) -> BoxFuture<'a, Result<(), AuthError>>;

    /// Whether `jti` is denied now.
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, AuthError>>;
}

/// A shared store is a store: lets a server pick the backend at run time
/// (`Arc<dyn RevocationStore>`) and still wrap or share it.
impl<T: RevocationStore + ?Sized> RevocationStore for std::sync::Arc<T> {
    fn revoke<'a>(&'a self, jti: &'a str, expires_at: SystemTime) -> BoxFuture<'a, Result<(), AuthError>> {
        (**self).revoke(jti, expires_at)
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        (**self).is_revoked(jti)
    }
}

/// An in-process denylist whose entries expire once no verifier can accept their tokens
/// ([`deny_until`]).
///
/// ```
/// use std::time::Duration;
/// use mlguard_auth::revocation::{MemoryRevocationStore, RevocationStore, MAX_LEEWAY};
/// use mlguard_core::{Clock, ManualClock};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let clock = ManualClock::at_unix(1_000);
/// let store = MemoryRevocationStore::with_clock(std::sync::Arc::new(clock.clone()));
/// store.revoke("jti-1", clock.now() + Duration::from_secs(60)).await.unwrap();
/// assert!(store.is_revoked("jti-1").await.unwrap());
/// // Past the token's exp a verifier may still accept it (leeway): still denied.
/// clock.advance(Duration::from_secs(61));
/// assert!(store.is_revoked("jti-1").await.unwrap());
/// clock.advance(MAX_LEEWAY);
/// assert!(!store.is_revoked("jti-1").await.unwrap());
/// assert_eq!(store.len(), 0);
/// # }
/// ```
pub struct MemoryRevocationStore {
    entries: Mutex<HashMap<String, SystemTime>>,
    clock: SharedClock,
}

impl fmt::Debug for MemoryRevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRevocationStore")
            .field("entries", &self.len())
            .finish()
    }
}

impl Default for MemoryRevocationStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRevocationStore {
    /// An empty list on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty list on `clock`.
    pub fn with_clock(clock: SharedClock) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// Live entries (expired ones are purged first).
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, until| *until > now);
        entries.len()
    }

    /// Whether there are no live entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Synchronous [`RevocationStore::revoke`]: denies `jti` until [`deny_until`]`(expires_at)`.
    pub fn revoke_now(&self, jti: &str, expires_at: SystemTime) {
        let until = deny_until(expires_at);
        let now = self.clock.now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= 1024 {
            entries.retain(|_, u| *u > now);
        }
        if until > now {
            entries.insert(jti.to_owned(), until);
        }
    }

    /// Synchronous [`RevocationStore::is_revoked`].
    pub fn is_revoked_now(&self, jti: &str) -> bool {
        let now = self.clock.now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(jti).is_some_and(|until| *until > now)
    }
}

impl RevocationStore for MemoryRevocationStore {
    fn revoke<'a>(&'a self, jti: &'a str, expires_at: SystemTime) -> BoxFuture<'a, Result<(), AuthError>> {
        self.revoke_now(jti, expires_at);
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        let revoked = self.is_revoked_now(jti);
        Box::pin(std::future::ready(Ok(revoked)))
    }
}
