//! [`RedisStore`]: the extraction detector's per-principal state in Redis (feature `redis`), so
//! that a client spreading its queries over several instances feeds one detector.
//!
//! Each principal's [`PrincipalState`] is one string key, `<prefix>:<principal>`, holding
//! `<version>:<JSON>`. An update reads it, runs the update, and writes it back with a small Lua
//! script that compares the version first (optimistic concurrency: on a conflict the update is
//! run again on the fresh state, up to 5 times). Keys expire after the TTL
//! (default 7 days), or at the end of the principal's cool-down if that is later, so an idle
//! principal costs nothing. Every call is bounded by a timeout (default 100 ms, connecting
//! included); a failure is a [`StoreError`], on which the detector fails open (logs and lets
//! the request through: the query budget is the hard limit).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::prada::PrincipalState;
use crate::store::{DetectorStore, StoreError, StoreFuture};

/// Attempts of an update before it gives up on a conflict.
pub(crate) const MAX_ATTEMPTS: usize = 5;

const CAS: &str = r"
local cur = redis.call('GET', KEYS[1])
local ver = 0
if cur then
  ver = tonumber(string.match(cur, '^(%d+):')) or 0
end
if ver ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], tostring(ver + 1) .. ':' .. ARGV[2], 'EX', ARGV[3])
return 1
";

/// The detector's state in Redis.
///
/// ```no_run
/// use std::sync::Arc;
/// use mlguard_modelsec::ExtractionDetector;
/// use mlguard_modelsec::store::RedisStore;
/// let store = RedisStore::new("redis://127.0.0.1:6379/")?;
/// let detector = ExtractionDetector::builder().store(Arc::new(store)).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisStore {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    ttl: Duration,
}

impl fmt::Debug for RedisStore {
    // The client holds the URL, which may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (`redis://[:password@]host:port/db`); connects on first use. Defaults:
    /// key prefix `mlguard:prada`, 100 ms timeout, 7-day TTL.
    ///
    /// # Errors
    /// [`StoreError`] for a URL the redis client refuses (the message names the error kind, not
    /// the URL).
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError(format!("bad Redis URL ({:?})", e.kind())))?;
        Ok(Self {
            client,
            conn: Mutex::new(None),
            script: redis::Script::new(CAS),
            prefix: "mlguard:prada".to_owned(),
            timeout: Duration::from_millis(100),
            ttl: Duration::from_secs(7 * 86_400),
        })
    }

    /// The key prefix (default `mlguard:prada`).
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The most one store call may take, connecting included (default 100 ms; at least 1 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long an idle principal's state is kept (default 7 days; at least 1 s).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let mut slot = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|e| StoreError(format!("{:?}", e.kind())))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    fn key(&self, principal: &str) -> String {
        format!("{}:{principal}", self.prefix)
    }

    /// Reads `(version, state)`; a missing key is version 0 and a fresh state, an unreadable
    /// one is logged and replaced.
    async fn load(
        &self,
        conn: &mut ConnectionManager,
        key: &str,
    ) -> Result<(u64, Option<PrincipalState>), StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(conn)
            .await
            .map_err(|e| StoreError(format!("{:?}", e.kind())))?;
        let Some(raw) = raw else { return Ok((0, None)) };
        let parsed = raw.split_once(':').and_then(|(v, json)| {
            Some((
                v.parse::<u64>().ok()?,
                serde_json::from_str::<PrincipalState>(json).ok()?,
            ))
        });
        match parsed {
            Some((v, s)) => Ok((v, Some(s))),
            None => {
                tracing::warn!(target: "mlguard_modelsec", "unreadable detector state in Redis; starting afresh");
                let v = raw.split_once(':').and_then(|(v, _)| v.parse().ok()).unwrap_or(0);
                Ok((v, None))
            }
        }
    }

    fn ttl_for(&self, state: &PrincipalState) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.ttl
            .as_secs()
            .max(state.alarm_until.saturating_sub(now).saturating_add(60))
    }

    async fn update_inner(
        &self,
        principal: &str,
        update: &mut (dyn FnMut(&mut PrincipalState) + Send),
    ) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        let key = self.key(principal);
        for _ in 0..MAX_ATTEMPTS {
            let (version, state) = self.load(&mut conn, &key).await?;
            let mut state = state.unwrap_or_default();
            update(&mut state);
            let json = serde_json::to_string(&state).map_err(|e| StoreError(e.to_string()))?;
            let written: i64 = self
                .script
                .key(&key)
                .arg(version)
                .arg(json)
                .arg(self.ttl_for(&state))
                .invoke_async(&mut conn)
                .await
                .map_err(|e| StoreError(format!("{:?}", e.kind())))?;
            if written == 1 {
                return Ok(());
            }
        }
        Err(StoreError("too many concurrent updates of one principal".into()))
    }

    async fn bounded<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        // Each attempt is bounded by the connection's response timeout; this bounds the whole.
        let total = self
            .timeout
            .saturating_mul(u32::try_from(2 * MAX_ATTEMPTS + 1).unwrap_or(u32::MAX));
        tokio::time::timeout(total, f)
            .await
            .map_err(|_| StoreError("timed out".into()))?
    }
}

impl DetectorStore for RedisStore {
    fn update<'a>(
        &'a self,
        principal: &'a str,
        update: &'a mut (dyn FnMut(&mut PrincipalState) + Send),
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.bounded(self.update_inner(principal, update)))
    }

    fn read<'a>(
        &'a self,
        principal: &'a str,
        read: &'a mut (dyn FnMut(Option<&PrincipalState>) + Send),
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.bounded(async move {
            let mut conn = self.connection()?;
            let (_, state) = self.load(&mut conn, &self.key(principal)).await?;
            read(state.as_ref());
            Ok(())
        }))
    }

    /// Not counted in Redis (it would need a scan): always 0.
    fn len(&self) -> usize {
        0
    }
}
