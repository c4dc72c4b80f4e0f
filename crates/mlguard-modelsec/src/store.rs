//! Where the extraction detector keeps each principal's state: [`DetectorStore`], and the
//! bounded in-memory [`MemoryStore`].
//!
//! The trait is asynchronous and works on whole [`PrincipalState`] values (serde-serializable),
//! so a shared implementation can keep them in Redis: `GET` the state, run the update, `SET` it
//! back with a TTL after checking that nobody wrote it meanwhile (retrying the update on a
//! conflict: the update is `FnMut` for that reason), so that a client spreading its queries
//! over several instances still feeds one detector. With the `redis` feature this crate ships
//! that store: `RedisStore`.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Mutex;

use crate::prada::PrincipalState;

#[cfg(feature = "redis")]
pub use crate::redis_store::RedisStore;

/// Default most principals the memory store tracks.
pub const DEFAULT_MAX_PRINCIPALS: usize = 2048;
const SHARDS: usize = 16;

/// A store failed (for a shared store: the backend is unreachable or answered garbage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("detector store unavailable: {0}")]
pub struct StoreError(pub String);

/// The future a [`DetectorStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The state of every principal the detector follows.
pub trait DetectorStore: Send + Sync + fmt::Debug + 'static {
    /// Runs `update` on `principal`'s state (a fresh [`PrincipalState::default`] when there is
    /// none), atomically with respect to other updates of the same principal, and keeps the
    /// result. A store may run `update` more than once (retry after a conflict).
    fn update<'a>(
        &'a self,
        principal: &'a str,
        update: &'a mut (dyn FnMut(&mut PrincipalState) + Send),
    ) -> StoreFuture<'a, ()>;

    /// Calls `read` with `principal`'s state, or `None` if there is none; changes nothing.
    fn read<'a>(
        &'a self,
        principal: &'a str,
        read: &'a mut (dyn FnMut(Option<&PrincipalState>) + Send),
    ) -> StoreFuture<'a, ()>;

    /// [`update`](Self::update) done at once, without a future, by a store that needs no I/O
    /// (in memory): `Some` with the result, after running `update` as `update` would. `None`
    /// (the default) when the store must be awaited: `update` was not run, call
    /// [`update`](Self::update). The detector asks this first, so that an in-memory store
    /// costs no boxed future per request.
    fn try_update_sync(
        &self,
        principal: &str,
        update: &mut (dyn FnMut(&mut PrincipalState) + Send),
    ) -> Option<Result<(), StoreError>> {
        let _ = (principal, update);
        None
    }

    /// [`read`](Self::read) done at once, as [`try_update_sync`](Self::try_update_sync):
    /// `None` (the default) when `read` was not run and the store must be awaited.
    fn try_read_sync(
        &self,
        principal: &str,
        read: &mut (dyn FnMut(Option<&PrincipalState>) + Send),
    ) -> Option<Result<(), StoreError>> {
        let _ = (principal, read);
        None
    }

    /// Principals tracked now.
    fn len(&self) -> usize;

    /// Whether no principal is tracked.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Entry {
    state: PrincipalState,
    last_used: u64,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    tick: u64,
}

/// Principals' states in memory, at most `max_principals` of them: a new principal at a full
/// shard evicts that shard's least recently used one (a scan of the shard, only then). 16
/// shards, each behind its own mutex.
///
/// Memory: a principal costs at most about `classes × max_growing_set × (8 × features + 80)`
/// bytes for its growing sets (each member is its own small vector) plus `8 × (max_distances +
/// ood_rate.window)` bytes; with the defaults and iris (3 classes, 100 members, 4 features) about
/// 34 KB, so the default 2048 principals cost at most about 70 MB, and far less in practice: a
/// benign client's growing sets stay small, because the threshold `T_c` rises.
/// ```
/// use mlguard_modelsec::store::{DetectorStore, MemoryStore};
/// let store = MemoryStore::new(100);
/// assert_eq!(store.len(), 0);
/// ```
pub struct MemoryStore {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("max_principals", &(self.per_shard * SHARDS))
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PRINCIPALS)
    }
}

