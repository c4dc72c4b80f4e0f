//! Test support shared by the mlguard crates: real services, started on free loopback ports,
//! and the one rule for skipping a test whose real dependency is missing.
//!
//! The project's rule is real parts, not mocks: Redis tests talk to a real `redis-server`, SQL
//! tests to a real PostgreSQL. This crate starts one per test (bound to 127.0.0.1, in a
//! temporary directory for PostgreSQL) and stops it on drop: [`RedisServer`], [`PostgresServer`].
//!
//! **The skip rule**, for every test that needs something outside Cargo (redis-server,
//! Python's `cryptography`, Chromium and chromedriver, schemathesis): when it is missing,
//! [`missing_dependency`] fails the test in CI and, elsewhere, prints `SKIPPED <test>: <why>`
//! to stderr and lets the test return. "In CI" ([`in_ci`]) means the `CI` variable is set to
//! anything but the empty string, `0` or `false` (any case): what CI services set (`CI=true`),
//! while `CI=` or `CI=false` in a developer's shell do not count. In CI a test never skips.
//!
//! ```no_run
//! let Some(redis) = mlguard_testkit::RedisServer::start() else { return };
//! let url = redis.url(); // redis://127.0.0.1:PORT/
//! # drop(url);
//! ```
//!
//! For tests of connection handling it also has raw clients: [`net`] (TCP from a chosen
//! loopback address, a TLS client trusting a test certificate) and [`h2`] (an HTTP/2
//! connection that never opens a stream); and [`idp`], a Keycloak-shaped JWKS endpoint with the
//! test keys that sign its tokens.

