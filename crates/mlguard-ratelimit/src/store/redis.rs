//! The Redis store: one Lua script, run with EVALSHA, decides and records atomically.
//!
//! The script reads the time from Redis (`TIME`), not from the calling instance, so instances
//! whose clocks disagree still share one timeline. Keys carry TTLs: a GCRA key expires when
//! its bucket is full again, a fixed-window key when its window ends; nothing needs cleaning.

use crate::algorithm::Decision;
use crate::{Algorithm, Quota, RateLimitError, RateLimitKey};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// GCRA and fixed window over microseconds of Redis server time.
///
/// KEYS[1]: the bucket. ARGV: algorithm (0 GCRA, 1 fixed window), GCRA's emission interval or
/// the window (µs), the burst or the window's limit, the cost.
/// Returns {allowed (0/1), remaining, reset µs, retry-after µs (-1: never at this cost)}.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local alg = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
if alg == 0 then
  local tau = step * cap
  local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
  if tat < now then tat = now end
  local left = math.floor((tau - math.min(tat - now, tau)) / step)
  if cost > cap then return {0, left, tat - now, -1} end
  local new_tat = tat + step * cost
  if new_tat - now <= tau then
    if new_tat > now then
      redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
    end
    return {1, math.floor((tau - (new_tat - now)) / step), new_tat - now, 0}
  end
  return {0, left, tat - now, new_tat - tau - now}
end
local spent = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
local ttl = redis.call('PTTL', KEYS[1])
local reset = step
if ttl > 0 then reset = ttl * 1000 else spent = 0 end
if cost > cap then return {0, cap - spent, reset, -1} end
if spent + cost <= cap then
  if ttl > 0 then
    redis.call('INCRBY', KEYS[1], cost)
  elseif cost > 0 then
    redis.call('SET', KEYS[1], cost, 'PX', math.ceil(step / 1000))
  end
  return {1, cap - spent - cost, reset, 0}
end
return {0, cap - spent, reset, reset}
";

/// What a limiter does when Redis fails or does not answer within the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnRedisFailure {
    /// Decide with a local in-memory limiter of the same quota (per instance, so a fleet of N
    /// instances allows up to N times the quota while Redis is down). The default: the service
    /// stays up and still limited.
    #[default]
    FailOpenLocal,
    /// Answer 503 with `Retry-After: 1`.
    FailClosed,
}

/// Redis settings for [`RateLimitLayerBuilder::redis`](crate::RateLimitLayerBuilder::redis).
///
/// ```
/// use std::time::Duration;
/// use mlguard_ratelimit::{OnRedisFailure, RateLimitLayer, RedisBackend};
///
/// let layer = RateLimitLayer::builder()
///     .quota("10/minute")
///     .policy_name("predict")
///     .redis(
///         RedisBackend::new("redis://127.0.0.1:6379/")
///             .timeout(Duration::from_millis(50))
///             .on_failure(OnRedisFailure::FailClosed),
///     )
///     .build()?;
/// # let _ = layer;
/// # Ok::<(), mlguard_ratelimit::RateLimitError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct RedisBackend {
    url: String,
    timeout: Duration,
    on_failure: OnRedisFailure,
    prefix: String,
    backoff: Duration,
}

