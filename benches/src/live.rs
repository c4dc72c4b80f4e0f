//! A release `ml-api` started as its own process on a loopback port, for the runs that measure
//! the whole server from outside (the soak test, the login-flood benchmark).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// The server binary: `$ML_API`, else `ml-api` beside the running executable (both are built
/// into the same `target/release`).
///
/// # Errors
/// Neither exists.
pub fn ml_api_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ML_API") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let beside = exe.with_file_name("ml-api");
    beside
        .exists()
        .then_some(beside)
        .ok_or_else(|| "no ml-api beside this binary: set ML_API or use the scripts/ wrapper".into())
}

/// `ml-api apikey create NAME --role ROLE` in `data`; returns the key.
///
/// # Errors
/// The command fails.
pub fn create_key(ml_api: &Path, data: &Path, name: &str, role: &str) -> Result<String, String> {
    let out = Command::new(ml_api)
        .args(["apikey", "create", name, "--role", role])
        .env("MLGUARD_DATA_DIR", data)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("run ml-api: {e}"))?;
    if !out.status.success() {
        return Err(format!("ml-api apikey create {name} failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A running `ml-api serve` over TLS on 127.0.0.1; killed on drop.
#[derive(Debug)]
pub struct LiveServer {
    child: Child,
    log: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `https://127.0.0.1:PORT`.
    pub base: String,
    /// Its self-signed certificate (PEM).
    pub cert: Vec<u8>,
    /// The first-run password of `admin`.
    pub admin_password: String,
}

impl LiveServer {
    /// Starts `ml_api serve` with its data in `data`, its log in `log`, and `env` added to the
    /// environment; waits (at most 60 s) until `/healthz` answers.
    ///
    /// # Errors
    /// It does not start or does not come up.
    pub async fn start(
        ml_api: &Path,
        data: &Path,
        log: &Path,
        env: &[(&str, String)],
    ) -> Result<Self, String> {
        let port = mlguard_testkit::free_port();
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let log_file = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child = Command::new(ml_api)
            .arg("serve")
            .env("MLGUARD_DATA_DIR", data)
            .env("MLGUARD_LISTEN", addr.to_string())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("start ml-api: {e}"))?;
        let mut server = Self {
            child,
            log: log.to_owned(),
            addr,
            base: format!("https://127.0.0.1:{port}"),
            cert: Vec::new(),
            admin_password: String::new(),
        };
        // Up: the certificate is written at start, then /healthz answers.
        let cert_path = data.join("tls-cert.pem");
        let up_by = Instant::now() + Duration::from_secs(60);
        server.cert = loop {
            if let Ok(pem) = std::fs::read(&cert_path)
                && let Ok(c) = reqwest::Certificate::from_pem(&pem)
            {
                let client = reqwest::Client::builder()
                    .add_root_certificate(c)
                    .timeout(Duration::from_secs(2))
                    .build()
                    .map_err(|e| e.to_string())?;
                if client
                    .get(format!("{}/healthz", server.base))
                    .send()
                    .await
                    .is_ok()
                {
                    break pem;
                }
            }
            if Instant::now() > up_by || matches!(server.child.try_wait(), Ok(Some(_))) {
                return Err(format!("ml-api did not come up (log: {})", server.log_text()));
            }
            sleep(Duration::from_millis(200)).await;
        };
        server.admin_password = server
            .log_text()
            .lines()
            .find_map(|l| {
                l.split_once("created user `admin` with password: ")
                    .map(|(_, p)| p.trim().to_owned())
            })
            .ok_or("no admin password in ml-api's first-run output")?;
        Ok(server)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size now, KiB (from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A client trusting the server's certificate, connecting from `source`, 5 s timeout.
    ///
    /// # Panics
    /// The certificate or the client cannot be built (not expected once started).
    pub fn client(&self, source: IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&self.cert).unwrap_or_else(|e| panic!("cert: {e}")),
            )
            .local_address(source)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"))
    }

    /// [`create_key`] while the server runs, then waits (at most 10 s) until the server knows
    /// the key: it learns of keys the CLI adds through its database (SQLite is polled every
    /// 250 ms), not at once. The probe is a `POST /decrypt` of `{}`: 401 while the key is
    /// unknown, a 4xx for the body once it is known.
    ///
    /// # Errors
    /// The command fails, or the server does not learn of the key in time.
    pub async fn create_key(
        &self,
        ml_api: &Path,
        data: &Path,
        name: &str,
        role: &str,
    ) -> Result<String, String> {
        let key = create_key(ml_api, data, name, role)?;
        let client = self.client(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        for _ in 0..200 {
            let status = client
                .post(format!("{}/decrypt", self.base))
                .header("x-api-key", &key)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            if status != 401 && status != 0 {
                return Ok(key);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("the server did not learn of the key {name} within 10 s"))
    }

    /// Logs in with the password grant; returns the access token.
    ///
    /// # Errors
    /// The login fails.
    pub async fn login(&self, username: &str, password: &str) -> Result<String, String> {
        let login: serde_json::Value = self
            .client(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .post(format!("{}/token", self.base))
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        login["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("login gave no access token: {login}"))
    }

    /// Stops the server with SIGTERM (at most 15 s, then SIGKILL); returns its whole log.
    pub async fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let stop_by = Instant::now() + Duration::from_secs(15);
        while Instant::now() < stop_by && matches!(self.child.try_wait(), Ok(None)) {
            sleep(Duration::from_millis(100)).await;
        }
        self.log_text()
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
