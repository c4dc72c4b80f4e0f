//! Test support shared by the mlguard crates: real services, started on free loopback ports,
//! and the one rule for skipping a test whose real dependency is missing.
//!
//! The project's rule is real parts, not mocks: Redis tests talk to a real `redis-server`. This
//! crate starts one per test (no persistence, bound to 127.0.0.1) and stops it on drop.
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

use std::net::{TcpListener, TcpStream};
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
