//! The Redis-backed denylist (feature `redis`).

use super::{BoxFuture, RevocationStore};
use crate::AuthError;
use mlguard_core::{SharedClock, SystemClock};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// A `jti` denylist in Redis, shared by every replica: one key per revoked token
/// (`<prefix><jti>`), expiring with the token (`SET ... PX`).
///
/// ```no_run
/// use mlguard_auth::revocation::{RedisRevocationStore, RevocationStore};
/// # async fn demo() -> Result<(), mlguard_auth::AuthError> {
/// let store = RedisRevocationStore::connect("redis://127.0.0.1:6379/").await?.with_prefix("ml-api:revoked:");
/// let until = std::time::SystemTime::now() + std::time::Duration::from_secs(900);
/// store.revoke("jti-1", until).await?;
/// assert!(store.is_revoked("jti-1").await?);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRevocationStore {
    conn: redis::aio::MultiplexedConnection,
    prefix: String,
    clock: SharedClock,
}

impl fmt::Debug for RedisRevocationStore {
    // The connection URL may hold a password: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocationStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn backend(e: redis::RedisError) -> AuthError {
    // Redis errors do not include the connection URL.
    AuthError::Backend(format!("redis: {e}"))
}

impl RedisRevocationStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`); keys are prefixed `mlguard:revoked:`.
    pub async fn connect(url: &str) -> Result<Self, AuthError> {
        let client = redis::Client::open(url).map_err(|_| AuthError::Config("invalid Redis URL".into()))?;
        let conn = client.get_multiplexed_async_connection().await.map_err(backend)?;
        Ok(Self {
            conn,
            prefix: "mlguard:revoked:".to_owned(),
            clock: Arc::new(SystemClock),
        })
    }

    /// Sets the key prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Sets the clock used to turn `until` into a TTL.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }
}

impl RevocationStore for RedisRevocationStore {
    fn revoke<'a>(&'a self, jti: &'a str, until: SystemTime) -> BoxFuture<'a, Result<(), AuthError>> {
        Box::pin(async move {
            let Ok(ttl) = until.duration_since(self.clock.now()) else {
                return Ok(()); // already expired: nothing to deny
            };
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut conn = self.conn.clone();
            redis::cmd("SET")
                .arg(format!("{}{jti}", self.prefix))
                .arg(1)
                .arg("PX")
                .arg(ms)
                .query_async::<()>(&mut conn)
                .await
                .map_err(backend)
        })
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let n: i64 = redis::cmd("EXISTS")
                .arg(format!("{}{jti}", self.prefix))
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            Ok(n > 0)
        })
    }
}
