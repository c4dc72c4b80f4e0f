//! Shared helpers of the end-to-end tests: start the real server on a free loopback port.
#![allow(dead_code, unreachable_pub)]

use ml_api::config::{Config, Settings};
use ml_api::datadir::files;
use ml_api::run::Running;
use mlguard_auth::apikey::generate;
use std::path::Path;

/// Runs `f` to completion from synchronous test code, inside or outside a runtime (the SQL
/// store does its I/O on its own thread; this only waits).
pub fn block_on<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f)
        })
        .join()
        .unwrap()
    })
}

pub struct TestServer {
    pub admin_password: String,
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    pub base: String,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// The running server's authentication database.
    pub fn store(&self) -> &mlguard_auth::sql::SqlStore {
        self.running.as_ref().expect("server running").store()
    }

    /// Adds an API key for `role` to the running server's database; returns the key.
    pub fn api_key(&self, name: &str, role: &str) -> String {
        let (key, record) = generate(name, [role]).unwrap();
        let store = self.store().clone();
        block_on(async move { store.insert_key(record).await }).unwrap();
        key.expose_secret().to_owned()
    }

    /// Adds a user with `role` (argon2id hash) to the running server's database.
    pub fn add_user(&self, name: &str, password: &str, role: &str) {
        use mlguard_auth::users::UserRecord;
        let hash = mlguard_auth::password::PasswordHasher::new()
            .hash_blocking(password)
            .unwrap();
        let user = UserRecord {
            username: name.into(),
            password_hash: hash,
            roles: vec![role.into()],
            disabled: false,
        };
        let store = self.store().clone();
        block_on(async move { store.upsert_user(user).await }).unwrap();
    }

    /// `POST /token` with the password grant.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a JSON `body` and the API key `key`.
    pub async fn post_json_key(
        &self,
        path: &str,
        key: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-api-key", key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with `value` as JSON and the API key `key`.
    pub async fn post_value_key(
        &self,
        path: &str,
        key: &str,
        value: &impl serde::Serialize,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-api-key", key)
            .json(value)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a JSON `body` and no credentials.
    pub async fn post_json(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` without credentials.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// `GET path` with the API key `key`.
    pub async fn get_key(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("x-api-key", key)
            .send()
            .await
            .unwrap()
    }

    pub fn fernet_key(&self) -> String {
        std::fs::read_to_string(self.data().join(files::FERNET_KEY))
            .unwrap()
            .trim()
            .to_owned()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

pub fn settings(dir: &Path) -> Settings {
    Settings {
        data_dir: Some(dir.to_owned()),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..Settings::default()
    }
}

/// Starts a server; `tweak` adjusts the settings (TLS is on unless `no_tls` is set).
pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> TestServer {
    start_with_routes(tweak, axum::Router::new()).await
}

/// [`start_with`], serving `extra` routes beside the API's (behind authentication and the guard).
pub async fn start_with_routes(
    tweak: impl FnOnce(&mut Settings),
    extra: axum::Router<ml_api::state::AppState>,
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = settings(&data);
    tweak(&mut s);
    let config = Config::resolve(s, None).unwrap();
    let mut running = ml_api::run::start_with_routes(config, extra).await.unwrap();
    let admin_password = running
        .take_admin_password()
        .expect("first run creates admin")
        .expose()
        .to_owned();
    let client = client_for(&running, |b| b);
    let base = format!(
        "{}://127.0.0.1:{}",
        if running.is_tls() { "https" } else { "http" },
        running.addr().port()
    );
    TestServer {
        admin_password,
        running: Some(running),
        dir,
        client,
        base,
    }
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// A reqwest client trusting the server's generated certificate.
pub fn client_for(
    running: &Running,
    tweak: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    if let Some(cert) = running.self_signed_cert() {
        let pem = std::fs::read(cert).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    tweak(builder).build().unwrap()
}

pub const SETOSA: &str = r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;
pub const VIRGINICA: &str = r#"{"sepal_length":6.7,"sepal_width":3.0,"petal_length":5.8,"petal_width":2.2}"#;

pub async fn json(resp: reqwest::Response) -> serde_json::Value {
    resp.json().await.unwrap()
}

/// Runs the real `ml-api --data-dir DATA ARGS` binary against the database `db`
/// (`MLGUARD_DATABASE_URL`), with `stdin` written to it: its stdout when it succeeded, its
/// stderr when it failed.
pub fn run_cli_on_database(data: &Path, db: &str, args: &[&str], stdin: &[u8]) -> Result<String, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ml-api"))
        .arg("--data-dir")
        .arg(data)
        .env("MLGUARD_DATABASE_URL", db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
