//! The soak test (issue 14): the release `ml-api` with Redis, for 60 s, serving legitimate
//! clients while it is attacked, with Redis restarted half-way.
//!
//! Run it with `scripts/soak` (which builds the release binaries first). Legitimate clients
//! call `/predict` and `/encrypt` from 127.0.0.1 with a JWT and with an API key, within their
//! quotas, on kept-alive connections and as new visitors. At the same time, from 127.0.0.2-4: HTTP/2 connections that never send a request
//! (idle holders), HTTP/1.1 connections polling `/healthz` every 5 s, `/encrypt` bodies
//! trickled at a byte a second, a login flood, forged JWTs, oversized and deeply nested
//! bodies. Redis is stopped and started again at 30 s.
//!
//! It prints a report and exits non-zero when any of these fails:
//! - legitimate success rate >= 99.9 % outside the Redis outage window (from the stop until
//!   3 s after Redis is back: the bearer revocation check fails closed while Redis is away);
//! - legitimate p99 latency <= `SOAK_P99_MS` (1000 ms);
//! - no 5xx other than 503 on any request, legitimate or not, and every attacker 503 carries
//!   `Retry-After`... except those the Redis outage explains (counted, shown);
//! - no forged token accepted;
//! - no panic in the server's log;
//! - the server's RSS at the end is at most 10 % above its RSS at 10 s.
//!
//! Knobs (environment): `SOAK_SECONDS` (60), `SOAK_REDIS_RESTART_AT` (30), `SOAK_P99_MS` (1000),
//! `ML_API` (the server binary; default: `ml-api` beside this binary).
//! All traffic stays on loopback, every loop ends at the deadline, every process is stopped.

mod attack;
mod net;
mod tally;

use mlguard_benches::live::{self, LiveServer};

use attack::{Ctx, post};
use http::header;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tally::{Sample, Tally};
use tokio::time::{Instant, sleep, sleep_until};

const LEGIT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// The connection holders (h2 idle, h1 polling).
const HOLDERS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The slow-body senders.
const TRICKLERS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
/// The request floods: logins, forged JWTs, oversized and nested bodies.
const FLOODERS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
const SETOSA: &str = r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The forged tokens of the attack suite, each of which must be refused.
fn forged_tokens(secret: &[u8]) -> Vec<String> {
    use base64::Engine;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = |iss: &str, aud: &str, exp: u64| serde_json::json!({"sub": "admin", "roles": ["admin"], "iss": iss, "aud": aud, "iat": now, "exp": exp, "jti": format!("forged-{exp}-{iss}-{aud}")});
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("ml-api-hs256".into());
    let sign = |c: &serde_json::Value, key: &[u8]| {
        encode(&header, c, &EncodingKey::from_secret(key)).unwrap_or_else(|e| panic!("sign: {e}"))
    };
    let valid = sign(&claims("ml-api", "ml-api", now + 600), secret);
    let stripped = valid
        .rsplit_once('.')
        .map(|(head, _)| format!("{head}."))
        .unwrap_or_default();
    vec![
        // alg none with admin claims
        format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(&claims("ml-api", "ml-api", now + 600))
        ),
        // signed with a key the server does not have
        sign(
            &claims("ml-api", "ml-api", now + 600),
            b"not the server's secret, but long enough to pass",
        ),
        // the real key, expired an hour ago
        sign(&claims("ml-api", "ml-api", now.saturating_sub(3600)), secret),
        // the real key, another audience and issuer
        sign(&claims("ml-api", "someone-else", now + 600), secret),
        sign(&claims("evil", "ml-api", now + 600), secret),
        // signature stripped, and garbage
        stripped,
        "not.a.jwt".into(),
    ]
}

/// How a legitimate client connects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visits {
    /// One connection, kept alive (10 requests a second).
    KeepAlive,
    /// A new connection for every request, as new users arrive (2 requests a second).
    NewConnection,
}

