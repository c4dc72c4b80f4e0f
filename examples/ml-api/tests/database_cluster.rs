//! Issue 19: three `ml-api` instances (each its own data directory, as on three machines, one
//! JWT secret) on one real PostgreSQL and one real Redis. A user added with the CLI logs in on
//! every instance; a key revoked with the CLI is refused by every instance within 1 s; a
//! refresh token issued by A redeems on B; its reuse on C revokes the family on all three; the
//! per-principal quota is one quota across the three. Skipped locally without `postgres` /
//! `redis-server`, FAILS under `CI`.

mod common;

use common::{SETOSA, client_for, settings};
use ml_api::config::Config;
use ml_api::run::Running;
use std::path::Path;
use std::time::{Duration, Instant};

const JWT_SECRET: &str = "one-secret-for-the-whole-cluster-0123456789";

struct Node {
    running: Running,
    client: reqwest::Client,
    base: String,
}

impl Node {
    async fn start(data: &Path, db: &str, redis: &str) -> Self {
        let mut s = settings(data);
        s.no_tls = Some(true);
        s.database_url = Some(db.into());
        s.redis_url = Some(redis.into());
        s.jwt_secret = Some(JWT_SECRET.into());
        s.predict_rate = Some("6/minute".into());
        s.token_rate = Some("1000/minute".into());
        let running = ml_api::run::start(Config::resolve(s, None).unwrap())
            .await
            .unwrap();
        let client = client_for(&running, |b| b);
        let base = running.url();
        Self {
            running,
            client,
            base,
        }
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let r = self
            .client
            .post(format!("{}/token", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn predict(&self, auth: (&str, &str)) -> u16 {
        self.client
            .post(format!("{}/predict", self.base))
            .header(auth.0, auth.1)
            .header("content-type", "application/json")
            .body(SETOSA)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// `ml-api --data-dir DIR --database-url URL ARGS` with `stdin`; returns stdout on success.
fn cli(data: &Path, db: &str, args: &[&str], stdin: &[u8]) -> String {
    common::run_cli_on_database(data, db, args, stdin)
        .unwrap_or_else(|stderr| panic!("ml-api {args:?}: {stderr}"))
}

/// Polls `probe` until it gives `want`, for at most 1 s (the bound); returns the time.
async fn within_a_second<F, Fut>(what: &str, mut probe: F, want: u16) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let start = Instant::now();
    loop {
        let got = probe().await;
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: still {got} after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_users_keys_refresh_tokens_and_quotas() {
    let Some(pg) = mlguard_testkit::PostgresServer::start() else {
        return;
    };
    let Some(redis) = mlguard_testkit::RedisServer::start() else {
        return;
    };
    let (db, redis_url) = (pg.url(), redis.url());
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = ["a", "b", "c"].iter().map(|n| tmp.path().join(n)).collect();
    let mut nodes = Vec::new();
    for d in &dirs {
        nodes.push(Node::start(d, &db, &redis_url).await);
    }
    let cli_dir = tmp.path().join("cli");

    // A user added with the CLI (from a fourth machine) logs in on every instance.
    cli(
        &cli_dir,
        &db,
        &["user", "add", "carol", "--role", "admin"],
        b"carol-password-1\n",
    );
    for (name, n) in ["a", "b", "c"].iter().zip(&nodes) {
        let took = within_a_second(
            &format!("carol logs in on {name}"),
            || async {
                n.token(&[("username", "carol"), ("password", "carol-password-1")])
                    .await
                    .0
            },
            200,
        )
        .await;
        eprintln!("user added with the CLI logged in on {name} after {took:?}");
    }

    // A key created with the CLI works everywhere; revoked with the CLI, it is refused by every
    // instance within 1 s.
    let key = cli(
        &cli_dir,
        &db,
        &["apikey", "create", "job", "--role", "admin"],
        b"",
    )
    .trim()
    .to_owned();
    for n in &nodes {
        within_a_second("the new key works", || n.predict(("x-api-key", &key)), 200).await;
    }
    let listing = cli(&cli_dir, &db, &["apikey", "list"], b"");
    let id = listing
        .lines()
        .find(|l| l.contains(" job "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    cli(&cli_dir, &db, &["apikey", "revoke", &id], b"");
    for (name, n) in ["a", "b", "c"].iter().zip(&nodes) {
        let took = within_a_second(
            &format!("the revoked key on {name}"),
            || n.predict(("x-api-key", &key)),
            401,
        )
        .await;
        eprintln!("key revoked with the CLI refused by {name} after {took:?} (since the probe began)");
    }

    // A refresh token issued by A redeems on B; reusing the first one on C revokes the family
    // on all three (refresh token and access tokens).
    let (status, first) = nodes[0]
        .token(&[("username", "carol"), ("password", "carol-password-1")])
        .await;
    assert_eq!(status, 200);
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = nodes[1]
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &r1)])
        .await;
    assert_eq!(status, 200, "{second}");
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {access2}");
    assert_eq!(nodes[2].predict(("authorization", &bearer)).await, 200);
    let (status, reuse) = nodes[2]
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &r1)])
        .await;
    assert_eq!((status, reuse["error"].as_str()), (400, Some("invalid_grant")));
    for (name, n) in ["a", "b", "c"].iter().zip(&nodes) {
        let (status, _) = n
            .token(&[("grant_type", "refresh_token"), ("refresh_token", &r2)])
            .await;
        assert_eq!(
            status, 400,
            "{name}: the family's newest refresh token is revoked too"
        );
        within_a_second(
            &format!("the family's access token on {name}"),
            || n.predict(("authorization", &bearer)),
            401,
        )
        .await;
    }

    // One per-principal quota (6/minute) across the three instances (Redis).
    let (_, fresh) = nodes[0]
        .token(&[("username", "carol"), ("password", "carol-password-1")])
        .await;
    let bearer = format!("Bearer {}", fresh["access_token"].as_str().unwrap());
    // carol already spent 1 prediction above (on C); 5 more are allowed in all.
    let mut answers = Vec::new();
    for i in 0..6 {
        answers.push(nodes[i % 3].predict(("authorization", &bearer)).await);
    }
    assert_eq!(
        answers,
        [200, 200, 200, 200, 200, 429],
        "one quota across the three"
    );

    for n in nodes {
        n.running.shutdown().await;
    }
}

/// Polls `probe` until it gives `want`, for at most `bound`; returns the time it took.
async fn eventually<F, Fut>(what: &str, bound: Duration, mut probe: F, want: u16) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let start = Instant::now();
    loop {
        let got = probe().await;
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < bound,
            "{what}: still {got} after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_logins_503_keys_serve_until_stale_max_then_503_and_recover() {
    let Some(mut pg) = mlguard_testkit::PostgresServer::start() else {
        return;
    };
    let db = pg.url();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("a");
    let mut s = settings(&data);
    s.no_tls = Some(true);
    s.database_url = Some(db.clone().into());
    s.db_stale_max = Some("3s".into());
    s.token_rate = Some("1000/minute".into());
    s.predict_rate = Some("1000/minute".into());
    let running = ml_api::run::start(Config::resolve(s, None).unwrap())
        .await
        .unwrap();
    let node = Node {
        client: client_for(&running, |b| b),
        base: running.url(),
        running,
    };
    cli(
        &data,
        &db,
        &["user", "add", "dave", "--role", "user"],
        b"dave-password-1\n",
    );
    let key = cli(&data, &db, &["apikey", "create", "job", "--role", "admin"], b"")
        .trim()
        .to_owned();
    within_a_second("key works", || node.predict(("x-api-key", &key)), 200).await;
    let login = || async {
        node.token(&[("username", "dave"), ("password", "dave-password-1")])
            .await
            .0
    };
    within_a_second("dave logs in", login, 200).await;

    pg.stop();
    let stopped = Instant::now();
    // Key authentication goes on from memory within stale_max (3 s after the last sync, at
    // most 1 s before the stop: this runs well inside it).
    assert_eq!(node.predict(("x-api-key", &key)).await, 200);
    let served_after = stopped.elapsed();
    // Logins need the database (refresh-token family): 503 with Retry-After.
    let r = node
        .client
        .post(format!("{}/token", node.base))
        .form(&[("username", "dave"), ("password", "dave-password-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Key authentication then fails closed with 503 + Retry-After.
    eventually(
        "stale keys fail closed",
        Duration::from_secs(15),
        || node.predict(("x-api-key", &key)),
        503,
    )
    .await;
    eprintln!(
        "key auth served {served_after:?} after the stop; failed closed {:?} after the stop (stale_max 3s)",
        stopped.elapsed()
    );
    let r = node
        .client
        .post(format!("{}/predict", node.base))
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(SETOSA)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"), "{:?}", r.headers());

    // Recovery by itself.
    pg.start_again();
    let took = eventually(
        "keys recover",
        Duration::from_secs(20),
        || node.predict(("x-api-key", &key)),
        200,
    )
    .await;
    eventually("logins recover", Duration::from_secs(20), login, 200).await;
    eprintln!("recovered {took:?} after the database came back");
    node.running.shutdown().await;
}
