//! A bounded cache of verified tokens, so a client that sends the same bearer token on every
//! request pays for the signature and the parsing once.
//!
//! What is cached, and why a hit can never accept a token the full check would refuse:
//!
//! - only tokens that passed every check, verified with a key configured in the verifier (never
//!   a key fetched from a remote JWKS, which the identity provider can remove at any time), and
//!   only when the roles come from a claim (a [`RoleMapper`](super::RoleMapper) is the
//!   application's code and may give other roles later);
//! - every other check (size, shape, header, key, algorithm, signature, type, `iss`, `aud`,
//!   `sub`, the claim types, the roles) depends only on the token's bytes and the verifier's
//!   configuration, which cannot change after [`build`](super::JwtVerifierBuilder::build):
//!   a verifier with a key removed is a new verifier, with an empty cache;
//! - the checks that depend on time (`exp`, `nbf`, `iat`, with the leeway) are repeated on
//!   every hit against the `now` of that call, from the dates stored with the entry;
//! - revocation is not a property of the token: the bearer layer asks its revocation store on
//!   every request, hit or not;
//! - the key is the whole token: a hit needs the same bytes, not just the same hash.
//!
//! The cache holds at most its capacity of entries (default [`DEFAULT_CACHE_CAPACITY`]) and
//! only tokens up to [`MAX_CACHED_TOKEN_LEN`] bytes; when full, it is emptied and refills (an
//! attacker needs validly signed tokens to fill it, and then only loses the speed-up).

use super::verify::VerifiedToken;
use mlguard_core::Principal;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default number of verified tokens a [`JwtVerifier`](super::JwtVerifier) keeps.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;
/// Tokens longer than this (bytes) are verified every time, never cached, so the cache stays
/// within a few MiB.
pub const MAX_CACHED_TOKEN_LEN: usize = 2048;

/// What a hit needs: the verified token, its principal (built once, shared by every request
/// that presents the token), and the dates to check again.
pub(super) struct Entry {
    pub(super) token: VerifiedToken,
    pub(super) principal: Principal,
    pub(super) dates: Dates,
}

/// A token's NumericDates, as verified.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dates {
    pub(super) exp: f64,
    pub(super) nbf: Option<f64>,
    pub(super) iat: Option<f64>,
}

pub(super) struct TokenCache {
    capacity: usize,
    entries: RwLock<HashMap<Box<str>, Entry>>,
    hits: AtomicU64,
}

impl TokenCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
            hits: AtomicU64::new(0),
        }
    }

    /// What `read` takes from the entry for exactly `token` (under the lock: no copy of the
    /// entry), counted as a hit. A poisoned lock is a miss.
    pub(super) fn get_with<R>(&self, token: &str, read: impl FnOnce(&Entry) -> R) -> Option<R> {
        let found = read(self.entries.read().ok()?.get(token)?);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(found)
    }

    /// How many lookups found their token.
    pub(super) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Stores a verified token (emptying the cache first when it is full).
    pub(super) fn insert(&self, token: &str, entry: Entry) {
        if token.len() > MAX_CACHED_TOKEN_LEN || self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.capacity && !entries.contains_key(token) {
            entries.clear();
        }
        entries.insert(token.into(), entry);
    }

    pub(super) fn len(&self) -> usize {
        self.entries.read().map_or(0, |e| e.len())
    }
}
