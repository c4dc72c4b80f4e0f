//! Issue 19: the SQL store's behavior, the same suite against SQLite and a real PostgreSQL
//! (started by mlguard-testkit; skipped locally when PostgreSQL is missing, never in CI).
#![cfg(feature = "sql")]

use mlguard_auth::apikey::{FileKeyStore, KeyStore, generate};
use mlguard_auth::refresh::{Recorded, Redemption, RefreshTokenStore};
use mlguard_auth::revocation::{MAX_LEEWAY, RevocationStore};
use mlguard_auth::sql::{SqlStore, SqlStoreBuilder};
use mlguard_auth::users::{FileUserStore, UserRecord, UserStore};
use mlguard_core::{Clock, ManualClock};
use std::sync::Arc;
use std::time::Duration;

/// One database for one test: a SQLite file in a temporary directory, or a PostgreSQL server.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(mlguard_testkit::PostgresServer),
}

impl Db {
    fn sqlite() -> Option<Self> {
        Some(Self::Sqlite(tempfile::tempdir().unwrap()))
    }

    fn postgres() -> Option<Self> {
        mlguard_testkit::PostgresServer::start().map(Self::Postgres)
    }

    fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => SqlStore::sqlite_url_for(dir.path()),
            Self::Postgres(pg) => pg.url(),
        }
    }

    fn builder(&self, clock: &ManualClock) -> SqlStoreBuilder {
        SqlStore::builder(&self.url()).clock(Arc::new(clock.clone()))
    }

    async fn store(&self, clock: &ManualClock) -> SqlStore {
        self.builder(clock).connect().await.unwrap()
    }
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        username: name.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"),
        roles: vec!["user".into(), "analyst".into()],
        disabled: false,
    }
}

fn clock() -> ManualClock {
    ManualClock::at_unix(1_800_000_000)
}

/// Runs each behavior against both backends.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::Db::sqlite() else { return };
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::Db::postgres() else { return };
                    super::$name(&db).await;
                }
            )*
        }
    };
}

suite!(
    users_are_stored_served_from_memory_and_kept,
    keys_hold_hashes_revoke_and_remove,
    revocations_last_until_exp_plus_leeway,
    refresh_rotation_and_reuse_revoke_the_family,
    refresh_tokens_expire_and_record_refuses_revoked_families,
    concurrent_redeems_of_one_token_have_one_winner,
    an_old_json_data_dir_upgrades_with_nothing_lost,
    reads_fail_closed_after_stale_max_without_a_sync,
    a_reload_racing_a_local_write_never_undoes_it,
);

