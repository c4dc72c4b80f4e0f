//! The Redis-backed denylist (feature `redis`).

use super::{BoxFuture, RevocationStore, deny_until};
use crate::AuthError;
use mlguard_core::{SharedClock, SystemClock};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long one Redis command (connecting included) may take before the check fails (closed):
/// 1 second.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// A `jti` denylist in Redis, shared by every replica: one key per revoked token
/// (`<prefix><jti>`), expiring when no verifier can accept the token any more
/// (`SET ... PX`, to [`deny_until`]).
///
/// The connection is a redis [`ConnectionManager`]: after a dropped connection
/// (`CLIENT KILL`, a Redis restart, a network blip) it reconnects by itself, so the service
/// recovers as soon as Redis is back. While Redis is unreachable every check fails, within
/// the timeout, and [`BearerAuth`](crate::jwt::BearerAuth) answers 503 (fail closed: a revoked
/// token is never let in because the list could not be read).
///
/// ```no_run
/// use mlguard_auth::revocation::{RedisRevocationStore, RevocationStore};
/// # async fn demo() -> Result<(), mlguard_auth::AuthError> {
/// let store = RedisRevocationStore::connect("redis://127.0.0.1:6379/").await?.with_prefix("ml-api:revoked:");
/// let expires_at = std::time::SystemTime::now() + std::time::Duration::from_secs(900);
/// store.revoke("jti-1", expires_at).await?;
/// assert!(store.is_revoked("jti-1").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRevocationStore {
    conn: ConnectionManager,
    prefix: String,
    clock: SharedClock,
    timeout: Duration,
}

impl fmt::Debug for RedisRevocationStore {
    // The connection URL may hold a password: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocationStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn backend(e: &redis::RedisError) -> AuthError {
    // Only the kind: Redis errors do not include the URL, but keep it that way.
    AuthError::Backend(format!("redis: {:?}", e.kind()))
}

impl RedisRevocationStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`); keys are prefixed
    /// `mlguard:revoked:`, commands time out after [`DEFAULT_REDIS_TIMEOUT`].
    ///
    /// Fails when Redis cannot be reached now (a misconfiguration is reported at start-up);
    /// later outages are survived by reconnecting.
    pub async fn connect(url: &str) -> Result<Self, AuthError> {
        Self::connect_with_timeout(url, DEFAULT_REDIS_TIMEOUT).await
    }

    /// Like [`connect`](Self::connect) with another command and connection timeout (above zero).
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, AuthError> {
        if timeout.is_zero() {
            return Err(AuthError::Config("the Redis timeout must be above zero".into()));
        }
        let client = redis::Client::open(url).map_err(|_| AuthError::Config("invalid Redis URL".into()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| AuthError::Backend("redis: connection timed out".into()))?
            .map_err(|e| backend(&e))?;
        Ok(Self {
            conn,
            prefix: "mlguard:revoked:".to_owned(),
            clock: Arc::new(SystemClock),
            timeout,
        })
    }

    /// Sets the key prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Sets the clock used to turn the deny horizon into a TTL.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs `cmd`, bounded by the timeout (the manager reconnects in the background on errors).
    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, AuthError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(result) => result.map_err(|e| backend(&e)),
            Err(_) => Err(AuthError::Backend("redis: timed out".into())),
        }
    }
}

impl RevocationStore for RedisRevocationStore {
    fn revoke<'a>(&'a self, jti: &'a str, expires_at: SystemTime) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
            let Ok(ttl) = deny_until(expires_at).duration_since(self.clock.now()) else {
                return Ok(()); // no verifier accepts it any more: nothing to deny
            };
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("{}{jti}", self.prefix)).arg(1).arg("PX").arg(ms);
            self.run::<()>(&cmd).await
        })
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EXISTS");
            cmd.arg(format!("{}{jti}", self.prefix));
            let n: i64 = self.run(&cmd).await?;
            Ok(n > 0)
        })
    }
}