impl fmt::Debug for RedisBackend {
    // The URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .field("prefix", &self.prefix)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl RedisBackend {
    /// A backend at `url` (`redis://[:password@]host:port/db`). Defaults: 100 ms timeout per
    /// call, fail open to a local limiter, key prefix `mlguard:rl`, 1 s backoff after a failure.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: Duration::from_millis(100),
            on_failure: OnRedisFailure::default(),
            prefix: "mlguard:rl".to_owned(),
            backoff: Duration::from_secs(1),
        }
    }

    /// The most a request waits for Redis (connecting included) before the failure policy.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do when Redis fails.
    pub fn on_failure(mut self, policy: OnRedisFailure) -> Self {
        self.on_failure = policy;
        self
    }

    /// The prefix of every key (default `mlguard:rl`).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// After a failure, how long requests skip Redis and go straight to the failure policy
    /// (default 1 s), so a dead Redis costs one timeout per backoff, not one per request.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    pub(crate) fn into_store(
        self,
        policy: &str,
        algorithm: Algorithm,
        quota: Quota,
    ) -> Result<RedisStore, RateLimitError> {
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| RateLimitError::Redis(format!("bad URL ({:?})", e.kind())))?;
        if self.timeout.is_zero() {
            return Err(RateLimitError::Redis("the timeout must be above zero".into()));
        }
        let (step, cap) = match algorithm {
            Algorithm::Gcra => ((quota.emission_interval_nanos() / 1000).max(1), quota.burst()),
            Algorithm::FixedWindow => ((quota.period_nanos() / 1000).max(1), quota.count()),
        };
        Ok(RedisStore {
            client,
            conn: Mutex::new(None),
            script: redis::Script::new(SCRIPT),
            key_prefix: format!("{}:{policy}:{}:", self.prefix, algorithm.as_str()),
            algorithm,
            step,
            cap,
            period: quota.period(),
            timeout: self.timeout,
            on_failure: self.on_failure,
            backoff: self.backoff,
            epoch: tokio::time::Instant::now(),
            down_until: AtomicU64::new(0),
        })
    }
}

/// A connection to Redis (made lazily, on the first request) and the loaded script.
pub(crate) struct RedisStore {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    script: redis::Script,
    key_prefix: String,
    algorithm: Algorithm,
    step: u64,
    cap: u32,
    period: Duration,
    timeout: Duration,
    on_failure: OnRedisFailure,
    backoff: Duration,
    epoch: tokio::time::Instant,
    down_until: AtomicU64,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("on_failure", &self.on_failure)
            .finish_non_exhaustive()
    }
}

/// A failed Redis check: `attempted` is false when it was skipped during the backoff.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RedisFailed {
    pub(crate) attempted: bool,
}

impl RedisStore {
    pub(crate) fn on_failure(&self) -> OnRedisFailure {
        self.on_failure
    }

    fn elapsed(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    pub(crate) async fn check(&self, key: &RateLimitKey, cost: u32) -> Result<Decision, RedisFailed> {
        if self.elapsed() < self.down_until.load(Ordering::Relaxed) {
            return Err(RedisFailed { attempted: false });
        }
        let redis_key = format!("{}{key}", self.key_prefix);
        let alg = match self.algorithm {
            Algorithm::Gcra => 0,
            Algorithm::FixedWindow => 1,
        };
        let call = async {
            let mut conn = self.connection()?;
            self.script
                .key(&redis_key)
                .arg(alg)
                .arg(self.step)
                .arg(self.cap)
                .arg(cost)
                .invoke_async::<(i64, i64, i64, i64)>(&mut conn)
                .await
        };
        let reply = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => return Err(self.failed(&format!("{:?}", e.kind()))),
            Err(_) => return Err(self.failed("timed out")),
        };
        let (allowed, remaining, reset, retry) = reply;
        let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u64::try_from(remaining).unwrap_or(0),
            reset: us(reset),
            retry_after: if retry < 0 { self.period } else { us(retry) },
            impossible: retry < 0,
        })
    }

    fn failed(&self, why: &str) -> RedisFailed {
        let backoff = u64::try_from(self.backoff.as_nanos()).unwrap_or(u64::MAX);
        self.down_until
            .store(self.elapsed().saturating_add(backoff), Ordering::Relaxed);
        tracing::warn!(
            target: "mlguard_ratelimit",
            prefix = %self.key_prefix,
            error = why,
            policy = ?self.on_failure,
            backoff_ms = self.backoff.as_millis() as u64,
            "Redis rate limit check failed; applying the failure policy"
        );
        RedisFailed { attempted: true }
    }
}