async fn users_are_stored_served_from_memory_and_kept(db: &Db) {
    let clock = clock();
    let store = db.store(&clock).await;
    assert!(UserStore::get(&store, "alice").unwrap().is_none());
    store.upsert_user(user("alice")).await.unwrap();
    store.upsert_user(user("bob")).await.unwrap();
    assert_eq!(UserStore::get(&store, "alice").unwrap(), Some(user("alice")));
    assert!(
        UserStore::get(&store, "Alice").unwrap().is_none(),
        "names compare exactly"
    );

    assert!(store.set_user_disabled("bob", true).await.unwrap());
    assert!(!store.set_user_disabled("nobody", true).await.unwrap());
    assert!(UserStore::get(&store, "bob").unwrap().unwrap().disabled);

    // The trait's synchronous write (a login upgrading an outdated hash), from the runtime.
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.set_password_hash("alice", "$argon2id$new"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        UserStore::get(&store, "alice").unwrap().unwrap().password_hash,
        "$argon2id$new"
    );

    // Durable: a new store (a restart) reads the same.
    drop(store);
    let store = db.store(&clock).await;
    let names: Vec<_> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(
        UserStore::get(&store, "alice").unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert!(UserStore::get(&store, "bob").unwrap().unwrap().disabled);
    assert_eq!(
        UserStore::get(&store, "alice").unwrap().unwrap().roles,
        ["user", "analyst"]
    );

    assert!(store.remove_user("bob").await.unwrap());
    assert!(!store.remove_user("bob").await.unwrap());
    assert!(UserStore::get(&store, "bob").unwrap().is_none());
}

async fn keys_hold_hashes_revoke_and_remove(db: &Db) {
    let clock = clock();
    let store = db.store(&clock).await;
    let (key, record) = generate("batch-job", ["user"]).unwrap();
    store.insert_key(record.clone()).await.unwrap();
    let got = KeyStore::get(&store, key.key_id()).unwrap().unwrap();
    assert_eq!(got, record);
    assert!(got.verify(key.expose_secret()));
    assert!(!got.revoked);

    assert!(store.revoke_key(key.key_id()).await.unwrap());
    assert!(!store.revoke_key("0000000000000000").await.unwrap());
    assert!(KeyStore::get(&store, key.key_id()).unwrap().unwrap().revoked);

    drop(store);
    let store = db.store(&clock).await;
    assert!(
        KeyStore::get(&store, key.key_id()).unwrap().unwrap().revoked,
        "revocation is durable"
    );
    let listed = store.list_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    // Only the hash is stored: the database never sees the key.
    assert!(!format!("{:?}", serde_json::to_string(&listed[0]).unwrap()).contains(key.expose_secret()));

    assert!(store.remove_key(key.key_id()).await.unwrap());
    assert!(KeyStore::get(&store, key.key_id()).unwrap().is_none());
}

async fn revocations_last_until_exp_plus_leeway(db: &Db) {
    let clock = clock();
    let store = db.store(&clock).await;
    let exp = clock.now() + Duration::from_secs(60);
    store.revoke("jti-1", exp).await.unwrap();
    // Already past its denial horizon: nothing to store.
    store
        .revoke("jti-old", clock.now() - MAX_LEEWAY - Duration::from_secs(1))
        .await
        .unwrap();
    assert!(store.is_revoked("jti-1").await.unwrap());
    assert!(!store.is_revoked("jti-2").await.unwrap());
    assert!(!store.is_revoked("jti-old").await.unwrap());

    drop(store);
    let store = db.store(&clock).await;
    assert!(
        store.is_revoked("jti-1").await.unwrap(),
        "the denylist is durable"
    );
    // (A reload after each jump: the manual clock outruns the periodic one, see stale_max.)
    clock.advance(Duration::from_secs(61));
    store.sync_now().await.unwrap();
    assert!(
        store.is_revoked("jti-1").await.unwrap(),
        "denied through the leeway"
    );
    clock.advance(MAX_LEEWAY);
    store.sync_now().await.unwrap();
    assert!(!store.is_revoked("jti-1").await.unwrap());
}

async fn refresh_rotation_and_reuse_revoke_the_family(db: &Db) {
    let clock = clock();
    let store = db.store(&clock).await;
    let scope = vec!["model:predict".to_owned()];
    let (t1, family) = store.issue_async("alice", Some(&scope), None).await.unwrap();
    let peeked = store.peek_async(&t1).await.unwrap().unwrap();
    assert_eq!(
        (peeked.username.as_str(), peeked.scope.as_deref()),
        ("alice", Some(&scope[..]))
    );
    let exp = clock.now() + Duration::from_secs(900);
    assert_eq!(
        store
            .record_access_token_async(&family, "access-1", exp)
            .await
            .unwrap(),
        Recorded::Recorded
    );

    // Rotation: t1 redeems once and its successor is in the same family.
    let Redemption::Valid(grant) = store.redeem_async(&t1).await.unwrap() else {
        panic!("a fresh token redeems")
    };
    assert_eq!(grant.family, family);
    let (t2, same) = store
        .issue_async("alice", Some(&scope), Some(&family))
        .await
        .unwrap();
    assert_eq!(same, family);
    assert!(
        store.peek_async(&t1).await.unwrap().is_none(),
        "used tokens do not peek"
    );

    // Reuse of t1: the family is revoked and its access tokens are reported and denied.
    let Redemption::Reused { access_tokens } = store.redeem_async(&t1).await.unwrap() else {
        panic!("a second redemption is reuse")
    };
    assert_eq!(
        access_tokens.iter().map(|(j, _)| j.as_str()).collect::<Vec<_>>(),
        ["access-1"]
    );
    assert!(
        store.is_revoked("access-1").await.unwrap(),
        "the store denies them itself"
    );
    assert_eq!(
        store.redeem_async(&t2).await.unwrap(),
        Redemption::Invalid,
        "the legitimate holder's token too"
    );
    assert_eq!(
        store.redeem_async(&t1).await.unwrap(),
        Redemption::Invalid,
        "reported once"
    );
    assert_eq!(
        store.redeem_async("mrt_unknown").await.unwrap(),
        Redemption::Invalid
    );

    // Behind `Arc<dyn RefreshTokenStore>` (a backend picked at run time) the async methods
    // still reach the database store's own, not the blocking defaults.
    let shared: Arc<dyn RefreshTokenStore> = Arc::new(store.clone());
    let (t4, _) = shared.issue_async("carol", None, None).await.unwrap();
    assert!(matches!(
        shared.redeem_async(&t4).await.unwrap(),
        Redemption::Valid(_)
    ));
    assert!(matches!(
        shared.redeem_async(&t4).await.unwrap(),
        Redemption::Reused { .. }
    ));

    // The synchronous trait methods (what the token endpoint calls today) agree.
    let (t3, _) = RefreshTokenStore::issue(&store, "bob", None, None).unwrap();
    assert!(RefreshTokenStore::peek(&store, &t3).unwrap().is_some());
    assert!(
        matches!(RefreshTokenStore::redeem(&store, &t3).unwrap(), Redemption::Valid(g) if g.scope.is_none())
    );
    assert!(matches!(
        RefreshTokenStore::redeem(&store, &t3).unwrap(),
        Redemption::Reused { .. }
    ));
}

async fn refresh_tokens_expire_and_record_refuses_revoked_families(db: &Db) {
    let clock = clock();
    let store = db
        .builder(&clock)
        .refresh_ttl(Duration::from_secs(3600))
        .connect()
        .await
        .unwrap();
    let (t, family) = store.issue_async("alice", None, None).await.unwrap();
    clock.advance(Duration::from_secs(3601));
    assert!(store.peek_async(&t).await.unwrap().is_none());
    assert_eq!(store.redeem_async(&t).await.unwrap(), Redemption::Invalid);

    let (t, family2) = store.issue_async("alice", None, None).await.unwrap();
    assert_ne!(family, family2);
    assert!(matches!(
        store.redeem_async(&t).await.unwrap(),
        Redemption::Valid(_)
    ));
    assert!(matches!(
        store.redeem_async(&t).await.unwrap(),
        Redemption::Reused { .. }
    ));
    let exp = clock.now() + Duration::from_secs(900);
    assert_eq!(
        store
            .record_access_token_async(&family2, "late", exp)
            .await
            .unwrap(),
        Recorded::FamilyRevoked,
        "a rotation finishing after the reuse hands nothing out"
    );
    assert_eq!(
        store
            .record_access_token_async("no-such-family", "x", exp)
            .await
            .unwrap(),
        Recorded::FamilyRevoked
    );
}

async fn concurrent_redeems_of_one_token_have_one_winner(db: &Db) {
    let clock = clock();
    // Two stores on one database: two instances.
    let a = db.store(&clock).await;
    let b = db.store(&clock).await;
    for round in 0..10 {
        let (token, _) = a.issue_async("alice", None, None).await.unwrap();
        let (ta, tb) = (token.to_string(), token.to_string());
        let (a2, b2) = (a.clone(), b.clone());
        let ra = tokio::spawn(async move { a2.redeem_async(&ta).await.unwrap() });
        let rb = tokio::spawn(async move { b2.redeem_async(&tb).await.unwrap() });
        let results = [ra.await.unwrap(), rb.await.unwrap()];
        let valid = results
            .iter()
            .filter(|r| matches!(r, Redemption::Valid(_)))
            .count();
        let reused = results
            .iter()
            .filter(|r| matches!(r, Redemption::Reused { .. }))
            .count();
        assert_eq!((valid, reused), (1, 1), "round {round}: {results:?}");
    }
}

async fn an_old_json_data_dir_upgrades_with_nothing_lost(db: &Db) {
    let clock = clock();
    let data = tempfile::tempdir().unwrap();
    // A data directory as the file stores left it.
    let users = FileUserStore::open_or_create(data.path().join("users.json")).unwrap();
    let mut carol = user("carol");
    carol.disabled = true;
    for u in [user("alice"), user("bob"), carol.clone()] {
        users.insert(u).unwrap();
    }
    let keys = FileKeyStore::open_or_create(data.path().join("apikeys.json")).unwrap();
    let (k1, r1) = generate("ci", ["user"]).unwrap();
    let (k2, r2) = generate("ops", ["admin"]).unwrap();
    keys.insert(r1.clone()).unwrap();
    keys.insert(r2.clone().with_expiry(clock.now() + Duration::from_secs(86_400)))
        .unwrap();
    keys.revoke(k2.key_id()).unwrap();
    let (old_users, old_keys) = (users.list(), keys.list());
    drop((users, keys));

    let store = db.store(&clock).await;
    let report = store.import_json_dir(data.path()).await.unwrap();
    assert_eq!((report.users, report.keys), (3, 2));
    for name in ["users.json.imported", "apikeys.json.imported"] {
        assert!(data.path().join(name).exists(), "{name}");
    }
    assert!(!data.path().join("users.json").exists());
    assert!(!data.path().join("apikeys.json").exists());

    // Nothing lost: every record as it was, keys still verify, the revocation holds.
    for u in &old_users {
        assert_eq!(UserStore::get(&store, &u.username).unwrap().as_ref(), Some(u));
    }
    for k in &old_keys {
        assert_eq!(KeyStore::get(&store, &k.key_id).unwrap().as_ref(), Some(k));
    }
    assert!(
        KeyStore::get(&store, k1.key_id())
            .unwrap()
            .unwrap()
            .verify(k1.expose_secret())
    );
    assert!(KeyStore::get(&store, k2.key_id()).unwrap().unwrap().revoked);
    assert!(UserStore::get(&store, "carol").unwrap().unwrap().disabled);

    // Once: a second start finds nothing to import; and a restart still has everything.
    drop(store);
    let store = db.store(&clock).await;
    let again = store.import_json_dir(data.path()).await.unwrap();
    assert_eq!((again.users, again.keys, again.renamed.len()), (0, 0, 0));
    assert_eq!(store.list_users().await.unwrap(), old_users);
    let mut listed = store.list_keys().await.unwrap();
    let mut expected = old_keys.clone();
    listed.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    expected.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    assert_eq!(listed, expected);

    // A file that reappears (restored from a backup) never overwrites the database.
    let users = FileUserStore::open_or_create(data.path().join("users.json")).unwrap();
    let mut stale = user("alice");
    stale.password_hash = "$argon2id$stale".into();
    users.insert(stale).unwrap();
    let third = store.import_json_dir(data.path()).await.unwrap();
    assert_eq!(third.users, 0);
    assert_eq!(UserStore::get(&store, "alice").unwrap(), Some(user("alice")));
}

async fn reads_fail_closed_after_stale_max_without_a_sync(db: &Db) {
    // No database failure needed to test the rule itself: the clock moves past stale_max
    // faster than any reload (once a minute) refreshes the snapshot.
    let clock = clock();
    let store = db
        .builder(&clock)
        .stale_max(Duration::from_secs(120))
        .resync_every(Duration::from_secs(60))
        .connect()
        .await
        .unwrap();
    store.upsert_user(user("alice")).await.unwrap();
    let (key, record) = generate("ci", ["user"]).unwrap();
    store.insert_key(record).await.unwrap();
    clock.advance(Duration::from_secs(119));
    assert!(UserStore::get(&store, "alice").unwrap().is_some());
    clock.advance(Duration::from_secs(2));
    assert!(UserStore::get(&store, "alice").is_err(), "users fail closed");
    assert!(KeyStore::get(&store, key.key_id()).is_err(), "keys fail closed");
    assert!(
        store.is_revoked("any").await.is_err(),
        "the denylist fails closed"
    );
    // A successful reload makes it fresh again.
    store.sync_now().await.unwrap();
    assert!(KeyStore::get(&store, key.key_id()).unwrap().is_some());
}

#[tokio::test]
async fn bad_settings_are_refused_at_construction() {
    let dir = tempfile::tempdir().unwrap();
    let url = SqlStore::sqlite_url_for(dir.path());
    let err = SqlStore::builder(&url)
        .stale_max(Duration::from_secs(5))
        .resync_every(Duration::from_secs(5))
        .connect()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stale_max"), "{err}");
    // An in-memory database works (sqlx shares it across the pool) and leaves no file behind.
    let memory = SqlStore::builder("sqlite::memory:").connect().await.unwrap();
    memory.upsert_user(user("alice")).await.unwrap();
    assert!(UserStore::get(&memory, "alice").unwrap().is_some());
    let stray = std::fs::read_dir(".")
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().contains("sqlx-in-memory"));
    assert!(!stray, "an in-memory database created a file");
    let err = SqlStore::builder("mysql://x").connect().await.unwrap_err();
    assert!(err.to_string().contains("sqlite:// or postgres://"), "{err}");
    // A password in the URL never shows in errors or Debug.
    let builder = SqlStore::builder("postgres://u:hunter2secret@127.0.0.1:1/db")
        .connect_timeout(Duration::from_millis(300));
    assert!(!format!("{builder:?}").contains("hunter2secret"));
    let err = builder.connect().await.unwrap_err();
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
}

