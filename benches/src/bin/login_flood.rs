//! Does a login flood slow down predictions? (issue 14: argon2id verifications are bounded,
//! in concurrency and in work per second.)
//!
//! The release `ml-api` serves paced `/predict` requests (API key) from 127.0.0.1 in phases of
//! `FLOOD_SECONDS` (5) each, alternating: alone, with a flood of wrong-password logins from 16
//! concurrent clients (the login quotas are lifted, as for a flood spread over many addresses
//! and user names, so every attempt reaches argon2id), alone again, and so on for
//! `FLOOD_CYCLES` (4) flood phases, ending alone. Alternating short phases rather than one
//! quiet, one flood and one quiet phase spreads the machine's drift (other work, frequency,
//! the allocator warming up) over both kinds: on a shared 2-core machine one 10 s quiet phase
//! alone varied from 1.9 to 4.9 ms p99. It prints p50/p99 of `/predict` per phase, the p99 of
//! all quiet and of all flood phases pooled, their ratio (the issue's goal: at most 1.20x), and
//! what the flood was answered. A 2.5 s warm-up comes first and is not pooled.
//! `FLOOD_CYCLES=1 FLOOD_SECONDS=10` is close to the earlier design (which had no warm-up).
//!
//! `FLOOD_HASH_RATES` (default `off,default`) lists the Argon2 work budgets to compare in the
//! same run, one server each, in this order: `off` (no budget in effect, `1000000/second`:
//! the concurrency bound alone, as before the budget), `default` (`MLGUARD_LOGIN_HASH_RATE`
//! unset: mlguard-auth's default for the cores) or a quota (`4/second`). Run it with
//! `scripts/login-flood`; figures go into docs/benchmarks.md. Not run by CI (it is a
//! measurement, not a test).

use mlguard_benches::live::{self, LiveServer};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, sleep};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SETOSA: &str = r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;

/// The unmeasured first phase.
const WARM_UP: Duration = Duration::from_millis(2500);

/// One phase: its name, `/predict` successes and failures, p50, p99, the flood's answers.
type Row = (&'static str, usize, u64, Duration, Duration, BTreeMap<u16, u64>);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let seconds: u64 = std::env::var("FLOOD_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let cycles: usize = std::env::var("FLOOD_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&c| c > 0)
        .unwrap_or(4);
    let rates = std::env::var("FLOOD_HASH_RATES").unwrap_or_else(|_| "off,default".to_owned());
    let ml_api = live::ml_api_binary()?;
    let mut summary = Vec::new();
    for rate in rates.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        let hash_rate = match rate {
            "off" => Some("1000000/second"),
            "default" => None,
            quota => Some(quota),
        };
        println!("\n## Argon2 work budget: {rate}\n");
        let (rows, pooled) = run(&ml_api, seconds, cycles, hash_rate).await?;
        println!("| phase | /predict ok | failed | p50 ms | p99 ms | flood answers |");
        println!("|---|---:|---:|---:|---:|---|");
        for (phase, n, failed, p50, p99, statuses) in rows.iter().chain(&pooled) {
            let answers: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}x{n}")).collect();
            println!(
                "| {phase} | {n} | {failed} | {:.2} | {:.2} | {} |",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                answers.join(" ")
            );
        }
        let ratio = pooled[1].4.as_secs_f64() / pooled[0].4.as_secs_f64().max(f64::MIN_POSITIVE);
        println!("\np99 of all flood phases / p99 of all quiet phases = {ratio:.2}x (goal <= 1.20x)");
        summary.push((rate.to_owned(), pooled, ratio));
    }
    println!("\n## Summary (one run, {cycles} flood phases of {seconds} s between quiet ones)\n");
    println!(
        "| Argon2 work budget | quiet p50 | quiet p99 | flood p50 | flood p99 | ratio of p99s | flood answers |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (rate, pooled, ratio) in &summary {
        let answers: Vec<String> = pooled[1].5.iter().map(|(s, n)| format!("{s} x {n}")).collect();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {rate} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {ratio:.2}x | {} |",
            ms(pooled[0].3),
            ms(pooled[0].4),
            ms(pooled[1].3),
            ms(pooled[1].4),
            answers.join(", ")
        );
    }
    Ok(())
}