#[allow(clippy::too_many_arguments)]
async fn legit_client(
    make_client: impl Fn() -> reqwest::Client,
    visits: Visits,
    base: String,
    auth: &'static str,
    credential: (&'static str, String),
    start: Instant,
    deadline: Instant,
    tally: Arc<Tally>,
) {
    let mut n = 0u64;
    let mut client = make_client();
    while Instant::now() < deadline {
        if visits == Visits::NewConnection {
            client = make_client();
        }
        let (route, path, body) = if n.is_multiple_of(2) {
            ("predict", "/predict", SETOSA.to_owned())
        } else {
            (
                "encrypt",
                "/encrypt",
                format!(r#"{{"plaintext":"legitimate message {n}"}}"#),
            )
        };
        n += 1;
        let sent = Instant::now();
        let result = client
            .post(format!("{base}{path}"))
            .header(credential.0, &credential.1)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let status = match result {
            Ok(resp) => {
                let s = resp.status().as_u16();
                if resp.bytes().await.is_err() { 0 } else { s }
            }
            Err(_) => 0,
        };
        tally.legit(Sample {
            at: sent.duration_since(start).as_secs_f64(),
            route,
            auth,
            status,
            latency: sent.elapsed(),
        });
        sleep(Duration::from_millis(if visits == Visits::KeepAlive {
            100
        } else {
            500
        }))
        .await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

async fn run() -> Result<bool, String> {
    let seconds: u64 = knob("SOAK_SECONDS", 60);
    let restart_at: u64 = knob("SOAK_REDIS_RESTART_AT", 30);
    let p99_limit = Duration::from_millis(knob("SOAK_P99_MS", 1000));
    let ml_api = live::ml_api_binary()?;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    let mut redis = mlguard_testkit::RedisServer::start()
        .ok_or("the soak needs redis-server on PATH (apt-get install redis-server)")?;

    let legit_key = live::create_key(&ml_api, &data, "soak-legit", "admin")?;
    let attacker_key = live::create_key(&ml_api, &data, "soak-attacker", "user")?;
    let attacker_admin_key = live::create_key(&ml_api, &data, "soak-attacker-admin", "admin")?;

    let env = [
        ("MLGUARD_REDIS_URL", redis.url()),
        ("MLGUARD_MAX_CONNECTIONS", "64".to_owned()),
        ("MLGUARD_PREDICT_RATE", "3000/minute".to_owned()),
        ("MLGUARD_CRYPTO_RATE", "3000/minute".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let server = LiveServer::start(&ml_api, &data, &dir.path().join("ml-api.log"), &env).await?;
    let (addr, pid, base, cert) = (
        server.addr,
        server.pid(),
        server.base.clone(),
        server.cert.clone(),
    );
    let jwt = server.login("admin", &server.admin_password).await?;
    let secret = std::fs::read_to_string(data.join("jwt.secret")).map_err(|e| e.to_string())?;
    let forged = Arc::new(forged_tokens(secret.trim().as_bytes()));

    println!(
        "soak: ml-api pid {pid} on {addr}, redis on {}, {seconds} s, Redis restart at {restart_at} s",
        redis.port()
    );
    // Warm-up, outside the measured window: 24 wrong-password logins (4 from each of six
    // addresses, under the per-address login quota). Each Argon2 run allocates 19 MiB, and
    // the allocator keeps some of those pages for the next runs until it reaches a steady
    // state (about 200 MiB with two Argon2 threads, measured with sequential logins); the RSS
    // check is about growth under attack, not about that first-use plateau.
    for i in 0..24u8 {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i / 4));
        let _ = server
            .client(source)
            .post(format!("{base}/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", &format!("warmup{i}")),
                ("password", "wrong"),
            ])
            .send()
            .await;
    }
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);

    // Legitimate clients from 127.0.0.1: with the JWT and with the API key, each once on a
    // kept-alive connection and once as new visitors (a new connection for every request).
    let server = Arc::new(server);
    let server_ref = server.clone();
    let mut legit = Vec::new();
    for visits in [Visits::KeepAlive, Visits::NewConnection] {
        for (auth, cred) in [
            ("jwt", ("authorization", format!("Bearer {jwt}"))),
            ("api-key", ("x-api-key", legit_key.clone())),
        ] {
            let server = server_ref.clone();
            legit.push(tokio::spawn(legit_client(
                move || server.client(LEGIT),
                visits,
                base.clone(),
                auth,
                cred,
                start,
                deadline,
                tally.clone(),
            )));
        }
    }

    // Attackers.
    let ctx = Ctx {
        target: net::Target::new(addr, &cert)?,
        source: HOLDERS,
        deadline,
        tally: tally.clone(),
        host: addr.to_string(),
    };
    // SOAK_ATTACKS narrows the attacks (comma list of holders, slow, login, forged, bodies),
    // to find which one a failing check comes from; all by default.
    let chosen = std::env::var("SOAK_ATTACKS").unwrap_or_else(|_| "holders,slow,login,forged,bodies".into());
    let on = |name: &str| chosen.split(',').any(|c| c.trim() == name);
    let mut attackers = Vec::new();
    for _ in 0..if on("holders") { 48 } else { 0 } {
        attackers.push(tokio::spawn(attack::h2_idle_holder(ctx.clone())));
        attackers.push(tokio::spawn(attack::h1_poller(ctx.clone())));
    }
    let tricklers = Ctx {
        source: TRICKLERS,
        ..ctx.clone()
    };
    for _ in 0..if on("slow") { 16 } else { 0 } {
        attackers.push(tokio::spawn(attack::slow_body(
            tricklers.clone(),
            attacker_key.clone(),
        )));
    }
    let ctx = Ctx {
        source: FLOODERS,
        ..ctx
    };
    for worker in 0..if on("login") { 4u64 } else { 0 } {
        attackers.push(tokio::spawn(attack::flood(
            ctx.clone(),
            "login-flood",
            move |i| {
                let user = if i.is_multiple_of(2) {
                    "admin".to_owned()
                } else {
                    format!("ghost{worker}-{i}")
                };
                let form = format!("grant_type=password&username={user}&password=wrong-{i}");
                post("/token", None, "application/x-www-form-urlencoded", form)
            },
        )));
    }
    if on("forged") {
        let forged = forged.clone();
        attackers.push(tokio::spawn(attack::flood(ctx.clone(), "forged-jwt", move |i| {
            let token = &forged[(i as usize) % forged.len()];
            post(
                "/predict",
                Some(("authorization", &format!("Bearer {token}"))),
                "application/json",
                SETOSA,
            )
        })));
    }
    let big = format!(r#"{{"sepal_length":"{}"}}"#, "9".repeat(1 << 20));
    let nested = "[".repeat(100_000);
    let key = attacker_admin_key.clone();
    if on("bodies") {
        attackers.push(tokio::spawn(attack::flood(
            ctx.clone(),
            "oversized-or-nested",
            move |i| {
                let body = if i.is_multiple_of(2) {
                    big.clone()
                } else {
                    nested.clone()
                };
                post("/predict", Some(("x-api-key", &key)), "application/json", body)
            },
        )));
    }

    // Redis goes away at `restart_at` and comes back a second later.
    let restart = tokio::spawn(async move {
        sleep_until(start + Duration::from_secs(restart_at)).await;
        let down = start.elapsed().as_secs_f64();
        let redis = tokio::task::spawn_blocking(move || {
            redis.stop();
            std::thread::sleep(Duration::from_secs(1));
            redis.restart();
            redis
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>((redis, down, start.elapsed().as_secs_f64()))
    });

    // RSS every 5 s: the check compares 10 s with the end; the series shows the shape.
    let mut rss_series = Vec::new();
    let mut rss_10 = None;
    let mut at = 5;
    while at <= seconds {
        sleep_until(start + Duration::from_secs(at)).await;
        let rss = server.rss_kib();
        if at == 10 {
            rss_10 = rss;
        }
        rss_series.push(format!(
            "{at} s: {}",
            rss.map_or("?".into(), |v| format!("{} MiB", v / 1024))
        ));
        at += 5;
    }
    sleep_until(deadline).await;
    let rss_end = server.rss_kib();
    println!("server RSS every 5 s: {}", rss_series.join(", "));
    for task in legit {
        let _ = task.await;
    }
    sleep(Duration::from_secs(1)).await;
    for task in &attackers {
        task.abort();
    }
    let (redis, redis_down, redis_up) = restart.await.map_err(|e| e.to_string())??;

    // Stop the server gracefully and read its log.
    drop(server_ref);
    let server = Arc::into_inner(server).ok_or("a task still holds the server")?;
    let log_text = server.stop().await;
    drop(redis);

    Ok(report(
        &tally,
        &log_text,
        (redis_down, redis_up),
        rss_10,
        rss_end,
        p99_limit,
    ))
}

fn report(
    tally: &Tally,
    log: &str,
    (down, up): (f64, f64),
    rss_10: Option<u64>,
    rss_end: Option<u64>,
    p99_limit: Duration,
) -> bool {
    let window = (down, up + 3.0);
    let samples = tally.legit_samples();
    let outside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at < window.0 || s.at >= window.1)
        .collect();
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= window.0 && s.at < window.1)
        .collect();
    let ok = outside.iter().filter(|s| s.status == 200).count();
    let rate = if outside.is_empty() {
        0.0
    } else {
        ok as f64 / outside.len() as f64
    };
    let mut latencies: Vec<Duration> = outside.iter().map(|s| s.latency).collect();
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));

    println!(
        "\n## Legitimate clients (outside the Redis outage window {:.1}-{:.1} s)\n",
        window.0, window.1
    );
    println!("| route | auth | requests | 200 | other statuses |");
    println!("|---|---|---:|---:|---|");
    for route in ["predict", "encrypt"] {
        for auth in ["jwt", "api-key"] {
            let mine: Vec<&&Sample> = outside
                .iter()
                .filter(|s| s.route == route && s.auth == auth)
                .collect();
            let good = mine.iter().filter(|s| s.status == 200).count();
            let mut other = std::collections::BTreeMap::<u16, usize>::new();
            for s in mine.iter().filter(|s| s.status != 200) {
                *other.entry(s.status).or_default() += 1;
            }
            let other: Vec<String> = other.iter().map(|(s, n)| format!("{s}x{n}")).collect();
            println!(
                "| {route} | {auth} | {} | {good} | {} |",
                mine.len(),
                other.join(" ")
            );
        }
    }
    let inside_ok = inside.iter().filter(|s| s.status == 200).count();
    println!(
        "\nsuccess {ok}/{} = {:.3} %; p50 {:.1} ms, p99 {:.1} ms; inside the outage window {inside_ok}/{} succeeded",
        outside.len(),
        rate * 100.0,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        inside.len()
    );
    let after_up: Vec<&Sample> = samples.iter().filter(|s| s.at >= up && s.status != 200).collect();
    let recovered = after_up.iter().map(|s| s.at).fold(up, f64::max) - up;
    println!(
        "Redis down at {down:.1} s, back at {up:.1} s; last legitimate failure {recovered:.1} s after it was back"
    );

    println!("\n## Attackers (holders from 127.0.0.2, slow bodies from .3, floods from .4)\n");
    println!("| attacker | outcome | count |");
    println!("|---|---|---:|");
    let counts = tally.counts();
    for (kind, outcome, n) in &counts {
        println!("| {kind} | {outcome} | {n} |");
    }
    for (kind, d) in tally.longest_held() {
        println!("longest {kind} connection held: {:.1} s", d.as_secs_f64());
    }

    let bad_5xx: u64 = counts
        .iter()
        .filter(|(_, o, _)| o.parse::<u16>().is_ok_and(|s| s >= 500 && s != 503))
        .map(|(_, _, n)| n)
        .sum::<u64>()
        + samples
            .iter()
            .filter(|s| s.status >= 500 && s.status != 503)
            .count() as u64;
    let unexplained_503 = outside.iter().filter(|s| s.status == 503).count()
        + counts
            .iter()
            .filter(|(_, o, _)| o == "503 without Retry-After")
            .map(|(_, _, n)| *n as usize)
            .sum::<usize>();
    let forged_ok: u64 = counts
        .iter()
        .filter(|(k, o, _)| *k == "forged-jwt" && o.starts_with('2'))
        .map(|(_, _, n)| n)
        .sum();
    let panics = log.lines().filter(|l| l.contains("panicked")).count();
    let growth = match (rss_10, rss_end) {
        (Some(a), Some(b)) if a > 0 => Some((b as f64 - a as f64) / a as f64),
        _ => None,
    };
    println!(
        "\nserver RSS: {} KiB at 10 s, {} KiB at the end ({})",
        rss_10.map_or("?".into(), |v| v.to_string()),
        rss_end.map_or("?".into(), |v| v.to_string()),
        growth.map_or("growth unknown".into(), |g| format!("{:+.1} %", g * 100.0))
    );

    let checks = [
        (
            "enough legitimate requests measured",
            outside.len() >= 200,
            format!("{}", outside.len()),
        ),
        (
            "legitimate success >= 99.9 %",
            rate >= 0.999,
            format!("{:.3} %", rate * 100.0),
        ),
        (
            "legitimate p99 within the limit",
            p99 <= p99_limit,
            format!(
                "{:.1} ms <= {} ms",
                p99.as_secs_f64() * 1e3,
                p99_limit.as_millis()
            ),
        ),
        ("no 5xx other than 503", bad_5xx == 0, format!("{bad_5xx}")),
        (
            "every 503 documented (Retry-After, or the Redis outage)",
            unexplained_503 == 0,
            format!("{unexplained_503}"),
        ),
        ("no forged token accepted", forged_ok == 0, format!("{forged_ok}")),
        ("no panic in the server log", panics == 0, format!("{panics}")),
        (
            "RSS growth from 10 s to the end <= 10 %",
            growth.is_some_and(|g| g <= 0.10),
            growth.map_or("unknown".into(), |g| format!("{:+.1} %", g * 100.0)),
        ),
        (
            "Redis outage recovered within 2 s",
            recovered <= 2.0,
            format!("{recovered:.1} s"),
        ),
    ];
    println!("\n## Checks\n");
    let mut failed = 0;
    for (name, pass, value) in &checks {
        println!("- [{}] {name}: {value}", if *pass { "x" } else { " " });
        failed += usize::from(!pass);
    }
    println!("\nsoak: {} passed, {failed} failed", checks.len() - failed);
    failed == 0
}
