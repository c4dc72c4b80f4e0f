//! Password hashing with Argon2id, off the async runtime.
//!
//! **What it protects against:** offline cracking of a stolen user file (Argon2id, memory-hard,
//! with OWASP's parameters m = 19456 KiB, t = 2, p = 1 by default, salted, stored as PHC
//! strings), user enumeration by timing (unknown users and empty passwords are verified against
//! a dummy hash made with the same parameters, so every login costs one Argon2 run), and
//! logins stalling other requests (each hash or verification runs off the async runtime, on
//! the hasher's own Argon2 threads), and login floods (at most one Argon2 computation per core
//! runs at once, a short queue waits, the rest fail at once with [`AuthError::Busy`]: see
//! [`PasswordHasher::limits`]; and at most so many Argon2 runs start per second, about
//! [`DEFAULT_BUDGET_SHARE_PERCENT`] % of the machine by default, the rest fail at once with
//! [`AuthError::OverBudget`] and the wait until the next: see
//! [`PasswordHasher::hash_budget`] and [`HashBudget`]). The Argon2 threads are as many as may run at once, started on
//! first use and kept, so the work never spreads over an unbounded number of blocking-pool
//! threads, and they run at the lowest priority (the `SCHED_IDLE` policy on Linux, the lowest nice value
//! elsewhere), so a login flood takes the
//! CPU the API leaves idle rather than sharing it evenly. Memory: each Argon2 thread keeps one
//! block buffer (19 MiB with OWASP's parameters)
//! and reuses it for every hash and verification it runs, so a login flood costs a fixed
//! `max_concurrent` × 19 MiB rather than a fresh allocation per run (which the allocator partly
//! kept: a plateau of 200-400 MiB before). Argon2 writes every block of the buffer before it
//! reads it (pass 0 assigns each block), so the buffer need not be zeroed between runs. A
//! stored hash with a larger memory cost grows its thread's buffer to that size, kept until the
//! hasher (and its threads) are dropped. Calls
//! of [`PasswordHasher::hash_blocking`] and [`PasswordHasher::verify_blocking`] on other
//! threads allocate per run, as before. Hashes made with older parameters are reported by
//! [`PasswordCheck::Valid::needs_rehash`] so the caller can upgrade them on the next
//! successful login (the token endpoint does).
//!
//! ```
//! use mlguard_auth::password::{PasswordCheck, PasswordHasher};
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hasher = PasswordHasher::new();
//! let phc = hasher.hash_async("correct horse".to_owned().into()).await.unwrap();
//! assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//! let ok = hasher.verify("correct horse".to_owned().into(), Some(phc.clone())).await.unwrap();
//! assert_eq!(ok, PasswordCheck::Valid { needs_rehash: false });
//! let bad = hasher.verify("wrong".to_owned().into(), Some(phc)).await.unwrap();
//! assert_eq!(bad, PasswordCheck::Invalid);
//! # }
//! ```

mod budget;
mod compute;

pub use budget::{
    ASSUMED_KIB_PER_SECOND_PER_CORE, DEFAULT_BUDGET_BURST_SECONDS, DEFAULT_BUDGET_MIN_BURST,
    DEFAULT_BUDGET_SHARE_PERCENT, HashBudget, MAX_BUDGET_PERIOD, retry_after_secs,
};

use crate::AuthError;
use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use budget::TokenBucket;
use compute::{Job, argon2_into, start_workers, verify_phc};
use mlguard_core::{SharedClock, SystemClock};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
pub use zeroize::Zeroizing;

/// Salt length of new hashes: 16 bytes, as `password-hash`'s `hash_password` makes them.
const SALT_LEN: usize = 16;

/// OWASP's Argon2id memory cost: 19456 KiB (19 MiB).
pub const OWASP_M_COST: u32 = 19_456;
/// OWASP's Argon2id time cost: 2 passes.
pub const OWASP_T_COST: u32 = 2;
/// OWASP's Argon2id parallelism: 1 lane.
pub const OWASP_P_COST: u32 = 1;

