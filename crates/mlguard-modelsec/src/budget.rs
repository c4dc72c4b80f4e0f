//! Query budgets (MITRE ATLAS **M0004**, "Restrict number of ML model queries"; OWASP ML Top 10
//! **ML05** model theft).
//!
//! Extraction needs many queries: Tramèr et al. (USENIX Security 2016) extracted BigML trees
//! exactly with 1,150 to 4,013 queries and logistic regressions with 650 to 1,485. A per-minute
//! rate limit does not bound that, a long-window total per principal (`5000/day`) does, and
//! with a stolen or shared key it bounds what one credential can take.
//!
//! Built on **mlguard-ratelimit**: the same quota syntax ([`mlguard_ratelimit::Quota`]), the
//! same memory store (bounded keys) and, with this crate's `redis` feature, its Redis backend
//! (one Lua script; the budget is shared by every instance). A [`QueryBudget`] is a
//! [`RateLimitLayer`] configured for budgets: a fixed window (a principal gets `count` queries
//! in a window that starts with its first query, so the whole budget comes back at once when
//! the window ends), keyed by the principal's subject, policy name `query-budget`.
//!
//! - As a layer ([`QueryBudget::layer`]) on a single-prediction route: one unit per request.
//! - From a handler ([`QueryBudget::charge`]) for a batch: one unit per row, all or nothing.

use std::time::Duration;

use mlguard_core::{Principal, Problem, SharedClock};
use mlguard_ratelimit::{
    Algorithm, CheckError, IntoQuota, KeyExtractor, MissingKey, RateLimitError, RateLimitKey, RateLimitLayer,
    RateLimiter,
};

use crate::events::{self, BUDGET_EXHAUSTED, ModelSecStats, PROBLEM_QUERY_BUDGET};

/// The policy name of budgets (in `RateLimit-Policy` fields and Redis keys).
pub const BUDGET_POLICY_NAME: &str = "query-budget";

/// A long-window query total per principal.
///
/// ```
/// use mlguard_core::{ManualClock, Principal};
/// use mlguard_modelsec::QueryBudget;
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = ManualClock::at_unix(1_000_000);
/// let budget = QueryBudget::builder("5/day").clock(Arc::new(clock.clone())).build()?;
/// let alice = Principal::builder("alice").build();
/// budget.charge(&alice, 3).await.map_err(|p| p.to_string())?;          // a batch of 3 rows
/// budget.charge(&alice, 2).await.map_err(|p| p.to_string())?;
/// let refused = budget.charge(&alice, 1).await.unwrap_err();
/// assert_eq!(refused.status(), 429);
/// clock.advance(std::time::Duration::from_secs(86_400));
/// budget.charge(&alice, 5).await.map_err(|p| p.to_string())?;          // a new day
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct QueryBudget {
    layer: RateLimitLayer,
    stats: std::sync::Arc<ModelSecStats>,
}

/// Builds a [`QueryBudget`]; see [`QueryBudget::builder`].
#[derive(Debug)]
#[must_use]
pub struct QueryBudgetBuilder {
    inner: mlguard_ratelimit::RateLimitLayerBuilder,
}

impl QueryBudget {
    /// A budget of `quota` (`"5000/day"`, `"20000/7 days"`; periods up to 366 days) per
    /// principal subject. Defaults: fixed window, memory store,
    /// requests without a principal refused with 401.
    pub fn builder(quota: impl IntoQuota) -> QueryBudgetBuilder {
        QueryBudgetBuilder {
            inner: RateLimitLayer::builder()
                .quota(quota)
                .algorithm(Algorithm::FixedWindow)
                .key(KeyExtractor::principal_subject())
                .on_missing_key(MissingKey::Reject(http::StatusCode::UNAUTHORIZED))
                .policy_name(BUDGET_POLICY_NAME),
        }
    }

    /// The budget as a tower layer (one unit per request, or the request's
    /// `mlguard_ratelimit::RateLimitCost`). It shares its counters with [`Self::charge`].
    pub fn layer(&self) -> RateLimitLayer {
        self.layer.clone()
    }

