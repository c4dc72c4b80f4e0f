//! The in-memory store: sharded hash maps with automatic eviction and a hard cap on keys.
//!
//! **Eviction without a thread.** A key's state stops mattering at a known time (GCRA: when its
//! bucket is full again; fixed window: when its window ends); removing it then changes no
//! decision. Each shard sweeps such keys out when a new key arrives and the shard's sweep
//! interval (the quota's refill time, clamped to 1..=60 s) has passed, so the work is amortized
//! over inserts and nothing needs spawning or stopping.
//!
//! **The cap.** The store never holds more than `max_keys` keys: each of the shards holds at most
//! `max_keys / shards`. A new key arriving at a full shard first takes the place of an expired
//! key; failing that, [`OnFull`] decides.
//!
//! **One hash per check.** A key is hashed once (SipHash-1-3 under a per-store random key,
//! std's `RandomState`, so attacker-chosen keys such as a login form's username cannot be
//! crafted to collide): bits 24..56 of that hash pick the shard and the same hash finds the key
//! in the shard's `hashbrown::HashTable` (which reads the low bits and the top seven). Client
//! addresses are hashed as one integer rather than through the derived `Hash` of the key.

use crate::algorithm::{Algorithm, Cell, Decision, Rates};
use crate::{Quota, RateLimitKey};
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;

/// What a full store does with a new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnFull {
    /// Forget the tracked key (of a small sample) whose state expires soonest, and track the
    /// new one. Requests keep flowing; a key forgotten early gets a fresh quota. Under a flood
    /// of distinct keys that is no loss: the flood already has a fresh quota per address.
    #[default]
    EvictSoonestExpiring,
    /// Refuse the new key: the request gets 503 (the server is at capacity, not the client over
    /// its quota). Tracked keys keep their exact state; new clients are shut out until keys
    /// expire.
    Reject,
}

/// How many entries a full shard samples to pick one to evict.
const EVICTION_SAMPLE: usize = 8;

/// Most shards a store uses.
const MAX_SHARDS: usize = 64;

#[derive(Debug)]
struct Shard {
    map: HashTable<(RateLimitKey, Cell)>,
    next_sweep: u64,
    cap: usize,
}

/// The store was full and configured to refuse new keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreFull;

/// Sharded, capped, self-sweeping state for one limiter.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    capacity: usize,
    rates: Rates,
    on_full: OnFull,
    sweep_interval: u64,
}