pub mod defaults_doc;
pub mod h2;
pub mod idp;
pub mod net;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` process on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` and waits until it accepts connections.
    ///
    /// Returns `None` (the caller skips) when `redis-server` is not installed, outside CI (the
    /// [skip rule](crate#the-skip-rule)).
    ///
    /// # Panics
    /// When `redis-server` is missing in CI, or when it does not start.
    pub fn start() -> Option<Self> {
        let missing = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err();
        if missing {
            missing_dependency(
                "Redis test",
                "redis-server is not installed (apt-get install redis-server)",
            );
            return None;
        }
        // A free port can be taken between our probe and redis binding it: retry a few times.
        for _ in 0..5 {
            let port = free_port();
            let child = spawn_redis(port);
            let mut server = Self { child, port };
            for _ in 0..100 {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(server);
                }
                if matches!(server.child.try_wait(), Ok(Some(_))) {
                    break; // exited: most likely the port was taken; try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("redis-server did not start");
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes every normal client connection (`CLIENT KILL TYPE normal`), as an operator or a
    /// failover would: clients must reconnect by themselves. Returns how many were closed.
    ///
    /// # Panics
    /// When the server does not answer.
    pub fn kill_clients(&self) -> u64 {
        use std::io::{BufRead, BufReader, Write};
        let mut conn = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connect to redis-server: {e}"));
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        conn.write_all(b"*4\r\n$6\r\nCLIENT\r\n$4\r\nKILL\r\n$4\r\nTYPE\r\n$6\r\nnormal\r\n")
            .unwrap_or_else(|e| panic!("send CLIENT KILL: {e}"));
        let mut line = String::new();
        // SKIPME defaults to yes: this connection is spared and gets the count (":N").
        let _ = BufReader::new(conn).read_line(&mut line);
        line.trim().trim_start_matches(':').parse().unwrap_or(0)
    }

    /// Kills the server now (to test what happens when Redis goes away); dropping does the same.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a fresh (empty) server on the same port after [`stop`](Self::stop), as a Redis
    /// restart looks to its clients, and waits until it accepts connections.
    ///
    /// # Panics
    /// When it does not come back within 5 s (the port was taken meanwhile, or the binary failed).
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..50 {
            let child = spawn_redis(self.port);
            self.child = child;
            for _ in 0..20 {
                if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    return;
                }
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    break; // the old socket may linger a moment: try again
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }
}

fn spawn_redis(port: u16) -> Child {
    Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start redis-server: {e}"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL server in a temporary directory on a free loopback port, killed (and its
/// directory removed) on drop.
///
/// `initdb` runs into a fresh directory with `trust` authentication for the `postgres` user on
/// 127.0.0.1 only; the server keeps its Unix socket in that directory and runs without `fsync`
/// (test data: it survives [`stop`](Self::stop), a process crash, not a machine crash). PostgreSQL refuses to run as root: when the tests run as root
/// (CI), the directory is handed to the `postgres` user (or `nobody`) and every server process
/// runs as that user (`setpriv`). The binaries are looked up on `PATH`, then in
/// `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package does not put them on `PATH`).
///
/// ```no_run
/// let Some(mut pg) = mlguard_testkit::PostgresServer::start() else { return };
/// let url = pg.url(); // postgres://postgres@127.0.0.1:PORT/postgres
/// pg.stop(); // the database goes away ...
/// pg.start_again(); // ... and comes back with its data, on the same port
/// # drop(url);
/// ```
#[derive(Debug)]
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    dir: PathBuf,
    run_as: Option<(u32, u32)>,
}

impl PostgresServer {
    /// Creates a cluster (`initdb`), starts `postgres` and waits until it accepts connections.
    ///
    /// Returns `None` (the caller skips) when PostgreSQL is not installed, outside CI (the
    /// [skip rule](crate#the-skip-rule)).
    ///
    /// # Panics
    /// When PostgreSQL is missing in CI, or when it does not start.
    pub fn start() -> Option<Self> {
        let Some(bin) = postgres_bin_dir() else {
            missing_dependency(
                "PostgreSQL test",
                "PostgreSQL is not installed (apt-get install postgresql)",
            );
            return None;
        };
        let run_as = if running_as_root() {
            Some(
                unprivileged_user()
                    .unwrap_or_else(|| panic!("no postgres or nobody user to run PostgreSQL as")),
            )
        } else {
            None
        };
        let dir = unique_temp_dir("mlguard-pg");
        let data = dir.join("data");
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("hand {} to uid {uid}: {e}", dir.display()));
        }
        let out = as_user(run_as, &bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("run initdb: {e}"));
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = Self {
            child: None,
            port: 0,
            bin,
            dir,
            run_as,
        };
        // A free port can be taken between our probe and the server binding it: retry.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn_and_wait() {
                return Some(server);
            }
        }
        panic!("postgres did not start (see {})", server.log_path().display());
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once (an "immediate" shutdown, as a crash looks to its clients:
    /// connections drop, nothing is flushed politely), keeping its data. Dropping does the same
    /// and removes the data.
    pub fn stop(&mut self) {
        self.resume(); // a paused server would not act on the shutdown signal
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: immediate shutdown; the postmaster takes its backends down with it.
            let _ = Command::new("kill")
                .args(["-s", "QUIT", &child.id().to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server and all its processes (`SIGSTOP`) without closing anything: the
    /// database that stops answering, as a hung host or a network partition looks to its
    /// clients (connections stay open, queries never return, new connections hang).
    /// [`resume`](Self::resume) undoes it; dropping resumes first.
    pub fn pause(&self) {
        self.signal_all("STOP");
    }

    /// Lets a [`pause`](Self::pause)d server run again.
    pub fn resume(&self) {
        self.signal_all("CONT");
    }

    /// Sends `signal` to the postmaster and every process it started.
    fn signal_all(&self, signal: &str) {
        let Some(child) = &self.child else { return };
        let root = child.id();
        let mut pids = vec![root];
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.filter_map(Result::ok) {
                let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces: split after ')'.
                let ppid = std::fs::read_to_string(entry.path().join("stat"))
                    .ok()
                    .and_then(|s| {
                        s.rsplit_once(')')
                            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    });
                if ppid == Some(root) {
                    pids.push(pid);
                }
            }
        }
        let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
        let _ = Command::new("kill")
            .args(["-s", signal])
            .args(&pids)
            .stderr(Stdio::null())
            .status();
    }

    /// Starts the server again after [`stop`](Self::stop), with its data, on the same port, and
    /// waits until it accepts connections (after crash recovery).
    ///
    /// # Panics
    /// When it does not come back within about 10 s.
    pub fn start_again(&mut self) {
        self.stop();
        for _ in 0..20 {
            if self.spawn_and_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "postgres did not restart on port {} (see {})",
            self.port,
            self.log_path().display()
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// Spawns the postmaster and waits until its `postmaster.pid` says `ready`; `false` (and
    /// nothing left running) when it exits or does not get ready in time.
    fn spawn_and_wait(&mut self) -> bool {
        let data = self.dir.join("data");
        let pid_file = data.join("postmaster.pid");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap_or_else(|e| panic!("open the postgres log: {e}"));
        let log_err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("open the postgres log: {e}"));
        let mut child = as_user(self.run_as, &self.bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            // No fsync (fast), but synchronous commits: a committed transaction's WAL is in the
            // kernel before the client hears back, so it survives `stop` (a process crash).
            // With synchronous_commit=off an immediate stop loses the last commits, schema too.
            .args(["-c", "fsync=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("start postgres: {e}"));
        for _ in 0..300 {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return false; // exited: most likely the port was taken
            }
            let ready = std::fs::read_to_string(&pid_file)
                .is_ok_and(|s| s.lines().nth(7).is_some_and(|l| l.trim() == "ready"));
            if ready && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory holding `initdb` and `postgres`: on `PATH` (followed through symlinks, so the
/// version's own directory with all its tools), else the newest `/usr/lib/postgresql/*/bin`.
fn postgres_bin_dir() -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| has_both(d))
        .and_then(|d| std::fs::canonicalize(d.join("initdb")).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| has_both(d));
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_both(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// (uid, gid) of the `postgres` user, else of `nobody`, from `/etc/passwd`.
fn unprivileged_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let find = |name: &str| {
        passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            (f.next()? == name).then_some(())?;
            let uid = f.nth(1)?.parse().ok()?;
            let gid = f.next()?.parse().ok()?;
            Some((uid, gid))
        })
    };
    find("postgres").or_else(|| find("nobody"))
}

/// `program`, run as `user` (uid, gid) through `setpriv` when one is given.
fn as_user(user: Option<(u32, u32)>, program: &Path) -> Command {
    match user {
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn unique_temp_dir(prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Whether this run is CI: the `CI` variable is set to anything but the empty string, `0` or
/// `false` (any case).
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var_os("CI").as_deref())
}

fn ci_value_means_ci(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| {
        let v = v.to_string_lossy();
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
}

/// The skip rule: `test` cannot run because `why` (name the fix, e.g. the package to install).
/// In CI ([`in_ci`]) this fails the test; elsewhere it prints `SKIPPED <test>: <why>` to stderr
/// and returns, and the caller returns early.
///
/// ```no_run
/// if std::process::Command::new("python3").arg("--version").status().is_err() {
///     mlguard_testkit::missing_dependency("python interop", "python3 is not installed");
///     return;
/// }
/// ```
///
/// # Panics
/// In CI, always.
pub fn missing_dependency(test: &str, why: &str) {
    assert!(!in_ci(), "{test}: {why}; CI must run it, never skip it");
    eprintln!("SKIPPED {test}: {why}");
}

/// A loopback port that was free a moment ago.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("bind a free port: {e}"))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    #[test]
    fn what_counts_as_ci() {
        for ci in ["true", "1", "yes", "TRUE", "github-actions"] {
            assert!(super::ci_value_means_ci(Some(OsStr::new(ci))), "{ci:?}");
        }
        assert!(!super::ci_value_means_ci(None));
        for not_ci in ["", " ", "0", "false", "False", "FALSE"] {
            assert!(!super::ci_value_means_ci(Some(OsStr::new(not_ci))), "{not_ci:?}");
        }
    }

    #[test]
    fn postgres_starts_stops_and_comes_back() {
        let Some(mut pg) = super::PostgresServer::start() else {
            return;
        };
        let port = pg.port();
        assert_eq!(pg.url(), format!("postgres://postgres@127.0.0.1:{port}/postgres"));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        pg.stop();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        pg.start_again();
        assert_eq!(pg.port(), port);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        let dir = pg.dir.clone();
        drop(pg);
        assert!(!dir.exists(), "the data directory is removed");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn starts_answers_and_stops() {
        let Some(redis) = super::RedisServer::start() else {
            return;
        };
        let port = redis.port();
        assert!(redis.url().ends_with(&format!(":{port}/")));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        let held = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(redis.kill_clients(), 1, "the held connection is closed");
        drop(held);
        let mut redis = redis;
        redis.stop();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        redis.restart();
        assert_eq!(redis.port(), port);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        drop(redis);
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
