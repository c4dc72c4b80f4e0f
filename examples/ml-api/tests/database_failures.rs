//! Issue 19, the failures a cluster must live through, each under concurrent load:
//!
//! - **An instance killed mid-load loses no data.** Three real `ml-api serve` processes on one
//!   PostgreSQL and one Redis; clients log in and rotate refresh tokens on all three while the
//!   CLI adds users and keys; one instance gets SIGKILL (no graceful shutdown). Every write
//!   acknowledged with a 2xx (or a CLI success) is visible on the survivors afterwards, every
//!   acknowledged rotation's refresh token redeems exactly once and its reuse is detected, and
//!   the survivors never failed a request meanwhile.
//! - **PostgreSQL stopped and restarted under load.** Concurrent API-key and bearer `/predict`
//!   and logins: before `MLGUARD_DB_STALE_MAX` keys and bearer tokens are served from memory,
//!   logins get 503 + `Retry-After`; past it both fail closed with 503 + `Retry-After`; after
//!   the restart everything recovers by itself.
//!
//! Skipped locally without `postgres` / `redis-server`, FAILS under `CI`.

mod common;

use common::{SETOSA, client_for, settings};
use ml_api::config::Config;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_ml-api");
const JWT_SECRET: &str = "one-secret-for-the-whole-cluster-0123456789";

/// `ml-api --data-dir DIR ARGS` with `stdin` against the database `db`; stdout on success,
/// `None` when the command failed.
fn cli(data: &Path, db: &str, args: &[&str], stdin: &[u8]) -> Option<String> {
    common::run_cli_on_database(data, db, args, stdin)
        .map_err(|stderr| eprintln!("ml-api {args:?} failed: {stderr}"))
        .ok()
}

/// A real `ml-api serve` process (plain HTTP on a loopback port), killed on drop.
struct Instance {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Instance {
    fn spawn(dir: &Path, db: &str, redis: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let port = mlguard_testkit::free_port();
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--no-tls=true", "serve"])
            .env("MLGUARD_DATABASE_URL", db)
            .env("MLGUARD_REDIS_URL", redis)
            .env("MLGUARD_JWT_SECRET", JWT_SECRET)
            .env("MLGUARD_TOKEN_RATE", "100000/minute")
            .env("MLGUARD_PREDICT_RATE", "100000/minute")
            .env("MLGUARD_PREDICT_BUDGET", "10000000/day")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Waits until `/healthz` answers 200 (at most 120 s: a first start trains the model).
    async fn wait_up(&mut self, client: &reqwest::Client) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "ml-api exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            let up = client.get(format!("{}/healthz", self.base)).send().await;
            if up.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "ml-api not up: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no graceful shutdown, no connection closed politely, nothing flushed.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one request got: a status (and whether it carried `Retry-After`), or a transport error.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Got {
    Status(u16, bool),
    Transport,
}

async fn send(req: reqwest::RequestBuilder) -> (Got, Option<serde_json::Value>) {
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r.headers().contains_key("retry-after");
            (Got::Status(status, retry), r.json().await.ok())
        }
        Err(_) => (Got::Transport, None),
    }
}

fn token_req(client: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
    client.post(format!("{base}/token")).form(form)
}

fn predict_req(client: &reqwest::Client, base: &str, auth: (&str, &str)) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/predict"))
        .header(auth.0, auth.1)
        .header("content-type", "application/json")
        .body(SETOSA)
}

/// The status of an answer (0 for a transport error).
fn status(got: Got) -> u16 {
    match got {
        Got::Status(s, _) => s,
        Got::Transport => 0,
    }
}

