//! Quotas: how many requests (or cost units) per period, and how many at once.
//!
//! A [`Quota`] is parsed from the strings slowapi users already write, or built in code:
//!
//! | string | meaning |
//! |---|---|
//! | `5/minute`, `5 per minute`, `5/min`, `5/m` | 5 per 60 s |
//! | `100/second`, `100/s` | 100 per second |
//! | `1000/hour`, `1/day` | per 3600 s, per 86 400 s |
//! | `10/5 minutes`, `10 per 30 seconds` | a period of several units |
//! | `10/minute; burst=20` | 10 per minute, up to 20 at once (GCRA only) |
//!
//! Units are case-insensitive: `s`, `sec`, `second(s)`, `m`, `min`, `minute(s)`, `h`, `hr`,
//! `hour(s)`, `d`, `day(s)`. Without an explicit burst, the burst equals the count (slowapi's
//! behaviour: all of a minute's quota may be spent at once).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest period a quota may have (366 days), so every computation stays in `u64` nanoseconds.
pub const MAX_PERIOD: Duration = Duration::from_secs(366 * 86_400);

/// The largest count or burst a quota may have.
pub const MAX_COUNT: u32 = 1_000_000_000;

/// Why a quota string or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuotaError {
    /// The string does not have the form `COUNT/UNIT` or `COUNT per UNIT`.
    #[error("quota {0:?} is not of the form `5/minute`, `5 per minute` or `10/minute; burst=20`")]
    Syntax(String),
    /// The time unit is not one of second, minute, hour, day.
    #[error("unknown time unit {0:?} (use second, minute, hour or day)")]
    Unit(String),
    /// The count, burst or period multiplier is 0.
    #[error("a quota's count, burst and period must be at least 1")]
    Zero,
    /// The count or burst is above [`MAX_COUNT`], or the period above [`MAX_PERIOD`].
    #[error("quota too large: counts up to {MAX_COUNT}, periods up to 366 days")]
    TooLarge,
    /// More requests per period than nanoseconds in it.
    #[error("quota too fine: more than one request per nanosecond")]
    TooFine,
}

/// A rate: `count` per `period`, with up to `burst` at once.
///
/// ```
/// use std::time::Duration;
/// use mlguard_ratelimit::Quota;
///
/// let q: Quota = "10/minute; burst=20".parse()?;
/// assert_eq!(q.count(), 10);
/// assert_eq!(q.period(), Duration::from_secs(60));
/// assert_eq!(q.burst(), 20);
/// assert_eq!(q, Quota::per_minute(10)?.with_burst(20)?);
///
/// assert!("0/minute".parse::<Quota>().is_err());
/// assert!("5/fortnight".parse::<Quota>().is_err());
/// # Ok::<(), mlguard_ratelimit::QuotaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    count: u32,
    period: Duration,
    burst: u32,
}

impl Quota {
    /// `count` per `period`, burst equal to `count`.
    pub fn new(count: u32, period: Duration) -> Result<Self, QuotaError> {
        if count == 0 || period.is_zero() {
            return Err(QuotaError::Zero);
        }
        if count > MAX_COUNT || period > MAX_PERIOD {
            return Err(QuotaError::TooLarge);
        }
        if period.as_nanos() < u128::from(count) {
            return Err(QuotaError::TooFine);
        }
        Ok(Self {
            count,
            period,
            burst: count,
        })
    }

    /// `count` per second.
    pub fn per_second(count: u32) -> Result<Self, QuotaError> {
        Self::new(count, Duration::from_secs(1))
    }

    /// `count` per minute.
    pub fn per_minute(count: u32) -> Result<Self, QuotaError> {
        Self::new(count, Duration::from_secs(60))
    }

    /// `count` per hour.
    pub fn per_hour(count: u32) -> Result<Self, QuotaError> {
        Self::new(count, Duration::from_secs(3600))
    }

    /// `count` per day.
    pub fn per_day(count: u32) -> Result<Self, QuotaError> {
        Self::new(count, Duration::from_secs(86_400))
    }

    /// Sets how many requests may pass at once (GCRA's burst; fixed windows ignore it and allow
    /// `count` per window).
    pub fn with_burst(mut self, burst: u32) -> Result<Self, QuotaError> {
        if burst == 0 {
            return Err(QuotaError::Zero);
        }
        if burst > MAX_COUNT {
            return Err(QuotaError::TooLarge);
        }
        self.burst = burst;
        Ok(self)
    }

    /// Requests (cost units) per period.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Requests that may pass at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// GCRA's emission interval: the period divided by the count, in nanoseconds (at least 1).
    pub fn emission_interval_nanos(&self) -> u64 {
        let period = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        (period / u64::from(self.count)).max(1)
    }

    /// The period in nanoseconds.
    pub fn period_nanos(&self) -> u64 {
        u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        let period = match secs {
            1 if self.period.subsec_nanos() == 0 => "second".to_owned(),
            60 => "minute".to_owned(),
            3600 => "hour".to_owned(),
            86_400 => "day".to_owned(),
            _ if self.period.subsec_nanos() == 0 => format!("{secs} seconds"),
            _ => format!("{} ms", self.period.as_millis()),
        };
        write!(f, "{}/{period}", self.count)?;
        if self.burst != self.count {
            write!(f, "; burst={}", self.burst)?;
        }
        Ok(())
    }
}

