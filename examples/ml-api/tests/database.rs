//! Issue 19, the database: an old data directory (users and API keys in JSON files, as the
//! server wrote them before the database) upgrades on the first start with nothing lost, over
//! the real server; the database URL (it may hold a password) never reaches an error or a log.

mod common;

use common::{SETOSA, client_for, settings};
use ml_api::config::Config;
use ml_api::datadir::files;
use mlguard_auth::apikey::{FileKeyStore, generate};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::users::{FileUserStore, UserRecord};
use std::path::Path;

/// Writes `users.json` and `apikeys.json` the way the server and CLI did before the database
/// (mlguard-auth's file stores, 0600, in the data directory); returns (active key, revoked key).
fn old_layout(data: &Path) -> (String, String) {
    ml_api::datadir::ensure_private_dir(data).unwrap();
    let hasher = PasswordHasher::new();
    let users = FileUserStore::open_or_create(data.join(files::USERS)).unwrap();
    for (name, pw, role, disabled) in [
        ("admin", "old-admin-password", "admin", false),
        ("alice", "alice-old-password", "user", false),
        ("mallory", "mallory-old-password", "user", true),
    ] {
        users
            .insert(UserRecord {
                username: name.into(),
                password_hash: hasher.hash_blocking(pw).unwrap(),
                roles: vec![role.into()],
                disabled,
            })
            .unwrap();
    }
    let keys = FileKeyStore::open_or_create(data.join(files::API_KEYS)).unwrap();
    let (active, record) = generate("batch", ["admin"]).unwrap();
    keys.insert(record).unwrap();
    let (revoked, record) = generate("old-job", ["user"]).unwrap();
    keys.insert(record).unwrap();
    assert!(keys.revoke(revoked.key_id()).unwrap());
    (
        active.expose_secret().to_owned(),
        revoked.expose_secret().to_owned(),
    )
}

async fn start(data: &Path) -> ml_api::run::Running {
    let mut s = settings(data);
    s.no_tls = Some(true);
    ml_api::run::start(Config::resolve(s, None).unwrap())
        .await
        .unwrap()
}

async fn login(client: &reqwest::Client, base: &str, user: &str, pw: &str) -> u16 {
    client
        .post(format!("{base}/token"))
        .form(&[("username", user), ("password", pw)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn predict(client: &reqwest::Client, base: &str, key: &str) -> u16 {
    client
        .post(format!("{base}/predict"))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(SETOSA)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_json_data_directory_upgrades_with_nothing_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (active, revoked) = old_layout(&data);

    for round in ["first start (imports)", "second start (already imported)"] {
        let mut running = start(&data).await;
        assert!(
            running.take_admin_password().is_none(),
            "{round}: an existing admin is kept, no new password"
        );
        let client = client_for(&running, |b| b);
        let base = running.url();
        assert_eq!(
            login(&client, &base, "alice", "alice-old-password").await,
            200,
            "{round}"
        );
        assert_eq!(
            login(&client, &base, "admin", "old-admin-password").await,
            200,
            "{round}"
        );
        assert_eq!(
            login(&client, &base, "alice", "wrong-password").await,
            400,
            "{round}"
        );
        assert_eq!(
            login(&client, &base, "mallory", "mallory-old-password").await,
            400,
            "{round}: a disabled user stays disabled"
        );
        assert_eq!(predict(&client, &base, &active).await, 200, "{round}");
        assert_eq!(
            predict(&client, &base, &revoked).await,
            401,
            "{round}: a revoked key stays revoked"
        );
        // The JSON files are renamed (kept, not deleted), once.
        assert!(!data.join(files::USERS).exists(), "{round}");
        assert!(!data.join(files::API_KEYS).exists(), "{round}");
        assert!(data.join("users.json.imported").exists(), "{round}");
        assert!(data.join("apikeys.json.imported").exists(), "{round}");
        assert!(data.join("mlguard.db").exists(), "{round}");
        running.shutdown().await;
    }
}

#[tokio::test]
async fn a_fresh_data_directory_gets_admin_in_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut running = start(&data).await;
    let password = running
        .take_admin_password()
        .expect("the first start creates admin")
        .expose()
        .to_owned();
    assert!(running.created().contains(&"mlguard.db"));
    let client = client_for(&running, |b| b);
    assert_eq!(login(&client, &running.url(), "admin", &password).await, 200);
    let users = running.store().list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    running.shutdown().await;
    // A restart creates nobody.
    let mut again = start(&data).await;
    assert!(again.take_admin_password().is_none());
    again.shutdown().await;
}

#[tokio::test]
async fn the_database_url_and_its_password_never_reach_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Nothing listens on port 1: the connection fails.
    let url = "postgres://mlguard:Sup3rS3cretPw@127.0.0.1:1/mlguard";
    let mut s = settings(&data);
    s.no_tls = Some(true);
    s.database_url = Some(url.into());
    let config = Config::resolve(s, None).unwrap();
    assert!(!format!("{config:?}").contains("Sup3rS3cretPw"));
    let err = ml_api::run::start(config).await.unwrap_err().to_string();
    assert!(err.contains("database"), "{err}");
    assert!(!err.contains("Sup3rS3cretPw"), "{err}");
    assert!(!err.contains(url), "{err}");

    // The CLI, with the URL as a flag and from the environment.
    let bin = env!("CARGO_BIN_EXE_ml-api");
    for via_env in [false, true] {
        let mut cmd = std::process::Command::new(bin);
        cmd.arg("--data-dir").arg(&data).args(["user", "list"]);
        if via_env {
            cmd.env("MLGUARD_DATABASE_URL", url);
        } else {
            cmd.args(["--database-url", url]);
        }
        let out = cmd.env("RUST_LOG", "debug").output().unwrap();
        assert!(!out.status.success());
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(all.contains("database"), "{all}");
        assert!(!all.contains("Sup3rS3cretPw"), "{all}");
    }
}

#[test]
fn database_settings_resolve_with_their_defaults() {
    let c = Config::for_data_dir("/srv/ml");
    assert_eq!(c.database_url().expose(), "sqlite:///srv/ml/mlguard.db");
    assert_eq!(c.db_stale_max, std::time::Duration::from_secs(30));
    let mut s = settings(Path::new("/srv/ml"));
    s.database_url = Some("mysql://x".into());
    assert!(Config::resolve(s, None).is_err());
    let mut s = settings(Path::new("/srv/ml"));
    s.db_stale_max = Some("2s".into());
    assert_eq!(
        Config::resolve(s, None).unwrap().db_stale_max,
        std::time::Duration::from_secs(2)
    );
}