/// Polls `probe` until it gives `want`, for at most `bound`.
async fn eventually<F, Fut>(what: &str, bound: Duration, mut probe: F, want: u16)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let start = Instant::now();
    loop {
        let got = probe().await;
        if got == want {
            return;
        }
        assert!(
            start.elapsed() < bound,
            "{what}: still {got} after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The three instances and which one is (being) killed, shared by the load tasks.
struct Cluster {
    bases: Vec<String>,
    victim: usize,
    /// Set just before the SIGKILL: from then on the victim may fail to answer.
    killing: AtomicBool,
    /// Set once the victim is dead: the "load balancer" sends nothing more there.
    dead: AtomicBool,
    next: AtomicUsize,
    /// (instance, what, answer, after the kill began) of every request of the load.
    log: Mutex<Vec<(usize, &'static str, Got, bool)>>,
    stop: AtomicBool,
}

impl Cluster {
    /// The next instance, round robin over the live ones.
    fn pick(&self) -> usize {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len();
            if !(i == self.victim && self.dead.load(Ordering::SeqCst)) {
                return i;
            }
        }
    }

    fn record(&self, node: usize, what: &'static str, got: Got) {
        let after = self.killing.load(Ordering::SeqCst);
        self.log.lock().unwrap().push((node, what, got, after));
    }

    fn survivors(&self) -> Vec<usize> {
        (0..self.bases.len()).filter(|&i| i != self.victim).collect()
    }
}

/// One client's refresh-token chain: `current` is the newest refresh token it was handed (not
/// yet redeemed, or sent to the victim when it died: `in_doubt`), `spent` the ones whose
/// rotation was acknowledged (200), `access` the newest access token.
#[derive(Debug, Default)]
struct Chain {
    current: String,
    access: String,
    spent: Vec<String>,
    in_doubt: bool,
}

/// Rotates `chain` on the instances until told to stop. When a rotation goes unanswered (the
/// instance died under it), that chain is in doubt: the client logs in again as `user` (on a
/// live instance) and goes on with a new family, as a real client would. Returns every chain.
async fn rotate_until_stopped(
    cluster: Arc<Cluster>,
    client: reqwest::Client,
    user: (String, String),
    mut chain: Chain,
) -> Vec<Chain> {
    let mut done = Vec::new();
    while !cluster.stop.load(Ordering::SeqCst) {
        let node = cluster.pick();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", chain.current.as_str()),
        ];
        let (got, body) = send(token_req(&client, &cluster.bases[node], &form)).await;
        cluster.record(node, "refresh", got);
        match (got, body) {
            (Got::Status(200, _), Some(body)) => {
                let fresh = body["refresh_token"].as_str().unwrap().to_owned();
                let access = body["access_token"].as_str().unwrap().to_owned();
                chain.spent.push(std::mem::replace(&mut chain.current, fresh));
                chain.access = access;
            }
            _ => {
                // Unacknowledged: the rotation may or may not have happened.
                chain.in_doubt = true;
                while !cluster.stop.load(Ordering::SeqCst) {
                    let node = cluster.pick();
                    let form = [("username", user.0.as_str()), ("password", user.1.as_str())];
                    let (got, body) = send(token_req(&client, &cluster.bases[node], &form)).await;
                    cluster.record(node, "login", got);
                    if let (Got::Status(200, _), Some(b)) = (got, body) {
                        let fresh = Chain {
                            current: b["refresh_token"].as_str().unwrap().to_owned(),
                            access: b["access_token"].as_str().unwrap().to_owned(),
                            ..Chain::default()
                        };
                        done.push(std::mem::replace(&mut chain, fresh));
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done.push(chain);
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_one_instance_mid_load_loses_no_acknowledged_write() {
    let Some(pg) = mlguard_testkit::PostgresServer::start() else {
        return;
    };
    let Some(redis) = mlguard_testkit::RedisServer::start() else {
        return;
    };
    let (db, redis_url) = (pg.url(), redis.url());
    let tmp = tempfile::tempdir().unwrap();
    let cli_dir = tmp.path().join("cli");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let mut instances: Vec<Instance> = ["a", "b", "c"]
        .iter()
        .map(|n| Instance::spawn(&tmp.path().join(n), &db, &redis_url))
        .collect();
    for i in &mut instances {
        i.wait_up(&client).await;
    }
    let cluster = Arc::new(Cluster {
        bases: instances.iter().map(|i| i.base.clone()).collect(),
        victim: 1,
        killing: AtomicBool::new(false),
        dead: AtomicBool::new(false),
        next: AtomicUsize::new(0),
        log: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });

    // Users for the rotating clients and a reader (bearer /predict), added with the CLI.
    const ROTATORS: usize = 6;
    for u in 0..=ROTATORS {
        cli(
            &cli_dir,
            &db,
            &["user", "add", &format!("user{u}"), "--role", "client"],
            format!("password-of-user{u}\n").as_bytes(),
        )
        .expect("user add");
    }
    let reader_key = cli(
        &cli_dir,
        &db,
        &["apikey", "create", "reader", "--role", "client"],
        b"",
    )
    .unwrap()
    .trim()
    .to_owned();
    let mut chains = Vec::new();
    for u in 0..=ROTATORS {
        let base = &cluster.bases[u % 3];
        let (user, pw) = (format!("user{u}"), format!("password-of-user{u}"));
        let mut answer = None;
        // The CLI's write reaches every instance within 1 s (LISTEN/NOTIFY).
        for _ in 0..40 {
            let (got, body) = send(token_req(
                &client,
                base,
                &[("username", &user), ("password", &pw)],
            ))
            .await;
            if got == Got::Status(200, false) {
                answer = body;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let body = answer.unwrap_or_else(|| panic!("{user} cannot log in on {base}"));
        chains.push(Chain {
            current: body["refresh_token"].as_str().unwrap().to_owned(),
            access: body["access_token"].as_str().unwrap().to_owned(),
            ..Chain::default()
        });
    }
    let reader = chains.pop().unwrap().access;
    for base in &cluster.bases {
        eventually(
            "the reader's key works",
            Duration::from_secs(5),
            || async {
                status(
                    send(predict_req(&client, base, ("x-api-key", &reader_key)))
                        .await
                        .0,
                )
            },
            200,
        )
        .await;
    }

    // The load: rotations on every instance, /predict with a key and a bearer token, logins
    // (each a new refresh-token family written through an instance), and the CLI adding users
    // and keys straight into the database.
    let rotators: Vec<_> = chains
        .into_iter()
        .enumerate()
        .map(|(u, c)| {
            let user = (format!("user{u}"), format!("password-of-user{u}"));
            tokio::spawn(rotate_until_stopped(cluster.clone(), client.clone(), user, c))
        })
        .collect();
    let predictors: Vec<_> = [
        ("x-api-key", reader_key.clone()),
        ("authorization", format!("Bearer {reader}")),
    ]
    .into_iter()
    .map(|(header, value)| {
        let (cluster, client) = (cluster.clone(), client.clone());
        tokio::spawn(async move {
            let mut ok = 0usize;
            while !cluster.stop.load(Ordering::SeqCst) {
                let node = cluster.pick();
                let (got, _) = send(predict_req(&client, &cluster.bases[node], (header, &value))).await;
                cluster.record(node, "predict", got);
                ok += usize::from(got == Got::Status(200, false));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            ok
        })
    })
    .collect();
    let logins = {
        let (cluster, client) = (cluster.clone(), client.clone());
        tokio::spawn(async move {
            // (refresh token, access token) of each acknowledged login.
            let mut families = Vec::new();
            let mut u = 0;
            while !cluster.stop.load(Ordering::SeqCst) {
                let node = cluster.pick();
                let (user, pw) = (format!("user{u}"), format!("password-of-user{u}"));
                let form = [("username", user.as_str()), ("password", pw.as_str())];
                let (got, body) = send(token_req(&client, &cluster.bases[node], &form)).await;
                cluster.record(node, "login", got);
                if let (Got::Status(200, _), Some(b)) = (got, body) {
                    families.push((
                        b["refresh_token"].as_str().unwrap().to_owned(),
                        b["access_token"].as_str().unwrap().to_owned(),
                    ));
                }
                u = (u + 1) % ROTATORS;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            families
        })
    };
    let writer = {
        let (cluster, db, cli_dir) = (cluster.clone(), db.clone(), cli_dir.clone());
        tokio::task::spawn_blocking(move || {
            // (username, password) and keys the CLI reported as written.
            let (mut users, mut keys) = (Vec::new(), Vec::new());
            let mut n = 0;
            while !cluster.stop.load(Ordering::SeqCst) {
                let (user, pw) = (format!("written{n}"), format!("password-of-written{n}"));
                let stdin = format!("{pw}\n");
                if cli(
                    &cli_dir,
                    &db,
                    &["user", "add", &user, "--role", "client"],
                    stdin.as_bytes(),
                )
                .is_some()
                {
                    users.push((user, pw));
                }
                let name = format!("job{n}");
                if let Some(key) = cli(
                    &cli_dir,
                    &db,
                    &["apikey", "create", &name, "--role", "client"],
                    b"",
                ) {
                    keys.push(key.trim().to_owned());
                }
                n += 1;
            }
            (users, keys)
        })
    };

    // Kill the victim mid-load: once rotations are flowing on every instance.
    let rotations_on = |node: usize| {
        cluster
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, what, got, _)| *n == node && *what == "refresh" && *got == Got::Status(200, false))
            .count()
    };
    let start = Instant::now();
    while (0..3).any(|n| rotations_on(n) < 15) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the load does not flow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill: Vec<usize> = (0..3).map(rotations_on).collect();
    cluster.killing.store(true, Ordering::SeqCst);
    instances[cluster.victim].kill();
    cluster.dead.store(true, Ordering::SeqCst);
    eprintln!(
        "killed instance {} with SIGKILL; acknowledged rotations so far per instance: {before_kill:?}",
        cluster.victim
    );

    // The survivors carry on: more rotations there, and the CLI's writes.
    let survivors = cluster.survivors();
    let start = Instant::now();
    while survivors.iter().any(|&n| rotations_on(n) < before_kill[n] + 15) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the survivors stopped serving"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop.store(true, Ordering::SeqCst);
    let mut chains = Vec::new();
    for r in rotators {
        chains.extend(r.await.unwrap());
    }
    let predicted: Vec<usize> = futures_util::future::join_all(predictors)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let families = logins.await.unwrap();
    let (users, keys) = writer.await.unwrap();

    // The survivors kept serving: every answer 2xx (a 503 only with Retry-After), never a
    // transport error; the victim failed only once it was being killed.
    let log = cluster.log.lock().unwrap().clone();
    for (node, what, got, after_kill) in &log {
        let ok = match got {
            Got::Status(s, _) if (200..300).contains(s) => true,
            Got::Status(503, true) => true,
            Got::Status(_, _) => false,
            Got::Transport => *node == cluster.victim && *after_kill,
        };
        assert!(
            ok,
            "{what} on instance {node}: {got:?} (after the kill began: {after_kill})"
        );
    }
    let victim_failures = log
        .iter()
        .filter(|(n, _, got, _)| *n == cluster.victim && *got == Got::Transport)
        .count();
    let in_doubt = chains.iter().filter(|c| c.in_doubt).count();
    eprintln!(
        "load: {} requests ({victim_failures} failed on the killed instance), {} rotations acknowledged, \
         {in_doubt} of {} chains in doubt (their clients logged in again), predictions {predicted:?}, {} logins, CLI wrote {} users and {} keys",
        log.len(),
        chains.iter().map(|c| c.spent.len()).sum::<usize>(),
        chains.len(),
        families.len(),
        users.len(),
        keys.len()
    );
    assert!(
        !users.is_empty() && !keys.is_empty(),
        "the CLI wrote during the load"
    );

    // Every acknowledged write is on the survivors.
    let (a, c) = (
        cluster.bases[survivors[0]].as_str(),
        cluster.bases[survivors[1]].as_str(),
    );
    for base in [a, c] {
        for (user, pw) in &users {
            let form = [("username", user.as_str()), ("password", pw.as_str())];
            eventually(
                &format!("{user}, added with the CLI, logs in on {base}"),
                Duration::from_secs(5),
                || async { status(send(token_req(&client, base, &form)).await.0) },
                200,
            )
            .await;
        }
        for key in &keys {
            eventually(
                &format!("a key made with the CLI works on {base}"),
                Duration::from_secs(5),
                || async { status(send(predict_req(&client, base, ("x-api-key", key))).await.0) },
                200,
            )
            .await;
        }
    }
    let redeem = |base: &str, token: &str| {
        let req = token_req(
            &client,
            base,
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        );
        async move { send(req).await }
    };
    // Each acknowledged login's family: its refresh token redeems exactly once across the
    // survivors; the second redemption is reuse.
    for (refresh, _) in &families {
        assert_eq!(
            redeem(a, refresh).await.0,
            Got::Status(200, false),
            "a login's refresh token"
        );
        let (got, body) = redeem(c, refresh).await;
        assert_eq!(got, Got::Status(400, false), "the second redemption is reuse");
        assert_eq!(body.unwrap()["error"], "invalid_grant");
    }
    // Each rotation chain. A token whose rotation was acknowledged is spent everywhere: its
    // reuse is detected and revokes the family. The newest token of a chain that ended cleanly
    // redeems exactly once; one sent to the victim as it died redeems at most once.
    for (i, chain) in chains.iter().enumerate() {
        let (first, second) = if i % 2 == 0 { (a, c) } else { (c, a) };
        if i % 3 == 0 && !chain.spent.is_empty() {
            // Reuse of an acknowledged, spent token: refused, and the family goes with it.
            let spent = chain.spent.last().unwrap();
            assert_eq!(
                redeem(first, spent).await.0,
                Got::Status(400, false),
                "chain {i}: reuse"
            );
            for base in [a, c] {
                assert_eq!(
                    redeem(base, &chain.current).await.0,
                    Got::Status(400, false),
                    "chain {i}: the family is revoked on {base}"
                );
                let bearer = format!("Bearer {}", chain.access);
                eventually(
                    &format!("chain {i}: the family's access token on {base}"),
                    Duration::from_secs(2),
                    || async {
                        status(
                            send(predict_req(&client, base, ("authorization", &bearer)))
                                .await
                                .0,
                        )
                    },
                    401,
                )
                .await;
            }
            continue;
        }
        let (got, body) = redeem(first, &chain.current).await;
        match got {
            Got::Status(200, _) => {}
            Got::Status(400, _) if chain.in_doubt => {
                // The victim committed the rotation and died before answering: spent.
                eprintln!("chain {i}: the in-doubt rotation had been committed by the killed instance");
                continue;
            }
            other => panic!("chain {i}: the newest refresh token got {other:?} {body:?}"),
        }
        let newest = body.unwrap()["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(
            redeem(second, &chain.current).await.0,
            Got::Status(400, false),
            "chain {i}: redeemed exactly once"
        );
        assert_eq!(
            redeem(first, &newest).await.0,
            Got::Status(400, false),
            "chain {i}: the reuse revoked the family"
        );
        for spent in &chain.spent {
            assert_eq!(
                redeem(second, spent).await.0,
                Got::Status(400, false),
                "chain {i}: spent"
            );
        }
    }
    drop(instances);
}

/// One observation of the outage load: what, when it was sent and answered, what it got.
#[derive(Clone, Debug)]
struct Seen {
    what: &'static str,
    sent: SystemTime,
    done: SystemTime,
    got: Got,
    body: Option<serde_json::Value>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_keys_and_bearer_serve_until_stale_max_logins_503_all_recover() {
    let Some(mut pg) = mlguard_testkit::PostgresServer::start() else {
        return;
    };
    let db = pg.url();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("a");
    let stale_max = Duration::from_secs(4);
    let mut s = settings(&data);
    s.no_tls = Some(true);
    s.database_url = Some(db.clone().into());
    s.db_stale_max = Some("4s".into());
    s.token_rate = Some("100000/minute".into());
    s.predict_rate = Some("100000/minute".into());
    s.predict_budget = Some("10000000/day".into());
    // No Redis: the `jti` denylist of bearer checks is the database's, in memory.
    let running = ml_api::run::start(Config::resolve(s, None).unwrap())
        .await
        .unwrap();
    let client = client_for(&running, |b| b.timeout(Duration::from_secs(30)));
    let base = running.url();
    cli(
        &data,
        &db,
        &["user", "add", "dave", "--role", "client"],
        b"dave-password-1\n",
    )
    .unwrap();
    let key = cli(&data, &db, &["apikey", "create", "job", "--role", "client"], b"")
        .unwrap()
        .trim()
        .to_owned();
    let login_form = [("username", "dave"), ("password", "dave-password-1")];
    let mut bearer = None;
    for _ in 0..40 {
        if let (Got::Status(200, _), Some(b)) = send(token_req(&client, &base, &login_form)).await {
            bearer = Some(format!("Bearer {}", b["access_token"].as_str().unwrap()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bearer = bearer.expect("dave logs in");
    eventually(
        "the key works",
        Duration::from_secs(5),
        || async { status(send(predict_req(&client, &base, ("x-api-key", &key))).await.0) },
        200,
    )
    .await;

    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let clients: [(&'static str, usize, u64); 3] = [("key", 3, 15), ("bearer", 3, 15), ("login", 2, 30)];
    for (what, count, pause_ms) in clients {
        for _ in 0..count {
            let (seen, stop, client, base) = (seen.clone(), stop.clone(), client.clone(), base.clone());
            let (key, bearer) = (key.clone(), bearer.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let req = match what {
                        "key" => predict_req(&client, &base, ("x-api-key", &key)),
                        "bearer" => predict_req(&client, &base, ("authorization", &bearer)),
                        _ => token_req(&client, &base, &login_form),
                    };
                    let sent = SystemTime::now();
                    let (got, body) = send(req).await;
                    let done = SystemTime::now();
                    seen.lock().unwrap().push(Seen {
                        what,
                        sent,
                        done,
                        got,
                        body,
                    });
                    tokio::time::sleep(Duration::from_millis(pause_ms)).await;
                }
            }));
        }
    }
    let kinds = ["key", "bearer", "login"];
    let count = |what: &str, from: SystemTime, got: Got| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|o| o.what == what && o.sent >= from && o.got == got)
            .count()
    };
    let began = SystemTime::now();
    while kinds.iter().any(|k| count(k, began, Got::Status(200, false)) < 3) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let stopped = SystemTime::now();
    tokio::task::block_in_place(|| pg.stop());
    // Served from memory until `synced_at + stale_max`, then closed: wait until well past it.
    tokio::time::sleep(stale_max + Duration::from_secs(1)).await;
    let synced = running.store().synced_at();
    let closed_from = synced + stale_max + Duration::from_millis(10);
    while kinds
        .iter()
        .any(|k| count(k, closed_from, Got::Status(503, true)) < 3)
        && SystemTime::now() < closed_from + Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restarting = SystemTime::now();
    tokio::task::block_in_place(|| pg.start_again());
    let restarted = SystemTime::now();
    // Recovery by itself: every kind answers 200 again, and keeps doing so.
    let bound = Duration::from_secs(30);
    let recovered = |what: &str| {
        let seen = seen.lock().unwrap();
        let after: Vec<_> = seen
            .iter()
            .filter(|o| o.what == what && o.sent >= restarted)
            .collect();
        after.len() >= 5
            && after[after.len() - 5..]
                .iter()
                .all(|o| o.got == Got::Status(200, false))
    };
    while !kinds.iter().all(|k| recovered(k)) {
        assert!(
            SystemTime::now() < restarted + bound,
            "not recovered {bound:?} after the database came back: {:?}",
            kinds.map(|k| (k, recovered(k)))
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }

    let seen = seen.lock().unwrap().clone();
    let since = |t: SystemTime| t.duration_since(stopped).unwrap_or_default();
    // Never a 500 or a transport error; every 503 says when to come back.
    for o in &seen {
        let ok = matches!(o.got, Got::Status(200, _) | Got::Status(503, true));
        assert!(
            ok,
            "{} sent {:?} after the stop: {:?} {:?}",
            o.what,
            since(o.sent),
            o.got,
            o.body
        );
    }
    let served_until = synced + stale_max;
    for o in &seen {
        let healthy = o.done < stopped;
        let outage = o.sent > stopped && o.done < restarting;
        let fresh = o.done < served_until;
        let stale = o.sent >= closed_from;
        let must = match o.what {
            // The database answered before the stop.
            _ if healthy => Some(Got::Status(200, false)),
            // Logins write the new refresh-token family: 503 for the whole outage.
            "login" if outage => Some(Got::Status(503, true)),
            // Keys and bearer tokens: from memory within stale_max, fail closed past it.
            _ if outage && fresh => Some(Got::Status(200, false)),
            _ if outage && stale => Some(Got::Status(503, true)),
            _ => None,
        };
        if let Some(must) = must {
            assert_eq!(
                o.got,
                must,
                "{} sent {:?} / answered {:?} after the stop (served from memory until {:?}): {:?}",
                o.what,
                since(o.sent),
                since(o.done),
                since(served_until),
                o.body
            );
        }
        if o.what == "login" && o.got == Got::Status(503, true) {
            let error = o.body.as_ref().map(|b| b["error"].clone());
            assert_eq!(
                error,
                Some("temporarily_unavailable".into()),
                "RFC 6749 error JSON"
            );
        }
    }
    // Nothing above is vacuous: each phase saw each kind.
    for what in kinds {
        let during = |want: Got, from: SystemTime, to: SystemTime| {
            seen.iter()
                .filter(|o| o.what == what && o.sent > from && o.done < to && o.got == want)
                .count()
        };
        if what != "login" {
            assert!(
                during(Got::Status(200, false), stopped, served_until) >= 3,
                "{what}: served from memory"
            );
        }
        assert!(
            during(Got::Status(503, true), closed_from, restarting) >= 3,
            "{what}: closed"
        );
        let last_failure = seen
            .iter()
            .filter(|o| o.what == what && o.got != Got::Status(200, false))
            .map(|o| o.done)
            .max()
            .unwrap();
        eprintln!(
            "{what}: {} requests; last failure answered {:?} after the restart",
            seen.iter().filter(|o| o.what == what).count(),
            last_failure.duration_since(restarted).unwrap_or_default()
        );
    }
    eprintln!(
        "stopped; served from memory until {:?} after the stop (stale_max {stale_max:?}); restart at {:?}",
        since(served_until),
        since(restarted)
    );
    running.shutdown().await;
}