/// Default queue of Argon2 computations waiting for a slot, per core: 4 (with OWASP's
/// parameters a wait of a few hundred milliseconds at most; beyond it the token endpoint
/// answers 503 at once rather than letting a login flood pile up).
pub const DEFAULT_QUEUE_PER_CORE: usize = 4;

/// The result of a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password matches.
    Valid {
        /// The stored hash uses other parameters (or algorithm) than the hasher's: re-hash it.
        needs_rehash: bool,
    },
    /// Wrong password, unknown user, empty password or unreadable hash.
    Invalid,
}

/// What a hasher is built from; the builder methods change it and build a new [`Inner`].
#[derive(Clone)]
struct Settings {
    params: Params,
    concurrent: NonZeroUsize,
    queued: usize,
    /// `None`: no work budget.
    budget: Option<HashBudget>,
    clock: SharedClock,
}

struct Inner {
    settings: Settings,
    dummy: OnceLock<String>,
    verifications: AtomicU64,
    over_budget: AtomicU64,
    slots: Arc<Semaphore>,
    bucket: Option<TokenBucket>,
    waiting: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
    /// The Argon2 threads' queue; `None` when no thread could be started (the work then goes
    /// to tokio's blocking pool).
    workers: OnceLock<Option<mpsc::Sender<Job>>>,
}

