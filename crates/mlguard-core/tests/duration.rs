//! `mlguard_core::duration::parse_duration`: the units it takes, what it refuses (overflow
//! included), and that no input makes it panic.

use mlguard_core::duration::parse_duration;
use proptest::prelude::*;
use std::time::Duration;

#[test]
fn durations_take_units_and_refuse_the_rest() {
    assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
    assert_eq!(parse_duration(" 2h ").unwrap(), Duration::from_secs(7_200));
    for bad in [
        "",
        "s",
        "-1s",
        "1.5s",
        "1w",
        "99999999999999999999s",
        "18446744073709551615h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
}

proptest! {
    #[test]
    fn durations_never_panic(s in "\\PC{0,24}") {
        let _ = parse_duration(&s);
    }

    #[test]
    fn durations_in_seconds_round_trip(n in 0u64..1_000_000) {
        prop_assert_eq!(parse_duration(&format!("{n}s")).unwrap(), Duration::from_secs(n));
    }
}
