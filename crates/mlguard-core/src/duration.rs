//! Human durations in configuration: `500ms`, `10s`, `5m`, `24h`, `7d`, or a bare number of
//! seconds, as operators write them in environment variables and files.
//!
//! What it protects against: a timeout or TTL misread by a unit (`"10"` taken as milliseconds
//! somewhere, seconds elsewhere) and overflowing values silently wrapped. One parser, one set of
//! units, overflow refused.

use std::time::Duration;

/// A duration string that does not parse. Holds at most the first 40 characters of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a duration: {0:?} (expected e.g. `500ms`, `10s`, `5m`, `2h` or a number of seconds)")]
pub struct DurationError(pub String);

/// Parses `500ms`, `10s`, `5m`, `2h`, `1d` or a bare number of seconds (surrounding white space
/// is ignored; units also as `sec`, `min`, `hour(s)`, `day(s)`).
///
/// ```
/// use std::time::Duration;
/// use mlguard_core::duration::parse_duration;
/// assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
/// assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
/// assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
/// assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
/// assert!(parse_duration("ten seconds").is_err());
/// ```
///
/// # Errors
/// [`DurationError`] for anything else (including overflow).
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(s.chars().take(40).collect());
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(err());
    }
    let n: u64 = num.parse().map_err(|_| err())?;
    let millis_per: u64 = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1_000,
        "ms" => 1,
        "m" | "min" | "mins" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return Err(err()),
    };
    n.checked_mul(millis_per)
        .map(Duration::from_millis)
        .ok_or_else(err)
}