    /// The underlying limiter (quota, direct checks, counters).
    #[must_use]
    pub fn limiter(&self) -> &RateLimiter {
        self.layer.limiter()
    }

    /// This budget's counters.
    #[must_use]
    pub fn stats(&self) -> &std::sync::Arc<ModelSecStats> {
        &self.stats
    }

    /// Spends `rows` units of `principal`'s budget, all or nothing.
    ///
    /// # Errors
    /// 429 (with `Retry-After`, `type` [`PROBLEM_QUERY_BUDGET`]) when the budget is spent or
    /// `rows` exceeds what it could ever allow; 503 when the store refuses (full, or Redis down
    /// and configured to fail closed).
    pub async fn charge(&self, principal: &Principal, rows: usize) -> Result<(), Problem> {
        let key = RateLimitKey::subject(principal.subject());
        let cost = u32::try_from(rows).unwrap_or(u32::MAX);
        match self.limiter().check(&key, cost).await {
            Ok(d) if d.allowed => Ok(()),
            Ok(d) => {
                ModelSecStats::bump(&self.stats.budget_exhausted);
                metrics::counter!(BUDGET_EXHAUSTED).increment(1);
                tracing::info!(
                    target: events::AUDIT_TARGET,
                    event = "query_budget_exhausted",
                    principal = %events::bounded(principal.subject()),
                    detector = "query_budget",
                    statistic = "requested_rows",
                    value = rows,
                    quota = %self.limiter().quota(),
                );
                let quota = self.limiter().quota();
                let (detail, wait) = if d.impossible {
                    (
                        format!("A request of {rows} rows is more than the query budget ({quota}) allows."),
                        d.reset,
                    )
                } else {
                    (format!("Query budget exhausted: {quota}."), d.retry_after)
                };
                Err(
                    Problem::too_many_requests(detail, wait.max(Duration::from_secs(1)))
                        .with_type(PROBLEM_QUERY_BUDGET)
                        .with_title("Query budget exhausted"),
                )
            }
            Err(CheckError::StoreFull) => Err(Problem::service_unavailable(
                "The query budget store is at capacity; try again shortly.",
                Some(Duration::from_secs(1)),
            )),
            Err(_) => Err(Problem::service_unavailable(
                "The query budget service is unavailable; try again shortly.",
                Some(Duration::from_secs(1)),
            )),
        }
    }
}

impl QueryBudgetBuilder {
    /// The clock (default: mlguard-ratelimit's monotonic `TokioClock`).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.inner = self.inner.clock(clock);
        self
    }

    /// GCRA instead of the fixed window: the budget refills continuously (one query every
    /// `period / count`) instead of all at once.
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.inner = self.inner.algorithm(algorithm);
        self
    }

    /// Most principals tracked in memory (mlguard-ratelimit's default: 100 000).
    pub fn max_keys(mut self, max_keys: usize, on_full: mlguard_ratelimit::OnFull) -> Self {
        self.inner = self.inner.max_keys(max_keys, on_full);
        self
    }

    /// The policy name (default [`BUDGET_POLICY_NAME`]): give each budget its own.
    pub fn policy_name(mut self, name: impl Into<String>) -> Self {
        self.inner = self.inner.policy_name(name);
        self
    }

    /// Keeps the budget in Redis, shared by every instance (feature `redis`).
    #[cfg(feature = "redis")]
    pub fn redis(mut self, backend: mlguard_ratelimit::RedisBackend) -> Self {
        self.inner = self.inner.redis(backend);
        self
    }

    /// Checks the quota and builds the budget.
    ///
    /// # Errors
    /// mlguard-ratelimit's [`RateLimitError`] for a bad quota or setting.
    pub fn build(self) -> Result<QueryBudget, RateLimitError> {
        Ok(QueryBudget {
            layer: self.inner.build()?,
            stats: std::sync::Arc::default(),
        })
    }
}