/// SQLite: the CLI and a running server are two processes on one file; the server sees the
/// CLI's revocation promptly (PRAGMA data_version), not at its next periodic reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_another_process_changes_are_seen_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let url = SqlStore::sqlite_url_for(dir.path());
    let slow = |url: String| async move {
        SqlStore::builder(&url)
            .stale_max(Duration::from_secs(120))
            .resync_every(Duration::from_secs(60))
            .connect()
            .await
            .unwrap()
    };
    let server = slow(url.clone()).await;
    let cli = slow(url).await;
    let (key, record) = generate("ci", ["user"]).unwrap();
    cli.insert_key(record).await.unwrap();
    let seen = |revoked: bool| {
        KeyStore::get(&server, key.key_id())
            .unwrap()
            .is_some_and(|k| k.revoked == revoked)
    };
    let start = std::time::Instant::now();
    while !seen(false) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the new key was not seen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cli.revoke_key(key.key_id()).await.unwrap();
    let start = std::time::Instant::now();
    while !seen(true) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the revocation was not seen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A reload reads the database, then installs what it read. A local write landing between the
/// two (database, then memory) must not be overwritten by the older read: a revoked key would
/// be accepted again until the next reload.
async fn a_reload_racing_a_local_write_never_undoes_it(db: &Db) {
    let clock = clock();
    let store = db.store(&clock).await;
    let mut keys = Vec::new();
    for i in 0..40 {
        let (key, record) = generate(&format!("k{i}"), ["user"]).unwrap();
        store.insert_key(record).await.unwrap();
        keys.push(key);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reloader = tokio::spawn({
        let (store, stop) = (store.clone(), stop.clone());
        async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                store.sync_now().await.unwrap();
            }
        }
    });
    for key in &keys {
        store.revoke_key(key.key_id()).await.unwrap();
        assert!(
            KeyStore::get(&store, key.key_id()).unwrap().unwrap().revoked,
            "a concurrent reload brought a revoked key back"
        );
        tokio::task::yield_now().await;
    }
    // And still revoked after the reloads that were in flight have landed.
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    reloader.await.unwrap();
    for key in &keys {
        assert!(KeyStore::get(&store, key.key_id()).unwrap().unwrap().revoked);
    }
}

/// The SQLite file holds password hashes: created private (0600), its WAL too.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::builder(&SqlStore::sqlite_url_for(dir.path()))
        .connect()
        .await
        .unwrap();
    store.upsert_user(user("alice")).await.unwrap();
    let mut seen = 0;
    for name in ["mlguard.db", "mlguard.db-wal", "mlguard.db-shm"] {
        let Ok(meta) = std::fs::metadata(dir.path().join(name)) else {
            continue;
        };
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        seen += 1;
    }
    assert!(seen >= 2, "the database and its WAL exist");
}
