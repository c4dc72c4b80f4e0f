//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// `tests/data/<name>`.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// Parse `YYYY-MM-DDTHH:MM:SS(Z|±HH:MM)` (what the Fernet spec vectors use)
/// into seconds since the Unix epoch.
pub fn rfc3339_to_unix(s: &str) -> u64 {
    let num = |range: std::ops::Range<usize>| -> i64 { s[range].parse().unwrap() };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let offset = match &s[19..20] {
        "Z" => 0,
        sign => {
            let magnitude = num(20..22) * 3600 + num(23..25) * 60;
            if sign == "-" { -magnitude } else { magnitude }
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second - offset).unwrap()
}

#[test]
fn rfc3339_parser_matches_known_instants() {
    assert_eq!(rfc3339_to_unix("1970-01-01T00:00:00Z"), 0);
    // The spec's vectors: 1985-10-26T01:20:00-07:00 is 499162800.
    assert_eq!(rfc3339_to_unix("1985-10-26T01:20:00-07:00"), 499_162_800);
    assert_eq!(rfc3339_to_unix("2024-02-29T12:00:00+02:00"), 1_709_200_800);
}
