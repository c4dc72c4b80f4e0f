//! The response fields: IETF `RateLimit-Policy` / `RateLimit`, and the common `X-RateLimit-*`.
//!
//! Written against draft-ietf-httpapi-ratelimit-headers-10 (September 2025; a -11 revision is
//! listed for May 2026 and should be checked when the RFC lands): both fields are Structured Field Lists whose items are the policy
//! name as a String, with parameters `q` (quota units) and `w` (window, seconds) on
//! `RateLimit-Policy`, and `r` (remaining units) and `t` (seconds until the quota is whole
//! again) on `RateLimit`:
//!
//! ```text
//! RateLimit-Policy: "default";q=10;w=60
//! RateLimit: "default";r=3;t=42
//! ```
//!
//! Each layer appends its own item, so two limits on one route (per IP and per user) show as
//! two list members. `X-RateLimit-Limit` / `-Remaining` / `-Reset` (seconds from now, not an
//! epoch time) are off by default.

use crate::Quota;
use crate::algorithm::Decision;
use http::{HeaderName, HeaderValue};

/// `RateLimit-Policy`.
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `X-RateLimit-Limit`.
pub static X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`.
pub static X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`.
pub static X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

pub(crate) fn valid_policy_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn ceil_secs(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// What the layer writes on every response of a limited route.
#[derive(Debug, Clone)]
pub(crate) struct HeaderPlan {
    name: String,
    policy: Option<HeaderValue>,
    x_limit: Option<HeaderValue>,
}

impl HeaderPlan {
    pub(crate) fn new(name: &str, quota: &Quota, ietf: bool, x: bool) -> Self {
        let window = ceil_secs(quota.period()).max(1);
        let policy = ietf.then(|| {
            HeaderValue::try_from(format!("\"{name}\";q={};w={window}", quota.count()))
                .unwrap_or_else(|_| HeaderValue::from_static("\"default\""))
        });
        Self {
            name: name.to_owned(),
            policy,
            x_limit: x.then(|| HeaderValue::from(quota.count())),
        }
    }

    /// The fields for one decision.
    pub(crate) fn fields(&self, d: &Decision) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::with_capacity(5);
        let reset = ceil_secs(d.reset);
        if let Some(policy) = &self.policy {
            out.push((RATELIMIT_POLICY.clone(), policy.clone()));
            let value = format!("\"{}\";r={};t={reset}", self.name, d.remaining);
            if let Ok(v) = HeaderValue::try_from(value) {
                out.push((RATELIMIT.clone(), v));
            }
        }
        if let Some(limit) = &self.x_limit {
            out.push((X_RATELIMIT_LIMIT.clone(), limit.clone()));
            out.push((X_RATELIMIT_REMAINING.clone(), HeaderValue::from(d.remaining)));
            out.push((X_RATELIMIT_RESET.clone(), HeaderValue::from(reset)));
        }
        out
    }
}
