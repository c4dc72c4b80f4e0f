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
use http::{HeaderMap, HeaderName, HeaderValue};

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

/// The longest `RateLimit` value: a 64-byte name in quotes, `;r=`, `;t=` and two `u64`s.
const MAX_RATELIMIT_LEN: usize = 64 + 2 + 3 + 20 + 3 + 20;

/// What the layer writes on every response of a limited route. Everything that does not depend
/// on the decision is built once, here; per request only the two numbers are formatted (with
/// `itoa`, into a stack buffer), so a response costs one allocation per non-constant field.
#[derive(Debug, Clone)]
pub(crate) struct HeaderPlan {
    /// `"name";r=`, the start of every `RateLimit` value (`None`: IETF fields off).
    ratelimit_prefix: Option<Box<[u8]>>,
    policy: Option<HeaderValue>,
    x_limit: Option<HeaderValue>,
}

/// The fields for one response, without a `Vec`: at most five, known by name. The three
/// `X-RateLimit-*` values (off by default) are boxed so that the response future, which carries
/// this struct, stays small.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    policy: Option<HeaderValue>,
    ratelimit: Option<HeaderValue>,
    x: Option<Box<[HeaderValue; 3]>>,
}

impl Fields {
    /// Appends the fields to `headers` (appended, so a second limit's item joins the list).
    pub(crate) fn append_to(self, headers: &mut HeaderMap) {
        if let Some(policy) = self.policy {
            headers.append(&RATELIMIT_POLICY, policy);
        }
        if let Some(ratelimit) = self.ratelimit {
            headers.append(&RATELIMIT, ratelimit);
        }
        if let Some(x) = self.x {
            let [limit, remaining, reset] = *x;
            headers.append(&X_RATELIMIT_LIMIT, limit);
            headers.append(&X_RATELIMIT_REMAINING, remaining);
            headers.append(&X_RATELIMIT_RESET, reset);
        }
    }

    /// The fields as (name, value) pairs, in the order they are written.
    pub(crate) fn into_pairs(self) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
        let x = self.x.map(|x| {
            let [limit, remaining, reset] = *x;
            [
                (X_RATELIMIT_LIMIT.clone(), limit),
                (X_RATELIMIT_REMAINING.clone(), remaining),
                (X_RATELIMIT_RESET.clone(), reset),
            ]
        });
        (self.policy.map(|v| (RATELIMIT_POLICY.clone(), v)).into_iter())
            .chain(self.ratelimit.map(|v| (RATELIMIT.clone(), v)))
            .chain(x.into_iter().flatten())
    }
}

impl HeaderPlan {
    pub(crate) fn new(name: &str, quota: &Quota, ietf: bool, x: bool) -> Self {
        let window = ceil_secs(quota.period()).max(1);
        let policy = ietf.then(|| {
            HeaderValue::try_from(format!("\"{name}\";q={};w={window}", quota.count()))
                .unwrap_or_else(|_| HeaderValue::from_static("\"default\""))
        });
        // The name is checked by the builder (1..=64 token characters), so the prefix fits the
        // stack buffer of `fields`; anything longer is cut rather than trusted.
        let prefix: Vec<u8> = format!("\"{name}\";r=").into_bytes();
        Self {
            ratelimit_prefix: ietf.then(|| prefix.into_boxed_slice()),
            policy,
            x_limit: x.then(|| HeaderValue::from(quota.count())),
        }
    }

    /// The fields for one decision; `None` when every field is off (nothing to write, nothing
    /// to compute).
    #[inline]
    pub(crate) fn fields(&self, d: &Decision) -> Option<Fields> {
        if self.ratelimit_prefix.is_none() && self.x_limit.is_none() {
            return None;
        }
        Some(self.build(d))
    }

    fn build(&self, d: &Decision) -> Fields {
        let reset = ceil_secs(d.reset);
        let mut fields = Fields {
            policy: self.policy.clone(),
            ..Fields::default()
        };
        if let Some(prefix) = &self.ratelimit_prefix {
            fields.ratelimit = ratelimit_value(prefix, d.remaining, reset);
        }
        if let Some(limit) = &self.x_limit {
            fields.x = Some(Box::new([
                limit.clone(),
                HeaderValue::from(d.remaining),
                HeaderValue::from(reset),
            ]));
        }
        fields
    }
}

