//! Measures the memory a tracked key costs: resident memory before and after one million
//! distinct IPv4 keys (and then one million 16-byte text keys) in a limiter capped at four million.
//!
//! `cargo run --release -p mlguard-ratelimit --example memory_per_key` (Linux: reads /proc).

use mlguard_ratelimit::{OnFull, RateLimitKey, RateLimitLayer};
use std::net::{IpAddr, Ipv4Addr};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const N: u32 = 1_000_000;
    let layer = RateLimitLayer::builder()
        .quota("5/minute")
        .max_keys(4 * N as usize, OnFull::Reject)
        .build()?;
    let limiter = layer.limiter();
    let before = rss_bytes();
    for n in 0..N {
        limiter.check_local(&RateLimitKey::Ip(IpAddr::V4(Ipv4Addr::from(n))), 1)?;
    }
    let after_ip = rss_bytes();
    for n in 0..N {
        limiter.check_local(&RateLimitKey::custom(&format!("user-{n:011}")), 1)?;
    }
    let after_text = rss_bytes();
    println!("tracked keys: {}", limiter.tracked_keys());
    println!(
        "IP keys: {:.0} bytes per key",
        (after_ip - before) as f64 / f64::from(N)
    );
    println!(
        "16-byte text keys: {:.0} bytes per key",
        (after_text - after_ip) as f64 / f64::from(N)
    );
    Ok(())
}