impl MemoryStore {
    pub(crate) fn new(algorithm: Algorithm, quota: Quota, max_keys: usize, on_full: OnFull) -> Self {
        let max_keys = max_keys.max(1);
        // Shards of at least 256 keys (so a small cap is not cut into tiny shards), and the
        // remainder spread over the first shards: the caps add up to `max_keys` exactly.
        let shards = (max_keys / 256).clamp(1, MAX_SHARDS);
        let (per_shard, extra) = (max_keys / shards, max_keys % shards);
        let refill = match algorithm {
            Algorithm::Gcra => quota
                .emission_interval_nanos()
                .saturating_mul(u64::from(quota.burst())),
            Algorithm::FixedWindow => quota.period_nanos(),
        };
        let sweep_interval = refill.clamp(1_000_000_000, 60_000_000_000);
        Self {
            shards: (0..shards)
                .map(|i| {
                    Mutex::new(Shard {
                        map: HashTable::new(),
                        next_sweep: 0,
                        cap: per_shard + usize::from(i < extra),
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            capacity: max_keys,
            rates: Rates::new(algorithm, &quota),
            on_full,
            sweep_interval,
        }
    }

    /// The most keys this store holds.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys tracked now.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum()
    }

    /// The key's hash: the variant's tag byte, then its value (an address as one integer), so
    /// equal keys hash equally and two different keys never feed the hasher the same bytes.
    fn hash(&self, key: &RateLimitKey) -> u64 {
        let mut h = self.hasher.build_hasher();
        match key {
            RateLimitKey::Global => h.write_u8(0),
            RateLimitKey::Ip(IpAddr::V4(ip)) => {
                // Tag and address in one write: one pass through the hasher's buffering.
                let [a, b, c, d] = ip.octets();
                h.write(&[1, a, b, c, d]);
            }
            RateLimitKey::Ip(IpAddr::V6(ip)) => {
                h.write_u8(2);
                h.write_u128(ip.to_bits());
            }
            RateLimitKey::Subject(s) => text(&mut h, 3, s),
            RateLimitKey::ApiKey(s) => text(&mut h, 4, s),
            RateLimitKey::Field(s) => text(&mut h, 5, s),
            RateLimitKey::Custom(s) => text(&mut h, 6, s),
            RateLimitKey::Principal(s) => text(&mut h, 7, s),
        }
        h.finish()
    }

    /// Checks `cost` units for `key` at `now` (nanoseconds since the epoch) and records them
    /// when allowed. The flag says whether a live key was evicted to make room.
    pub(crate) fn check(
        &self,
        key: &RateLimitKey,
        now: u64,
        cost: u32,
    ) -> Result<(Decision, bool), StoreFull> {
        let hash = self.hash(key);
        // Bits 24..56: independent of the bits the table itself reads at any realistic size.
        let index = ((hash >> 24) as u32 as usize) % self.shards.len();
        let mut shard = self.shards[index].lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, cell)) = shard.map.find_mut(hash, |(k, _)| k == key) {
            let (next, decision) = self.rates.check(Some(*cell), now, cost);
            if decision.allowed {
                *cell = next;
            }
            return Ok((decision, false));
        }
        let (next, decision) = self.rates.check(None, now, cost);
        if !decision.allowed {
            return Ok((decision, false));
        }
        if now >= shard.next_sweep {
            self.sweep(&mut shard, now);
        }
        let mut evicted = false;
        if shard.map.len() >= shard.cap {
            let victim = shard
                .map
                .iter()
                .take(EVICTION_SAMPLE)
                .min_by_key(|(_, c)| self.rates.expires_at(*c))
                .map(|(k, c)| (k.clone(), self.rates.expires_at(*c)));
            match victim {
                Some((k, expires)) if expires <= now || self.on_full == OnFull::EvictSoonestExpiring => {
                    if let Ok(entry) = shard.map.find_entry(self.hash(&k), |(x, _)| *x == k) {
                        entry.remove();
                    }
                    evicted = expires > now;
                }
                _ => return Err(StoreFull),
            }
        }
        shard
            .map
            .insert_unique(hash, (key.clone(), next), |(k, _)| self.hash(k));
        Ok((decision, evicted))
    }

    fn sweep(&self, shard: &mut Shard, now: u64) {
        let rates = self.rates;
        shard.map.retain(|(_, c)| rates.expires_at(*c) > now);
        if shard.map.capacity() > 4 * shard.map.len().max(16) {
            shard.map.shrink_to_fit(|(k, _)| self.hash(k));
        }
        shard.next_sweep = now.saturating_add(self.sweep_interval);
    }
}

fn text(h: &mut impl Hasher, tag: u8, s: &str) {
    h.write_u8(tag);
    h.write(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const S: u64 = 1_000_000_000;

    fn ip(n: u32) -> RateLimitKey {
        RateLimitKey::Ip(IpAddr::V4(Ipv4Addr::from(n)))
    }

    #[test]
    fn idle_keys_are_swept_when_new_keys_arrive() {
        let store = MemoryStore::new(
            Algorithm::Gcra,
            "10/minute".parse().unwrap(),
            10_000,
            OnFull::Reject,
        );
        for n in 0..1000 {
            store.check(&ip(n), 100 * S, 1).unwrap();
        }
        assert_eq!(store.len(), 1000);
        // One request refills in 6 s; after the sweep interval every shard that sees a new key
        // drops its idle ones.
        for n in 0..5_000 {
            store.check(&ip(1_000_000 + n), 200 * S, 1).unwrap();
        }
        let t = 400 * S;
        for n in 0..2000 {
            store.check(&ip(2_000_000 + n), t, 1).unwrap();
        }
        assert!(store.len() <= 2000, "{}", store.len());
    }

    /// The sweep gives memory back: a shard whose table is more than four times larger than
    /// what it keeps (and than 16 entries) is shrunk; one that is not stays as it is.
    #[test]
    fn a_sweep_shrinks_a_table_left_mostly_empty_and_only_that() {
        let store = MemoryStore::new(
            Algorithm::Gcra,
            "10/minute".parse().unwrap(),
            1 << 20,
            OnFull::Reject,
        );
        let shard_capacity = || {
            store
                .shards
                .iter()
                .map(|s| s.lock().map_or(0, |s| s.map.capacity()))
                .max()
                .unwrap_or(0)
        };
        // 100,000 keys at t = 1 s (one unit back after 6 s), then one sweep of every shard
        // when all have expired: each shard keeps one new key.
        for n in 0..100_000 {
            store.check(&ip(n), S, 1).unwrap();
        }
        let before = shard_capacity();
        assert!(before >= 100_000 / store.shards.len(), "{before}");
        // Few new keys, so the shrunk tables stay small.
        for n in 0..2_000 {
            store.check(&ip(1_000_000 + n), 1000 * S, 1).unwrap();
        }
        let after = shard_capacity();
        assert!(after * 4 < before, "shrunk: {before} -> {after}");

        // One shard (500 keys), 10/hour: a spent unit is back after 360 s; sweeps at most every
        // 60 s. 200 keys expire at 361 s, 200 more at 660 s; the sweep at 400 s keeps half of
        // the table: not four times too large, so it is not shrunk.
        let half = MemoryStore::new(Algorithm::Gcra, "10/hour".parse().unwrap(), 500, OnFull::Reject);
        let capacity = || half.shards[0].lock().map_or(0, |s| s.map.capacity());
        for n in 0..200 {
            half.check(&ip(n), S, 1).unwrap();
        }
        for n in 200..400 {
            half.check(&ip(n), 300 * S, 1).unwrap();
        }
        half.check(&ip(1_000), 400 * S, 1).unwrap();
        assert_eq!(
            half.len(),
            201,
            "the sweep at 400 s dropped exactly the expired half"
        );
        // Shrinking would leave the least capacity for 201 entries (removed entries leave
        // tombstones, so an unshrunk table reports less than before, but more than that).
        let least = HashTable::<u8>::with_capacity(201).capacity();
        assert!(capacity() > least, "not shrunk: {} > {least}", capacity());
    }

    #[test]
    fn reject_mode_refuses_new_keys_but_keeps_tracked_ones() {
        let store = MemoryStore::new(Algorithm::Gcra, "10/minute".parse().unwrap(), 64, OnFull::Reject);
        let mut refused = 0;
        for n in 0..1000 {
            if store.check(&ip(n), S, 1).is_err() {
                refused += 1;
            }
        }
        assert_eq!(store.len(), 64);
        assert_eq!(refused, 1000 - 64);
        assert_eq!(store.capacity(), 64);
        // Once the tracked keys expire, their places are taken.
        assert!(store.check(&ip(5000), 1000 * S, 1).is_ok());
    }

    #[test]
    fn eviction_mode_never_grows_past_the_cap() {
        let store = MemoryStore::new(
            Algorithm::FixedWindow,
            "5/minute".parse().unwrap(),
            100,
            OnFull::default(),
        );
        for n in 0..20_000 {
            store.check(&ip(n), S + u64::from(n), 1).unwrap();
            assert!(store.len() <= 100);
        }
        assert_eq!(store.capacity(), 100);
    }
}