/// `"name";r=<remaining>;t=<reset>`, written into a stack buffer.
fn ratelimit_value(prefix: &[u8], remaining: u64, reset: u64) -> Option<HeaderValue> {
    let mut buf = [0u8; MAX_RATELIMIT_LEN];
    let mut len = 0;
    let (mut r, mut t) = (itoa::Buffer::new(), itoa::Buffer::new());
    for part in [
        prefix,
        r.format(remaining).as_bytes(),
        b";t=",
        t.format(reset).as_bytes(),
    ] {
        let end = len + part.len();
        buf.get_mut(len..end)?.copy_from_slice(part);
        len = end;
    }
    HeaderValue::from_maybe_shared(shared_copy(&buf[..len])).ok()
}

/// Bytes the values of one thread are carved from: one allocation serves many responses.
const ARENA_CHUNK: usize = 4096;

thread_local! {
    static ARENA: std::cell::RefCell<bytes::BytesMut> = std::cell::RefCell::new(bytes::BytesMut::new());
}

/// `bytes` as a `Bytes` carved from this thread's arena: a refcount increment instead of an
/// allocation per value (a chunk of [`ARENA_CHUNK`] bytes lives until the last value cut from
/// it is dropped).
fn shared_copy(bytes: &[u8]) -> bytes::Bytes {
    ARENA
        .try_with(|arena| {
            let mut arena = arena.borrow_mut();
            if arena.capacity() - arena.len() < bytes.len() {
                *arena = bytes::BytesMut::with_capacity(ARENA_CHUNK.max(bytes.len()));
            }
            arena.extend_from_slice(bytes);
            arena.split().freeze()
        })
        .unwrap_or_else(|_| bytes::Bytes::copy_from_slice(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn decision(remaining: u64, reset: Duration) -> Decision {
        Decision {
            allowed: true,
            remaining,
            reset,
            retry_after: Duration::ZERO,
            impossible: false,
        }
    }

    fn pairs(plan: &HeaderPlan, d: &Decision) -> Vec<(String, String)> {
        plan.fields(d)
            .into_iter()
            .flat_map(Fields::into_pairs)
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn fields_match_the_formatted_values() {
        let quota: Quota = "10/minute".parse().unwrap();
        let plan = HeaderPlan::new("per-ip", &quota, true, true);
        let got = pairs(&plan, &decision(3, Duration::from_millis(41_001)));
        let want = [
            ("ratelimit-policy", "\"per-ip\";q=10;w=60"),
            ("ratelimit", "\"per-ip\";r=3;t=42"),
            ("x-ratelimit-limit", "10"),
            ("x-ratelimit-remaining", "3"),
            ("x-ratelimit-reset", "42"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_longest_name_and_numbers_fit() {
        let name = "n".repeat(64);
        assert!(valid_policy_name(&name));
        let quota: Quota = "10/minute".parse().unwrap();
        let plan = HeaderPlan::new(&name, &quota, true, false);
        let reset = Duration::from_nanos(u64::MAX);
        let got = pairs(&plan, &decision(u64::MAX, reset));
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1].1,
            format!("\"{name}\";r={};t={}", u64::MAX, ceil_secs(reset))
        );
    }

    #[test]
    fn values_carved_from_the_arena_stay_intact_across_chunks() {
        // Enough values to fill several arena chunks; every one must keep its own bytes while
        // later ones are written (and after the chunk it came from is replaced).
        let quota: Quota = "10/minute".parse().unwrap();
        let plan = HeaderPlan::new("arena", &quota, true, false);
        let kept: Vec<(u64, HeaderValue)> = (0..2_000u64)
            .map(|i| {
                let fields = plan.fields(&decision(i * 7919, Duration::from_secs(i))).unwrap();
                (i, fields.ratelimit.unwrap())
            })
            .collect();
        for (i, value) in kept {
            assert_eq!(value.to_str().unwrap(), format!("\"arena\";r={};t={i}", i * 7919));
        }
    }

    #[test]
    fn off_means_no_fields() {
        let quota: Quota = "10/minute".parse().unwrap();
        let plan = HeaderPlan::new("default", &quota, false, false);
        assert!(plan.fields(&decision(1, Duration::from_secs(1))).is_none());
    }
}
