//! The system clock, as Fernet counts time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Whole seconds since the Unix epoch, like Python's `int(time.time())`.
/// A clock set before 1970 reads as 0.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
