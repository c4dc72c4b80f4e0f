//! Per-request cost: how many quota units one request spends.

use http::request::Parts;
use std::sync::Arc;

/// The cost of this request in quota units, as a request extension.
///
/// By default a request costs 1, or the `RateLimitCost` found in its extensions. A server that
/// wants a batch prediction of 50 rows to count as 50 inserts `RateLimitCost(50)` in a layer
/// placed *before* the rate limit layer (for example one that reads a validated row count, or a
/// trusted header set by the gateway), or configures a cost function with
/// [`RateLimitLayerBuilder::cost_fn`](crate::RateLimitLayerBuilder::cost_fn).
///
/// ```
/// use mlguard_ratelimit::RateLimitCost;
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(RateLimitCost(50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimitCost(pub u32);

pub(crate) type CostFn = Arc<dyn Fn(&Parts) -> u32 + Send + Sync>;

#[inline]
pub(crate) fn default_cost(extensions: &http::Extensions) -> u32 {
    extensions.get::<RateLimitCost>().map_or(1, |c| c.0)
}