/// Argon2id hasher and verifier; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.settings;
        f.debug_struct("PasswordHasher")
            .field("m_cost", &s.params.m_cost())
            .field("t_cost", &s.params.t_cost())
            .field("p_cost", &s.params.p_cost())
            .field("max_concurrent", &s.concurrent)
            .field("max_queued", &s.queued)
            .field("budget", &s.budget)
            .finish()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// Argon2id with the OWASP parameters.
    pub fn new() -> Self {
        Self::from_params(Params::DEFAULT)
    }

    /// Argon2id with other parameters (memory in KiB, passes, lanes). Parameters below OWASP's
    /// are refused unless `t_cost` compensates as OWASP's table allows; use
    /// [`danger_with_weak_params`](Self::danger_with_weak_params) for fast tests.
    pub fn with_params(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, AuthError> {
        // OWASP equivalents: m=47104/t=1, m=19456/t=2, m=12288/t=3, m=9216/t=4, m=7168/t=5.
        let ok = matches!((m_cost, t_cost), (m, 1) if m >= 47_104)
            || matches!((m_cost, t_cost), (m, 2) if m >= 19_456)
            || matches!((m_cost, t_cost), (m, 3) if m >= 12_288)
            || matches!((m_cost, t_cost), (m, 4) if m >= 9_216)
            || (t_cost >= 5 && m_cost >= 7_168);
        if !ok {
            return Err(AuthError::Config(
                "Argon2id parameters below OWASP's minimums".into(),
            ));
        }
        Self::danger_with_weak_params(m_cost, t_cost, p_cost)
    }

    /// Any valid Argon2id parameters, even weak ones. For tests only.
    pub fn danger_with_weak_params(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, AuthError> {
        let params = Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| AuthError::Config(format!("Argon2: {e}")))?;
        Ok(Self::from_params(params))
    }

    fn from_params(params: Params) -> Self {
        let cores = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        let budget = HashBudget::for_cost(params.m_cost(), params.t_cost(), cores);
        Self::from_settings(Settings {
            params,
            concurrent: cores,
            queued: cores.get().saturating_mul(DEFAULT_QUEUE_PER_CORE),
            budget: Some(budget),
            clock: Arc::new(SystemClock),
        })
    }

    fn from_settings(settings: Settings) -> Self {
        let bucket = settings
            .budget
            .map(|budget| TokenBucket::new(budget, settings.clock.clone()));
        Self {
            inner: Arc::new(Inner {
                dummy: OnceLock::new(),
                verifications: AtomicU64::new(0),
                over_budget: AtomicU64::new(0),
                slots: Arc::new(Semaphore::new(settings.concurrent.get())),
                bucket,
                waiting: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                workers: OnceLock::new(),
                settings,
            }),
        }
    }

    /// The same hasher with `change` made to its settings (a new hasher: clones made before
    /// keep the old ones).
    fn rebuilt(&self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.inner.settings.clone();
        change(&mut settings);
        Self::from_settings(settings)
    }

    /// Bounds the async hashes and verifications ([`verify`](Self::verify),
    /// [`hash_async`](Self::hash_async)): at most `concurrent` run at once, at most `queued`
    /// more wait for a slot, and the rest fail at once with [`AuthError::Busy`] (the token
    /// endpoint answers 503 with `Retry-After`). The default is one per core
    /// (`std::thread::available_parallelism`) and a queue of [`DEFAULT_QUEUE_PER_CORE`] per
    /// core. Call it before sharing the hasher (clones made before keep the old bound).
    #[must_use]
    pub fn limits(self, concurrent: NonZeroUsize, queued: usize) -> Self {
        self.rebuilt(|s| {
            s.concurrent = concurrent;
            s.queued = queued;
        })
    }

    /// Bounds the work of the async hashes and verifications: at most `budget` Argon2 runs
    /// start per period across this hasher and its clones, whatever the concurrency; the
    /// rest fail at once with [`AuthError::OverBudget`], which says how long until the budget
    /// allows the next one (the token endpoint answers 503 with that `Retry-After`), and run
    /// no hash. The default is [`HashBudget::for_cost`] of the hasher's parameters and the
    /// cores: about [`DEFAULT_BUDGET_SHARE_PERCENT`] % of the machine. Call it before sharing
    /// the hasher (clones made before keep the old budget).
    ///
    /// ```
    /// use mlguard_auth::AuthError;
    /// use mlguard_auth::password::{HashBudget, PasswordHasher};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let hasher = PasswordHasher::danger_with_weak_params(256, 1, 1)
    ///     .unwrap()
    ///     .hash_budget(HashBudget::per_second(2).unwrap());
    /// assert_eq!(hasher.budget().map(|b| b.count()), Some(2));
    /// assert!(hasher.verify("pw".to_owned().into(), None).await.is_ok());
    /// assert!(hasher.verify("pw".to_owned().into(), None).await.is_ok());
    /// let third = hasher.verify("pw".to_owned().into(), None).await;
    /// assert!(matches!(third, Err(AuthError::OverBudget { .. })));
    /// assert_eq!(hasher.over_budget_count(), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn hash_budget(self, budget: HashBudget) -> Self {
        self.rebuilt(|s| s.budget = Some(budget))
    }

    /// No work budget: only the concurrency [`limits`](Self::limits) bound Argon2 (for a
    /// service that bounds logins elsewhere, and for measurements).
    #[must_use]
    pub fn without_hash_budget(self) -> Self {
        self.rebuilt(|s| s.budget = None)
    }

    /// Reads the time of the work budget from `clock` (tests set it; the default is the
    /// system clock).
    #[must_use]
    pub fn clock(self, clock: SharedClock) -> Self {
        self.rebuilt(|s| s.clock = clock)
    }

    /// The work budget, if any.
    pub fn budget(&self) -> Option<HashBudget> {
        self.inner.settings.budget
    }

    /// How many hashes and verifications were refused for the work budget (a metric).
    pub fn over_budget_count(&self) -> u64 {
        self.inner.over_budget.load(Ordering::Relaxed)
    }

    /// How many verifications may run at once.
    pub fn max_concurrent_verifications(&self) -> usize {
        self.inner.settings.concurrent.get()
    }

    /// How many verifications may wait for a slot.
    pub fn max_queued_verifications(&self) -> usize {
        self.inner.settings.queued
    }

    /// The most hashes and verifications that ever ran at once on this hasher (a metric for
    /// sizing; tests use it to show the bound holds).
    pub fn peak_concurrent_verifications(&self) -> usize {
        self.inner.peak.load(Ordering::Relaxed)
    }

    /// A run from the work budget, then a slot: at once when one is free, after waiting when
    /// the queue has room, else `Busy` (and the run goes back to the budget: no work was done).
    async fn slot(&self) -> Result<OwnedSemaphorePermit, AuthError> {
        if let Some(bucket) = &self.inner.bucket
            && let Err(retry_after) = bucket.try_take()
        {
            self.inner.over_budget.fetch_add(1, Ordering::Relaxed);
            return Err(AuthError::OverBudget { retry_after });
        }
        let slot = self.concurrency_slot().await;
        if slot.is_err()
            && let Some(bucket) = &self.inner.bucket
        {
            bucket.give_back();
        }
        slot
    }

    /// A slot of the concurrency bound.
    async fn concurrency_slot(&self) -> Result<OwnedSemaphorePermit, AuthError> {
        if let Ok(permit) = self.inner.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let queued = self.inner.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.inner.waiting);
        if queued >= self.inner.settings.queued {
            return Err(AuthError::Busy);
        }
        self.inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| AuthError::Busy)
    }

    /// Runs `work` on an Argon2 thread within the limits. The slot moves into the job: a caller
    /// that gives up (a client that disconnects) does not free it while the hash still runs.
    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit = self.slot().await?;
        let this = self.clone();
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let running = this.inner.running.fetch_add(1, Ordering::SeqCst) + 1;
            this.inner.peak.fetch_max(running, Ordering::SeqCst);
            let out = work(&this);
            this.inner.running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            let _ = done.send(out);
        });
        let workers = self
            .inner
            .workers
            .get_or_init(|| start_workers(self.inner.settings.concurrent.get()));
        let job = match workers {
            Some(queue) => queue.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if let Some(job) = job {
            // No Argon2 thread: the blocking pool, as before.
            tokio::task::spawn_blocking(job);
        }
        result.await.map_err(|_| AuthError::PasswordHash)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            self.inner.settings.params.clone(),
        )
    }

    /// Hashes `password` to a PHC string, on the current thread (it takes tens of
    /// milliseconds: call [`hash_async`](Self::hash_async) from async code).
    /// The PHC string is the one `argon2`'s `hash_password` makes: a 16-byte random salt,
    /// `$argon2id$v=19$m=..,t=..,p=..$salt$hash`.
    pub fn hash_blocking(&self, password: &str) -> Result<String, AuthError> {
        let mut salt = [0u8; SALT_LEN];
        crate::error::random_bytes(&mut salt).map_err(|_| AuthError::PasswordHash)?;
        let argon2 = self.argon2();
        let params = argon2.params();
        let mut buffer = Zeroizing::new([0u8; Output::MAX_LENGTH]);
        let out = buffer
            .get_mut(..params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN))
            .ok_or(AuthError::PasswordHash)?;
        if !argon2_into(&argon2, password.as_bytes(), &salt, out) {
            return Err(AuthError::PasswordHash);
        }
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(|_| AuthError::PasswordHash)?,
            salt: Some(Salt::new(&salt).map_err(|_| AuthError::PasswordHash)?),
            hash: Some(Output::new(out).map_err(|_| AuthError::PasswordHash)?),
        };
        Ok(hash.to_string())
    }

    /// Hashes `password` on the blocking pool, within the [`limits`](Self::limits).
    pub async fn hash_async(&self, password: Zeroizing<String>) -> Result<String, AuthError> {
        self.run_blocking(move |this| this.hash_blocking(&password))
            .await?
    }

    /// Checks `password` against `phc` on the current thread. With no hash (unknown user) or an
    /// empty password, a dummy hash with the same parameters is verified instead and the
    /// result is [`PasswordCheck::Invalid`], so the time spent is the same.
    pub fn verify_blocking(&self, password: &str, phc: Option<&str>) -> PasswordCheck {
        let real = phc.filter(|_| !password.is_empty());
        let target = match real {
            Some(phc) => phc,
            None => self.dummy_hash(),
        };
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        let matched = match PasswordHash::new(target) {
            Ok(parsed) => verify_phc(password.as_bytes(), &parsed),
            Err(_) => {
                // A corrupt stored hash: still spend the time, then fail.
                if let Ok(dummy) = PasswordHash::new(self.dummy_hash()) {
                    let _ = verify_phc(password.as_bytes(), &dummy);
                }
                false
            }
        };
        match (real, matched) {
            (Some(phc), true) => PasswordCheck::Valid {
                needs_rehash: self.needs_rehash(phc),
            },
            _ => PasswordCheck::Invalid,
        }
    }

    /// [`verify_blocking`](Self::verify_blocking) on the blocking pool, within the
    /// [`limits`](Self::limits): [`AuthError::Busy`] when they are reached. Unknown users
    /// (`phc: None`) take a slot like everyone else.
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        phc: Option<String>,
    ) -> Result<PasswordCheck, AuthError> {
        self.run_blocking(move |this| this.verify_blocking(&password, phc.as_deref()))
            .await
    }

    /// Whether `phc` was made with another algorithm, version or parameters than this hasher's.
    ///
    /// ```
    /// use mlguard_auth::password::PasswordHasher;
    /// let weak = PasswordHasher::danger_with_weak_params(1024, 1, 1).unwrap();
    /// let old = weak.hash_blocking("pw").unwrap();
    /// assert!(PasswordHasher::new().needs_rehash(&old));
    /// assert!(!weak.needs_rehash(&old));
    /// ```
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        if parsed.algorithm.as_str() != "argon2id" || parsed.version.is_none_or(|v| v != 0x13) {
            return true;
        }
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let want = &self.inner.settings.params;
        params.m_cost() != want.m_cost()
            || params.t_cost() != want.t_cost()
            || params.p_cost() != want.p_cost()
            || params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
                != want.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
    }

    /// How many verifications (real or dummy) this hasher and its clones have run; a metric,
    /// and how tests show that failed logins cost the same work as successful ones.
    pub fn verification_count(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    fn dummy_hash(&self) -> &str {
        self.inner.dummy.get_or_init(|| {
            let mut random = [0u8; 16];
            let _ = crate::error::random_bytes(&mut random);
            let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
            self.hash_blocking(&password).unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher as _;

    fn fast() -> PasswordHasher {
        PasswordHasher::danger_with_weak_params(256, 1, 1).unwrap()
    }

    #[test]
    fn owasp_defaults() {
        let h = PasswordHasher::new();
        assert_eq!(
            (
                h.inner.settings.params.m_cost(),
                h.inner.settings.params.t_cost(),
                h.inner.settings.params.p_cost()
            ),
            (OWASP_M_COST, OWASP_T_COST, OWASP_P_COST)
        );
        assert!(PasswordHasher::with_params(8_192, 2, 1).is_err());
        assert!(PasswordHasher::with_params(12_288, 3, 1).is_ok());
    }

    #[test]
    fn empty_password_and_unknown_user_are_invalid() {
        let h = fast();
        let phc = h.hash_blocking("").unwrap();
        assert_eq!(h.verify_blocking("", Some(&phc)), PasswordCheck::Invalid);
        assert_eq!(h.verify_blocking("x", None), PasswordCheck::Invalid);
        assert_eq!(h.verify_blocking("x", Some("not a phc")), PasswordCheck::Invalid);
        assert!(h.inner.dummy.get().is_some_and(|d| d.starts_with("$argon2id$")));
    }

    #[test]
    fn outdated_params_need_rehash() {
        let old = PasswordHasher::danger_with_weak_params(128, 1, 1).unwrap();
        let phc = old.hash_blocking("pw").unwrap();
        assert_eq!(
            fast().verify_blocking("pw", Some(&phc)),
            PasswordCheck::Valid { needs_rehash: true }
        );
        assert_eq!(
            old.verify_blocking("pw", Some(&phc)),
            PasswordCheck::Valid { needs_rehash: false }
        );
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(256, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        assert_eq!(
            fast().verify_blocking("pw", Some(&argon2i)),
            PasswordCheck::Valid { needs_rehash: true }
        );
    }

    /// A PHC string made by the plain `argon2` crate API.
    fn crate_hash(algorithm: Algorithm, params: Params, password: &[u8]) -> String {
        Argon2::new(algorithm, Version::V0x13, params)
            .hash_password(password)
            .unwrap()
            .to_string()
    }

    #[test]
    fn crate_made_hashes_verify_owasp_and_other_params() {
        let owasp = crate_hash(Algorithm::Argon2id, Params::DEFAULT, b"pw");
        let h = PasswordHasher::new();
        assert_eq!(
            h.verify_blocking("pw", Some(&owasp)),
            PasswordCheck::Valid { needs_rehash: false }
        );
        assert_eq!(h.verify_blocking("pX", Some(&owasp)), PasswordCheck::Invalid);
        // Other m, t, p and a 48-byte output, with argon2id, argon2i and argon2d.
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            let phc = crate_hash(algorithm, Params::new(512, 3, 2, Some(48)).unwrap(), b"secret");
            let f = fast();
            assert_eq!(
                f.verify_blocking("secret", Some(&phc)),
                PasswordCheck::Valid { needs_rehash: true },
                "{phc}"
            );
            assert_eq!(f.verify_blocking("secreT", Some(&phc)), PasswordCheck::Invalid);
            assert_eq!(f.verify_blocking("secret ", Some(&phc)), PasswordCheck::Invalid);
        }
        // Our hashes verify with the crate's own verifier, and with ours.
        use argon2::PasswordVerifier as _;
        let ours = fast().hash_blocking("pw").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert_eq!(parsed.salt.map(|s| s.len()), Some(SALT_LEN));
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"pX", &parsed).is_err());
    }

    #[test]
    fn reused_buffer_gives_the_crate_s_outputs() {
        // On an Argon2 thread (the reused buffer): a larger run, then a smaller one, then the
        // larger one again: each verifies, so stale blocks never leak into an output.
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let f = fast();
        let big = crate_hash(Algorithm::Argon2id, Params::new(1024, 1, 1, None).unwrap(), b"a");
        let small = crate_hash(Algorithm::Argon2id, Params::new(64, 1, 1, None).unwrap(), b"b");
        for (pw, phc, ok) in [
            ("a", &big, true),
            ("b", &small, true),
            ("a", &big, true),
            ("b", &big, false),
        ] {
            let got = rt
                .block_on(f.verify(pw.to_owned().into(), Some(phc.clone())))
                .unwrap();
            assert_eq!(matches!(got, PasswordCheck::Valid { .. }), ok, "{pw} {phc}");
        }
    }

    /// `s` with its first character changed (to another base64 character).
    fn flip_first(s: &str) -> String {
        let first = if s.starts_with('A') { 'B' } else { 'A' };
        format!("{first}{}", &s[1..])
    }

    #[test]
    fn corrupt_phc_strings_are_invalid() {
        let f = fast();
        let phc = f.hash_blocking("pw").unwrap();
        assert!(matches!(
            f.verify_blocking("pw", Some(&phc)),
            PasswordCheck::Valid { .. }
        ));
        let parts: Vec<&str> = phc.split('$').collect();
        let (salt, hash) = (parts[4], parts[5]);
        let corrupt = [
            phc.replacen("$argon2id$", "$argon2i$", 1),
            phc.replacen("$argon2id$", "$argon2d$", 1),
            phc.replacen("$argon2id$", "$argon2x$", 1),
            phc.replacen("$argon2id$", "$scrypt$", 1),
            phc.replacen("$v=19$", "$v=16$", 1),
            phc.replacen("$v=19$", "$v=20$", 1),
            phc.replacen(",t=1,", ",t=2,", 1),
            phc.replacen("m=256,", "m=1,", 1),
            phc.replacen(hash, &hash[..hash.len() - 4], 1),
            phc.replacen(hash, &hash[..8], 1),
            phc.replacen(&format!("${hash}"), "", 1),
            phc.replacen(salt, &salt[..salt.len() - 2], 1),
            phc.replacen(salt, "c2FsdA", 1),
            phc.replacen(salt, "!!not-b64!!", 1),
            phc.replacen(salt, &flip_first(salt), 1),
            phc.replacen(hash, &flip_first(hash), 1),
            phc[..phc.len() - 1].to_owned(),
            format!("{phc}$extra"),
            String::new(),
            "$argon2id$".to_owned(),
        ];
        for bad in &corrupt {
            assert_ne!(bad, &phc);
            assert_eq!(
                f.verify_blocking("pw", Some(bad)),
                PasswordCheck::Invalid,
                "{bad:?}"
            );
        }
    }
}