impl MemoryStore {
    /// A store for at most `max_principals` principals (at least 16: one per shard).
    #[must_use]
    pub fn new(max_principals: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: max_principals.div_ceil(SHARDS).max(1),
        }
    }

    /// The most principals tracked at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    fn shard(&self, principal: &str) -> &Mutex<Shard> {
        let mut h = DefaultHasher::new();
        principal.hash(&mut h);
        #[allow(clippy::cast_possible_truncation)]
        let i = (h.finish() as usize) % SHARDS;
        &self.shards[i]
    }

    fn lock(m: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
        // A panic while holding the lock cannot leave a state half-updated in a way that
        // matters more than losing the detector's memory of one principal; keep going.
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update_now(&self, principal: &str, update: &mut (dyn FnMut(&mut PrincipalState) + Send)) {
        let mut shard = Self::lock(self.shard(principal));
        shard.tick += 1;
        let tick = shard.tick;
        if !shard.entries.contains_key(principal) && shard.entries.len() >= self.per_shard {
            let oldest = shard
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                shard.entries.remove(&k);
            }
        }
        // Looked up by `&str` first: the key is copied only for a new principal.
        if !shard.entries.contains_key(principal) {
            shard.entries.insert(
                principal.to_owned(),
                Entry {
                    state: PrincipalState::default(),
                    last_used: tick,
                },
            );
        }
        if let Some(entry) = shard.entries.get_mut(principal) {
            entry.last_used = tick;
            update(&mut entry.state);
        }
    }

    fn read_now(&self, principal: &str, read: &mut (dyn FnMut(Option<&PrincipalState>) + Send)) {
        let shard = Self::lock(self.shard(principal));
        read(shard.entries.get(principal).map(|e| &e.state));
    }
}

impl DetectorStore for MemoryStore {
    fn update<'a>(
        &'a self,
        principal: &'a str,
        update: &'a mut (dyn FnMut(&mut PrincipalState) + Send),
    ) -> StoreFuture<'a, ()> {
        self.update_now(principal, update);
        Box::pin(std::future::ready(Ok(())))
    }

    fn read<'a>(
        &'a self,
        principal: &'a str,
        read: &'a mut (dyn FnMut(Option<&PrincipalState>) + Send),
    ) -> StoreFuture<'a, ()> {
        self.read_now(principal, read);
        Box::pin(std::future::ready(Ok(())))
    }

    fn try_update_sync(
        &self,
        principal: &str,
        update: &mut (dyn FnMut(&mut PrincipalState) + Send),
    ) -> Option<Result<(), StoreError>> {
        self.update_now(principal, update);
        Some(Ok(()))
    }

    fn try_read_sync(
        &self,
        principal: &str,
        read: &mut (dyn FnMut(Option<&PrincipalState>) + Send),
    ) -> Option<Result<(), StoreError>> {
        self.read_now(principal, read);
        Some(Ok(()))
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| Self::lock(s).entries.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn evicts_the_least_recently_used_beyond_capacity() {
        let store = MemoryStore::new(16); // one per shard
        assert_eq!(store.capacity(), 16);
        for i in 0..1000 {
            let name = format!("p{i}");
            store.update(&name, &mut |s| s.queries += 1).await.unwrap();
        }
        assert!(store.len() <= 16);
        // The last one is still there, with its count.
        let mut seen = None;
        store
            .read("p999", &mut |s| seen = s.map(|s| s.queries))
            .await
            .unwrap();
        assert_eq!(seen, Some(1));
        let mut gone = Some(0);
        store
            .read("p0", &mut |s| gone = s.map(|s| s.queries))
            .await
            .unwrap();
        assert_eq!(gone, None);
    }
}
