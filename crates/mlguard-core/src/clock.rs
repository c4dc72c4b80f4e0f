//! Injectable time.
//!
//! Expiry checks, quotas and token lifetimes read the time through a [`Clock`], so tests can
//! set it ([`ManualClock`]) and be exact and fast instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// Seconds since the Unix epoch (0 for times before it).
    fn unix_secs(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// The operating system's clock.
///
/// ```
/// use mlguard_core::{Clock, SystemClock};
/// assert!(SystemClock.unix_secs() > 1_600_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; clones share the same time. For tests.
///
/// ```
/// use std::time::Duration;
/// use mlguard_core::{Clock, ManualClock};
///
/// let clock = ManualClock::at_unix(1_000);
/// let shared = clock.clone();
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(shared.unix_secs(), 1_005);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock set to `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(secs.saturating_mul(1_000_000_000))),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(by)));
    }

    /// Sets the clock to an absolute time.
    pub fn set(&self, to: SystemTime) {
        let n = to
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.nanos.store(n, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// A shared, type-erased clock, as layers store it.
pub type SharedClock = Arc<dyn Clock>;

/// The last second [`utc_date_time`] formats: 9999-12-31T23:59:59Z (a fifth year digit would
/// not fit its fixed width).
pub const MAX_UTC_SECOND: u64 = 253_402_300_799;

/// `YYYY-MM-DDTHH:MM:SS` (RFC 3339, UTC, without the `Z`) of `secs` since the Unix epoch, as
/// fixed-width ASCII; `None` after [`MAX_UTC_SECOND`]. A pure calendar computation (Howard
/// Hinnant's `civil_from_days`), cheap enough for a log line's timestamp.
///
/// ```
/// use mlguard_core::clock::{format_utc, utc_date_time};
/// assert_eq!(utc_date_time(951_782_400), Some(*b"2000-02-29T00:00:00"));
/// assert_eq!(format_utc(1_735_689_599), "2024-12-31T23:59:59Z");
/// assert_eq!(utc_date_time(253_402_300_800), None);
/// ```
#[must_use]
pub fn utc_date_time(secs: u64) -> Option<[u8; 19]> {
    if secs > MAX_UTC_SECOND {
        return None;
    }
    // Days since 1970-01-01, shifted to an era starting on 0000-03-01.
    let z = secs / 86_400 + 719_468;
    let of_day = secs % 86_400;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00";
    for (at, width, mut value) in [
        (0, 4, year),
        (5, 2, month),
        (8, 2, day),
        (11, 2, of_day / 3600),
        (14, 2, of_day / 60 % 60),
        (17, 2, of_day % 60),
    ] {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    Some(out)
}

/// `secs` since the Unix epoch as an RFC 3339 UTC timestamp, `YYYY-MM-DDTHH:MM:SSZ` (see
/// [`utc_date_time`]); after [`MAX_UTC_SECOND`], the last second it can write.
#[must_use]
pub fn format_utc(secs: u64) -> String {
    let text = utc_date_time(secs.min(MAX_UTC_SECOND)).unwrap_or(*b"9999-12-31T23:59:59");
    format!("{}Z", String::from_utf8_lossy(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Just;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::at_unix(10);
        assert_eq!(c.unix_secs(), 10);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now(), UNIX_EPOCH + Duration::from_millis(11_500));
        c.set(UNIX_EPOCH + Duration::from_secs(3));
        assert_eq!(c.unix_secs(), 3);
        c.advance(Duration::MAX);
        assert!(c.unix_secs() > 0);
    }

    #[test]
    fn dates_are_civil_utc() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (951_868_799, "2000-02-29T23:59:59"),
            (1_735_689_599, "2024-12-31T23:59:59"),
            (1_764_637_401, "2025-12-02T01:03:21"),
            (1_798_761_599, "2026-12-31T23:59:59"),
            (4_102_444_800, "2100-01-01T00:00:00"),
            (MAX_UTC_SECOND, "9999-12-31T23:59:59"),
        ] {
            let text = utc_date_time(secs).map(|b| String::from_utf8_lossy(&b).into_owned());
            assert_eq!(text.as_deref(), Some(want), "{secs}");
            assert_eq!(format_utc(secs), format!("{want}Z"));
        }
        assert_eq!(utc_date_time(MAX_UTC_SECOND + 1), None);
        assert_eq!(format_utc(u64::MAX), "9999-12-31T23:59:59Z");
    }

    /// Gregorian leap years.
    fn leap(y: u64) -> bool {
        y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
    }

    /// The date and time of `secs`, counted the slow way: whole years, then whole months.
    fn slow(secs: u64) -> String {
        let (mut days, mut year) = (secs / 86_400, 1970);
        while days >= 365 + u64::from(leap(year)) {
            days -= 365 + u64::from(leap(year));
            year += 1;
        }
        let feb = 28 + u64::from(leap(year));
        let mut month = 1;
        for len in [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
            if days < len {
                break;
            }
            days -= len;
            month += 1;
        }
        let of_day = secs % 86_400;
        format!(
            "{year:04}-{month:02}-{:02}T{:02}:{:02}:{:02}",
            days + 1,
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )
    }

    proptest::proptest! {
        /// The same as counting years and months one by one, over the whole range, with
        /// year, month and leap-day boundaries drawn often.
        #[test]
        fn agrees_with_counting_days(
            day in 0u64..MAX_UTC_SECOND / 86_400,
            edge in proptest::prop_oneof![Just(0u64), Just(86_399), 0u64..86_400],
            back in 0u64..3,
        ) {
            // Some cases a day or two before a random day, so month ends are reached too.
            let secs = (day.saturating_sub(back) * 86_400 + edge).min(MAX_UTC_SECOND);
            let fast = utc_date_time(secs).map(|b| String::from_utf8_lossy(&b).into_owned());
            proptest::prop_assert_eq!(fast, Some(slow(secs)));
        }
    }

    #[test]
    fn agrees_with_counting_days_around_every_new_year_and_leap_day() {
        // 1 March and 1 January of every 4th year up to 9999, with the second before.
        let mut secs = 0u64;
        let mut year = 1970u64;
        while year < 9999 {
            let march = secs + (59 + u64::from(leap(year))) * 86_400;
            for t in [secs, secs.saturating_sub(1), march, march - 1] {
                let fast = utc_date_time(t).map(|b| String::from_utf8_lossy(&b).into_owned());
                assert_eq!(fast, Some(slow(t)), "{t}");
            }
            secs += (365 + u64::from(leap(year))) * 86_400;
            year += 1;
        }
    }
}