fn parse_count(s: &str, whole: &str) -> Result<u32, QuotaError> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuotaError::Syntax(whole.to_owned()));
    }
    match s.parse::<u64>() {
        Ok(0) => Err(QuotaError::Zero),
        Ok(n) => u32::try_from(n)
            .ok()
            .filter(|n| *n <= MAX_COUNT)
            .ok_or(QuotaError::TooLarge),
        // Only digits, so the only failure is overflow.
        Err(_) => Err(QuotaError::TooLarge),
    }
}

fn unit_secs(unit: &str) -> Result<u64, QuotaError> {
    match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => Ok(1),
        "m" | "min" | "mins" | "minute" | "minutes" => Ok(60),
        "h" | "hr" | "hrs" | "hour" | "hours" => Ok(3600),
        "d" | "day" | "days" => Ok(86_400),
        _ => Err(QuotaError::Unit(unit.chars().take(32).collect())),
    }
}

impl FromStr for Quota {
    type Err = QuotaError;

    fn from_str(whole: &str) -> Result<Self, Self::Err> {
        let syntax = || QuotaError::Syntax(whole.chars().take(64).collect());
        let (rate, burst) = match whole.split_once(';') {
            Some((rate, rest)) => {
                let (name, value) = rest.split_once('=').ok_or_else(syntax)?;
                if !name.trim().eq_ignore_ascii_case("burst") {
                    return Err(syntax());
                }
                (rate, Some(parse_count(value, whole)?))
            }
            None => (whole, None),
        };
        let rate = rate.trim();
        let (count, period) = if let Some((c, p)) = rate.split_once('/') {
            (c, p)
        } else {
            let lower = rate.to_ascii_lowercase();
            let at = lower.find(" per ").ok_or_else(syntax)?;
            (&rate[..at], &rate[at + 5..])
        };
        let count = parse_count(count, whole)?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(syntax)?;
        let (multiplier, unit) = period.split_at(split);
        let multiplier = if multiplier.is_empty() {
            1
        } else {
            u64::from(parse_count(multiplier, whole)?)
        };
        let unit = unit.trim();
        if unit.is_empty() {
            return Err(syntax());
        }
        let secs = unit_secs(unit)?
            .checked_mul(multiplier)
            .ok_or(QuotaError::TooLarge)?;
        let quota = Quota::new(count, Duration::from_secs(secs))?;
        match burst {
            Some(b) => quota.with_burst(b),
            None => Ok(quota),
        }
    }
}

impl TryFrom<&str> for Quota {
    type Error = QuotaError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quota {
        s.parse().unwrap()
    }

    #[test]
    fn slowapi_forms_parse() {
        assert_eq!(q("5/minute"), Quota::per_minute(5).unwrap());
        assert_eq!(q("10/min"), Quota::per_minute(10).unwrap());
        assert_eq!(q("100/second"), Quota::per_second(100).unwrap());
        assert_eq!(q("1000/hour"), Quota::per_hour(1000).unwrap());
        assert_eq!(q("5 per minute"), Quota::per_minute(5).unwrap());
        assert_eq!(q("1/day"), Quota::per_day(1).unwrap());
        assert_eq!(q(" 7 PER Hours "), Quota::per_hour(7).unwrap());
        assert_eq!(q("10/5 minutes").period(), Duration::from_secs(300));
        assert_eq!(q("10/30s").period(), Duration::from_secs(30));
    }

    #[test]
    fn burst_is_explicit_or_the_count() {
        assert_eq!(q("10/minute").burst(), 10);
        assert_eq!(q("10/minute; burst=20").burst(), 20);
        assert_eq!(q("10/minute;BURST = 3").burst(), 3);
        assert_eq!(q("10/minute; burst=20").count(), 10);
    }

    #[test]
    fn bad_strings_are_typed_errors() {
        assert!(matches!("".parse::<Quota>(), Err(QuotaError::Syntax(_))));
        assert!(matches!(
            "five/minute".parse::<Quota>(),
            Err(QuotaError::Syntax(_))
        ));
        assert!(matches!("5/".parse::<Quota>(), Err(QuotaError::Syntax(_))));
        assert!(matches!("5/fortnight".parse::<Quota>(), Err(QuotaError::Unit(_))));
        assert_eq!("0/minute".parse::<Quota>(), Err(QuotaError::Zero));
        assert_eq!("5/0 minutes".parse::<Quota>(), Err(QuotaError::Zero));
        assert_eq!("5/minute; burst=0".parse::<Quota>(), Err(QuotaError::Zero));
        assert!(matches!(
            "5/minute; rate=3".parse::<Quota>(),
            Err(QuotaError::Syntax(_))
        ));
        assert_eq!("99999999999/minute".parse::<Quota>(), Err(QuotaError::TooLarge));
        assert_eq!("1/400 days".parse::<Quota>(), Err(QuotaError::TooLarge));
        assert!("-1/minute".parse::<Quota>().is_err());
    }

    #[test]
    fn emission_interval_divides_the_period() {
        assert_eq!(q("10/minute").emission_interval_nanos(), 6_000_000_000);
        assert_eq!(q("1000/second").emission_interval_nanos(), 1_000_000);
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "5/minute",
            "10/minute; burst=20",
            "3/hour",
            "1/day",
            "9/second",
            "4/30 seconds",
        ] {
            let quota = q(s);
            assert_eq!(quota.to_string().parse::<Quota>().unwrap(), quota, "{s}");
        }
    }
}