/// One server with `MLGUARD_LOGIN_HASH_RATE` = `hash_rate` (unset when `None`): quiet and flood
/// phases alternating, `cycles` flood phases, quiet first and last. Returns the row of each
/// phase, and the rows of all quiet and of all flood phases pooled (in that order).
async fn run(
    ml_api: &Path,
    seconds: u64,
    cycles: usize,
    hash_rate: Option<&str>,
) -> Result<(Vec<Row>, [Row; 2]), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    let key = live::create_key(ml_api, &data, "flood-bench", "admin")?;
    let mut env = vec![
        ("MLGUARD_PREDICT_RATE", "1000000000/second".to_owned()),
        ("MLGUARD_TOKEN_RATE", "1000000000/second".to_owned()),
        ("MLGUARD_PREDICT_BUDGET", "1000000000/day".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    if let Some(rate) = hash_rate {
        env.push(("MLGUARD_LOGIN_HASH_RATE", rate.to_owned()));
    }
    let server = Arc::new(LiveServer::start(ml_api, &data, &dir.path().join("ml-api.log"), &env).await?);

    let mut rows = Vec::new();
    // Every latency of each kind of phase, for the pooled percentiles; and the flood's answers.
    let mut pooled: [(Vec<Duration>, u64); 2] = Default::default();
    let mut pooled_statuses = BTreeMap::<u16, u64>::new();
    // A warm-up first (TLS sessions, connection pools, the allocator, the model's pages),
    // shown but not pooled: a fresh server's first seconds set the quiet p99 otherwise.
    let phases = [("warm-up (not pooled)", false, WARM_UP)].into_iter().chain(
        (0..cycles)
            .flat_map(|_| [("quiet", false), ("login flood", true)])
            .chain([("quiet", false)])
            .map(|(phase, flood)| (phase, flood, Duration::from_secs(seconds))),
    );
    for (phase, flood, length) in phases {
        let deadline = Instant::now() + length;
        let flood_statuses = Arc::new(Mutex::new(BTreeMap::<u16, u64>::new()));
        // The flood runs on its own OS thread and runtime: the predictors' latencies then measure
        // the server, not time their own runtime spent on the flood's tasks (an attacker's
        // driver runs elsewhere; here it still shares the 2 cores).
        let flooder = flood.then(|| {
            let (server, statuses) = (server.clone(), flood_statuses.clone());
            std::thread::spawn(move || flood_logins(&server, deadline, &statuses))
        });
        let mut predictors = Vec::new();
        for _ in 0..8 {
            let (server, key) = (server.clone(), key.clone());
            predictors.push(tokio::spawn(async move {
                let client = server.client(LOCAL);
                let mut latencies = Vec::new();
                let mut failures = 0u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let ok = client
                        .post(format!("{}/predict", server.base))
                        .header("x-api-key", &key)
                        .header("content-type", "application/json")
                        .body(SETOSA)
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200);
                    if ok {
                        latencies.push(sent.elapsed());
                    } else {
                        failures += 1;
                    }
                    sleep(Duration::from_millis(10)).await;
                }
                (latencies, failures)
            }));
        }
        let mut latencies = Vec::new();
        let mut failures = 0;
        for p in predictors {
            let (l, f) = p.await.map_err(|e| e.to_string())?;
            latencies.extend(l);
            failures += f;
        }
        if let Some(flooder) = flooder {
            flooder
                .join()
                .map_err(|_| "the flood thread panicked".to_owned())??;
        }
        let statuses = flood_statuses.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if length == WARM_UP {
            rows.push(row(phase, latencies, failures, statuses));
            continue;
        }
        let kind = &mut pooled[usize::from(flood)];
        kind.0.extend(&latencies);
        kind.1 += failures;
        for (status, n) in &statuses {
            *pooled_statuses.entry(*status).or_default() += n;
        }
        rows.push(row(phase, latencies, failures, statuses));
    }
    let [(quiet, quiet_failed), (flooded, flood_failed)] = pooled;
    let pooled = [
        row("all quiet phases", quiet, quiet_failed, BTreeMap::new()),
        row("all flood phases", flooded, flood_failed, pooled_statuses),
    ];
    if let Some(server) = Arc::into_inner(server) {
        server.stop().await;
    }
    Ok((rows, pooled))
}

/// A phase's row: its successes, failures, p50 and p99 of `latencies`, the flood's answers.
fn row(phase: &'static str, mut latencies: Vec<Duration>, failed: u64, statuses: BTreeMap<u16, u64>) -> Row {
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(i).copied().unwrap_or_default()
    };
    (phase, latencies.len(), failed, pct(0.5), pct(0.99), statuses)
}

/// 16 clients sending wrong-password logins back to back until `deadline`, on a runtime of their
/// own (one thread); counts the answers by status (0: no answer).
fn flood_logins(
    server: &LiveServer,
    deadline: Instant,
    statuses: &Mutex<BTreeMap<u16, u64>>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = server.client(LOCAL);
        let workers = (0..16u64).map(|worker| {
            let client = client.clone();
            async move {
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    let user = if i.is_multiple_of(2) {
                        "admin".to_owned()
                    } else {
                        format!("ghost{worker}-{i}")
                    };
                    let status = client
                        .post(format!("{}/token", server.base))
                        .form(&[
                            ("grant_type", "password"),
                            ("username", &user),
                            ("password", "wrong"),
                        ])
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    *statuses
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(status)
                        .or_default() += 1;
                    if status == 503 {
                        sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        });
        futures_util::future::join_all(workers).await;
    });
    Ok(())
}
