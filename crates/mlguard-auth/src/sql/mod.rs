//! Durable authentication state in SQL (feature `sql`): users, API-key hashes, refresh-token
//! families and the `jti` denylist in SQLite (one instance, embedded) or PostgreSQL (many
//! instances), through one [`SqlStore`].
//!
//! **What it protects against:** instances that disagree. With JSON files per instance a key
//! revoked on one machine stays valid on the others, a refresh token works only where it was
//! issued and its reuse goes unseen elsewhere, and a CLI and a server overwrite each other's
//! edits. Here the database is the one truth, and:
//!
//! - **No database round trip on the hot path.** [`KeyStore::get`], [`UserStore::get`] and
//!   [`RevocationStore::is_revoked`] answer from an in-memory snapshot. A write goes to the
//!   database first, then to this instance's memory; other instances learn of it through
//!   PostgreSQL `LISTEN/NOTIFY` (channel [`NOTIFY_CHANNEL`], a background task that reconnects
//!   by itself) and reload their snapshot, well within a second. A periodic reload
//!   ([`SqlStoreBuilder::resync_every`], default [`DEFAULT_RESYNC_EVERY`]) is the safety net
//!   for a lost notification. With SQLite, a change by another process on the same file (the
//!   CLI) is noticed by polling `PRAGMA data_version` every 250 ms.
//! - **Refresh rotation is one conditional `UPDATE`** (`... SET used = TRUE WHERE token_hash =
//!   $1 AND used = FALSE ... RETURNING ...`): of two instances redeeming one token at the same
//!   moment exactly one wins; the other sees a used token, which is reuse, and revokes the family
//!   in the database, so every instance refuses it. The family's access tokens go on the
//!   denylist in the same transaction.
//! - **Database failure is explicit.** Writes (logins' bookkeeping, key and user management,
//!   refresh grants) fail with [`AuthError::Backend`], which servers answer with 503 and
//!   `Retry-After`. Reads keep serving from memory for at most
//!   [`stale_max`](SqlStoreBuilder::stale_max) (default [`DEFAULT_STALE_MAX`], on the injected
//!   clock) after the last successful reload, then fail closed with [`AuthError::Backend`]
//!   (503). Everything recovers by itself when the database answers again.
//!
//! Migrations are embedded and run by [`SqlStoreBuilder::connect`] (PostgreSQL: under an
//! advisory lock, so instances starting together do not race). Existing `users.json` /
//! `apikeys.json` files ([`FileUserStore`](crate::users::FileUserStore),
//! [`FileKeyStore`](crate::apikey::FileKeyStore)) are imported once by
//! [`SqlStore::import_json_dir`] and renamed to `*.imported`.
//!
//! The store runs its database I/O on a small runtime of its own (one thread, named
//! `mlguard-sql`), so it serves async servers and synchronous callers (a CLI, the blocking
//! [`RefreshTokenStore`] methods) alike; async callers should use the `*_async` refresh methods.
//!
//! ```no_run
//! use mlguard_auth::sql::SqlStore;
//! use mlguard_auth::apikey::{generate, KeyStore};
//! # #[tokio::main] async fn main() -> Result<(), mlguard_auth::AuthError> {
//! let store = SqlStore::builder("sqlite:///var/lib/ml-api/mlguard.db").connect().await?;
//! store.import_json_dir("/var/lib/ml-api".as_ref()).await?;
//! let (key, record) = generate("batch-job", ["user"])?;
//! store.insert_key(record).await?;
//! assert!(store.get(key.key_id())?.is_some()); // from memory
//! # Ok(()) }
//! ```

mod db;
mod import;
mod url;

pub use import::{ImportReport, KEYS_FILE, USERS_FILE};
pub use url::is_supported_url;

use crate::AuthError;
use crate::apikey::{ApiKeyRecord, KeyStore};
use crate::refresh::{DEFAULT_REFRESH_TTL, Recorded, Redemption, RefreshGrant, RefreshTokenStore};
use crate::revocation::{BoxFuture, RevocationStore, deny_until};
use crate::users::{UserRecord, UserStore};
use db::Db;
use mlguard_core::{SharedClock, SystemClock};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// How long reads are served from memory after the last successful reload while the database
/// is unreachable: 30 s. Past it, key, user and denylist lookups fail closed (503).
pub const DEFAULT_STALE_MAX: Duration = Duration::from_secs(30);

/// How often the snapshot is reloaded from the database even without a notification: 5 s
/// (well inside [`DEFAULT_STALE_MAX`], so a healthy instance never turns stale).
pub const DEFAULT_RESYNC_EVERY: Duration = Duration::from_secs(5);

/// How long one database operation may take before it fails (503): 5 s.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a SQLite store checks whether another process changed the file: 250 ms.
const SQLITE_POLL: Duration = Duration::from_millis(250);

/// The PostgreSQL `NOTIFY` channel on which instances announce their writes.
pub const NOTIFY_CHANNEL: &str = "mlguard_auth";

/// Settings of a [`SqlStore`], checked by [`connect`](Self::connect).
#[must_use]
pub struct SqlStoreBuilder {
    url: Zeroizing<String>,
    stale_max: Duration,
    resync_every: Duration,
    refresh_ttl: Duration,
    clock: SharedClock,
    max_connections: u32,
    connect_timeout: Duration,
    query_timeout: Duration,
}

impl fmt::Debug for SqlStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL can hold a password: never shown.
        f.debug_struct("SqlStoreBuilder")
            .field("stale_max", &self.stale_max)
            .field("resync_every", &self.resync_every)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl SqlStoreBuilder {
    /// How long reads are served from memory after the last successful reload (default
    /// [`DEFAULT_STALE_MAX`]).
    pub fn stale_max(mut self, stale_max: Duration) -> Self {
        self.stale_max = stale_max;
        self
    }

    /// How often the snapshot is reloaded without a notification (default
    /// [`DEFAULT_RESYNC_EVERY`]); must be shorter than `stale_max`.
    pub fn resync_every(mut self, every: Duration) -> Self {
        self.resync_every = every;
        self
    }

    /// Refresh-token lifetime (default [`DEFAULT_REFRESH_TTL`]).
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// The clock for expiry and staleness (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Connection pool size (default 8).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// How long a query waits for a connection before failing (default 3 s): what a write
    /// waits before it answers 503 while the database is down.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one database operation (a write, a refresh redemption, a reload) may take
    /// before it fails with [`AuthError::Backend`] (default [`DEFAULT_QUERY_TIMEOUT`]): a
    /// database that stops answering without closing connections cannot hang requests.
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Connects, runs the embedded migrations, loads the snapshot and starts the background
    /// reload (and, for PostgreSQL, the `LISTEN` task).
    ///
    /// # Errors
    /// [`AuthError::Config`] for an unsupported URL or inconsistent settings;
    /// [`AuthError::Backend`] when the database cannot be reached or migrated. The error's
    /// message never contains the URL or its password (a driver error may quote either; both
    /// are replaced), so it can be logged or shown as it is:
    ///
    /// ```
    /// use mlguard_auth::sql::SqlStore;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // Nothing listens on port 1: the connection is refused.
    /// let error = SqlStore::builder("postgres://admin:hunter2@127.0.0.1:1/auth")
    ///     .connect()
    ///     .await
    ///     .unwrap_err();
    /// assert!(!error.to_string().contains("hunter2"));
    /// # }
    /// ```
    pub async fn connect(self) -> Result<SqlStore, AuthError> {
        let url = self.url.clone();
        self.connect_unredacted().await.map_err(|e| redact_url(e, &url))
    }

    async fn connect_unredacted(self) -> Result<SqlStore, AuthError> {
        if self.resync_every.is_zero() || self.resync_every >= self.stale_max {
            return Err(AuthError::Config(format!(
                "the SQL store's resync interval ({:?}) must be non-zero and shorter than stale_max ({:?})",
                self.resync_every, self.stale_max
            )));
        }
        if self.max_connections < 2 {
            return Err(AuthError::Config(
                "the SQL store needs at least 2 connections".into(),
            ));
        }
        let runtime = IoRuntime::start(self.query_timeout)?;
        let settings = db::Settings {
            max_connections: self.max_connections,
            acquire_timeout: self.connect_timeout,
        };
        let url = self.url.clone();
        let db = runtime
            .run_untimed(async move { Db::connect(&url, &settings).await })
            .await?;
        let shared = Arc::new(Shared {
            db,
            state: RwLock::new(Snapshot::default()),
            clock: self.clock,
            stale_max: self.stale_max,
            refresh_ttl: self.refresh_ttl,
            query_timeout: self.query_timeout,
            reload: tokio::sync::Notify::new(),
            gate: tokio::sync::RwLock::new(()),
        });
        let first = shared.clone();
        runtime.run(async move { first.reload().await }).await?;
        runtime
            .handle
            .spawn(shared.clone().reload_loop(self.resync_every));
        if shared.db.is_postgres() {
            runtime.handle.spawn(shared.clone().listen_loop());
        } else {
            runtime.handle.spawn(shared.clone().watch_sqlite());
        }
        Ok(SqlStore {
            shared,
            runtime: Arc::new(runtime),
        })
    }
}

/// Users, API keys, refresh tokens and revoked `jti`s in SQLite or PostgreSQL, read from
/// memory (see the [module docs](self)). Cheap to clone: clones share everything.
///
/// It is a [`UserStore`], a [`KeyStore`], a [`RevocationStore`] and a [`RefreshTokenStore`]:
/// hand `Arc`s of one store to the API-key layer, the bearer layer and the token endpoint.
#[derive(Clone)]
pub struct SqlStore {
    shared: Arc<Shared>,
    runtime: Arc<IoRuntime>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.read();
        f.debug_struct("SqlStore")
            .field("backend", &self.shared.db.kind())
            .field("users", &state.users.len())
            .field("keys", &state.keys.len())
            .field("revoked", &state.revoked.len())
            .field("synced_at", &state.synced_at)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Settings for the database at `url`: `sqlite://PATH` (created when missing) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
    pub fn builder(url: &str) -> SqlStoreBuilder {
        SqlStoreBuilder {
            url: Zeroizing::new(url.to_owned()),
            stale_max: DEFAULT_STALE_MAX,
            resync_every: DEFAULT_RESYNC_EVERY,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            clock: Arc::new(SystemClock),
            max_connections: 8,
            connect_timeout: Duration::from_secs(3),
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        }
    }

    /// The default SQLite URL for a data directory: `sqlite://<dir>/mlguard.db`.
    pub fn sqlite_url_for(data_dir: &std::path::Path) -> String {
        format!("sqlite://{}", data_dir.join("mlguard.db").display())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.shared.db.kind()
    }

    /// When the snapshot was last reloaded successfully (on the store's clock).
    pub fn synced_at(&self) -> SystemTime {
        self.shared.read().synced_at
    }

    /// Reloads the snapshot from the database now.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be read.
    pub async fn sync_now(&self) -> Result<(), AuthError> {
        let shared = self.shared.clone();
        self.runtime.run(async move { shared.reload().await }).await
    }

    /// Adds or replaces a user.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be written.
    pub async fn upsert_user(&self, user: UserRecord) -> Result<(), AuthError> {
        let shared = self.shared.clone();
        self.runtime
            .run(async move {
                let _gate = shared.gate.read().await;
                shared.db.upsert_user(&user).await?;
                shared.apply(|s| {
                    s.users.insert(user.username.clone(), user);
                });
                shared.db.announce().await;
                Ok(())
            })
            .await
    }

    /// Enables or disables a user; `false` when there is no such user.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be written.
    pub async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<bool, AuthError> {
        let shared = self.shared.clone();
        let username = username.to_owned();
        self.runtime
            .run(async move {
                let _gate = shared.gate.read().await;
                let found = shared.db.set_user_disabled(&username, disabled).await?;
                if found {
                    shared.apply(|s| {
                        if let Some(u) = s.users.get_mut(&username) {
                            u.disabled = disabled;
                        }
                    });
                    shared.db.announce().await;
                }
                Ok(found)
            })
            .await
    }

    /// Removes a user; `false` when there is no such user.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be written.
    pub async fn remove_user(&self, username: &str) -> Result<bool, AuthError> {
        let shared = self.shared.clone();
        let username = username.to_owned();
        self.runtime
            .run(async move {
                let _gate = shared.gate.read().await;
                let found = shared.db.remove_user(&username).await?;
                shared.apply(|s| {
                    s.users.remove(&username);
                });
                if found {
                    shared.db.announce().await;
                }
                Ok(found)
            })
            .await
    }

    /// All users, from the database, sorted by name.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be read.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>, AuthError> {
        let shared = self.shared.clone();
        self.runtime.run(async move { shared.db.users().await }).await
    }

    /// Adds or replaces an API key record (it holds only the key's hash).
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be written.
    pub async fn insert_key(&self, record: ApiKeyRecord) -> Result<(), AuthError> {
        let shared = self.shared.clone();
        self.runtime
            .run(async move {
                let _gate = shared.gate.read().await;
                shared.db.upsert_key(&record).await?;
                shared.apply(|s| {
                    s.keys.insert(record.key_id.clone(), record);
                });
                shared.db.announce().await;
                Ok(())
            })
            .await
    }

    /// Marks a key revoked; `false` when there is no such key.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be written.
    pub async fn revoke_key(&self, key_id: &str) -> Result<bool, AuthError> {
        let shared = self.shared.clone();
        let key_id = key_id.to_owned();
        self.runtime
            .run(async move {
                let _gate = shared.gate.read().await;
                let Some(mut record) = shared.db.key(&key_id).await? else {
                    return Ok(false);
                };
                record.revoked = true;
                shared.db.upsert_key(&record).await?;
                shared.apply(|s| {
                    s.keys.insert(key_id, record);
                });
                shared.db.announce().await;
                Ok(true)
            })
            .await
    }

    /// Removes a key; `false` when there is no such key.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be written.
    pub async fn remove_key(&self, key_id: &str) -> Result<bool, AuthError> {
        let shared = self.shared.clone();
        let key_id = key_id.to_owned();
        self.runtime
            .run(async move {
                let _gate = shared.gate.read().await;
                let found = shared.db.remove_key(&key_id).await?;
                shared.apply(|s| {
                    s.keys.remove(&key_id);
                });
                if found {
                    shared.db.announce().await;
                }
                Ok(found)
            })
            .await
    }

    /// All API key records, from the database, sorted by key id.
    ///
    /// # Errors
    /// [`AuthError::Backend`] when the database cannot be read.
    pub async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        let shared = self.shared.clone();
        self.runtime.run(async move { shared.db.keys().await }).await
    }

    /// Imports `users.json` and `apikeys.json` from `dir` (the formats of
    /// [`FileUserStore`](crate::users::FileUserStore) and
    /// [`FileKeyStore`](crate::apikey::FileKeyStore)) and renames each imported file to
    /// `<name>.imported`, so it happens once. Records already in the database are kept (the
    /// database wins); a missing file is skipped.
    ///
    /// # Errors
    /// [`AuthError::Format`] for a file that does not parse (nothing of it is imported and it
    /// is not renamed); [`AuthError::Backend`] / [`AuthError::Io`] when writing fails.
    pub async fn import_json_dir(&self, dir: &std::path::Path) -> Result<ImportReport, AuthError> {
        let shared = self.shared.clone();
        let dir = dir.to_owned();
        let report = self
            .runtime
            .run_untimed(async move { import::import_dir(&shared.db, &dir).await })
            .await?;
        if report.users + report.keys > 0 {
            self.sync_now().await?;
            let shared = self.shared.clone();
            self.runtime
                .run(async move {
                    shared.db.announce().await;
                    Ok(())
                })
                .await?;
        }
        Ok(report)
    }

    /// Runs `f` on the store's I/O runtime and waits for it, blocking this thread: for the
    /// synchronous trait methods. Safe from any thread, inside or outside a tokio runtime.
    fn block<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, AuthError>> + Send + 'static,
    ) -> Result<T, AuthError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let f = self.runtime.run(f);
        self.runtime.handle.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| stopped())?
    }
}

/// `error` with `url`, and the password in it, replaced in its message.
fn redact_url(error: AuthError, url: &str) -> AuthError {
    let clean = |message: String| {
        let mut out = message.replace(url, "<database url>");
        if let Some(userinfo) = mlguard_core::secret::url_userinfo(url)
            && let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
        {
            out = out.replace(password, "<redacted>");
        }
        out
    };
    match error {
        AuthError::Config(m) => AuthError::Config(clean(m)),
        AuthError::Backend(m) => AuthError::Backend(clean(m)),
        AuthError::Format(m) => AuthError::Format(clean(m)),
        AuthError::Io(e) => AuthError::Io(std::io::Error::new(e.kind(), clean(e.to_string()))),
        other => other,
    }
}

fn stopped() -> AuthError {
    AuthError::Backend("the SQL store's I/O thread stopped".into())
}

/// The in-memory copy of the database's hot-path tables.
#[derive(Debug)]
struct Snapshot {
    users: HashMap<String, UserRecord>,
    keys: HashMap<String, ApiKeyRecord>,
    /// `jti` -> deny until (Unix seconds).
    revoked: HashMap<String, i64>,
    synced_at: SystemTime,
}

impl Default for Snapshot {
    fn default() -> Self {
        Self {
            users: HashMap::new(),
            keys: HashMap::new(),
            revoked: HashMap::new(),
            synced_at: SystemTime::UNIX_EPOCH,
        }
    }
}

struct Shared {
    db: Db,
    state: RwLock<Snapshot>,
    clock: SharedClock,
    stale_max: Duration,
    refresh_ttl: Duration,
    query_timeout: Duration,
    reload: tokio::sync::Notify,
    /// Local writes hold it shared across "database, then memory"; a reload holds it
    /// exclusively across "read the database, install in memory". So a reload never installs
    /// a read taken before a local write over that write's memory update (a key revoked here
    /// would otherwise come back to life until the next reload).
    gate: tokio::sync::RwLock<()>,
}

impl Shared {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn apply(&self, edit: impl FnOnce(&mut Snapshot)) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        edit(&mut state);
    }

    /// The snapshot, when it is fresh enough to answer from (fail closed otherwise).
    fn fresh(&self) -> Result<std::sync::RwLockReadGuard<'_, Snapshot>, AuthError> {
        let state = self.read();
        let age = self
            .clock
            .now()
            .duration_since(state.synced_at)
            .unwrap_or(Duration::ZERO);
        if age > self.stale_max {
            return Err(AuthError::Backend(format!(
                "the auth database has not been reachable for {}s (more than stale_max {}s)",
                age.as_secs(),
                self.stale_max.as_secs()
            )));
        }
        Ok(state)
    }

    async fn reload(&self) -> Result<(), AuthError> {
        let _gate = self.gate.write().await;
        let now = unix(self.clock.now());
        let users = self.db.users().await?;
        let keys = self.db.keys().await?;
        let revoked = self.db.revocations(now).await?;
        // Build the maps first: the hot path waits only for the swap.
        let mut users: HashMap<_, _> = users.into_iter().map(|u| (u.username.clone(), u)).collect();
        let mut keys: HashMap<_, _> = keys.into_iter().map(|k| (k.key_id.clone(), k)).collect();
        let mut revoked: HashMap<_, _> = revoked.into_iter().collect();
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut state.users, &mut users);
        std::mem::swap(&mut state.keys, &mut keys);
        std::mem::swap(&mut state.revoked, &mut revoked);
        state.synced_at = self.clock.now();
        drop(state); // the old maps are freed outside the lock
        Ok(())
    }

    async fn reload_loop(self: Arc<Self>, every: Duration) {
        let mut failing = false;
        let mut rounds: u64 = 0;
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.reload.notified() => {}
            }
            let reload = tokio::time::timeout(self.query_timeout, self.reload()).await;
            let reload =
                reload.unwrap_or_else(|_| Err(AuthError::Backend("auth database: reload timed out".into())));
            match reload {
                Ok(()) if failing => {
                    tracing::warn!(backend = self.db.kind(), "auth database reachable again");
                    failing = false;
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    tracing::error!(%error, backend = self.db.kind(), "auth database unreachable: serving from memory until stale_max");
                    failing = true;
                }
                Err(error) => tracing::debug!(%error, "auth database still unreachable"),
            }
            rounds += 1;
            // About hourly at the default interval: drop rows no decision needs any more.
            if rounds.is_multiple_of(720)
                && let Err(error) = self.db.purge(unix(self.clock.now())).await
            {
                tracing::debug!(%error, "purging expired rows failed");
            }
        }
    }

    /// PostgreSQL only: `LISTEN` for other instances' writes and reload on each; reconnects
    /// by itself, and reloads after a reconnect (notifications sent meanwhile are lost).
    async fn listen_loop(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.db.listener().await {
                Ok(mut listener) => {
                    backoff = Duration::from_millis(100);
                    self.reload.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => self.reload.notify_one(),
                            // The connection was lost; the next call reconnects.
                            Ok(None) => self.reload.notify_one(),
                            Err(error) => {
                                tracing::debug!(%error, "auth database LISTEN connection failed");
                                break;
                            }
                        }
                    }
                }
                Err(error) => tracing::debug!(%error, "auth database LISTEN failed"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// SQLite only: another process (the CLI) writing the same file is seen within
    /// [`SQLITE_POLL`] by `PRAGMA data_version`, which changes when another connection commits
    /// (a query on one connection, no file scan), and triggers a reload.
    async fn watch_sqlite(self: Arc<Self>) {
        let mut conn = None;
        let mut seen = None;
        loop {
            tokio::time::sleep(SQLITE_POLL).await;
            if conn.is_none() {
                conn = self.db.sqlite_watch_connection().await.ok();
                seen = None;
            }
            let Some(c) = conn.as_mut() else { continue };
            match db::sqlite_data_version(c).await {
                Ok(version) => {
                    // The first reading after (re)connecting also reloads: whatever changed
                    // before it has no version to differ from.
                    if seen != Some(version) {
                        self.reload.notify_one();
                    }
                    seen = Some(version);
                }
                Err(error) => {
                    tracing::debug!(%error, "PRAGMA data_version failed");
                    conn = None;
                }
            }
        }
    }

    async fn revoke(&self, jti: String, expires_at: SystemTime) -> Result<(), AuthError> {
        let until = unix(deny_until(expires_at));
        if until <= unix(self.clock.now()) {
            return Ok(());
        }
        let _gate = self.gate.read().await;
        self.db.revoke(&[(jti.clone(), until)]).await?;
        self.apply(|s| {
            s.revoked.insert(jti, until);
        });
        self.db.announce().await;
        Ok(())
    }

    async fn issue(
        &self,
        username: String,
        scope: Option<Vec<String>>,
        family: Option<String>,
    ) -> Result<(Zeroizing<String>, String), AuthError> {
        let token = crate::refresh::new_token()?;
        let new_family = family.is_none();
        let family = match family {
            Some(f) => f,
            None => crate::refresh::new_family_id()?,
        };
        let expires_at = unix(self.clock.now() + self.refresh_ttl);
        self.db
            .insert_refresh(&db::NewRefresh {
                hash: token_hash(&token),
                family: &family,
                new_family,
                username: &username,
                scope: scope.as_deref(),
                expires_at,
            })
            .await?;
        Ok((token, family))
    }

    async fn redeem(&self, hash: String) -> Result<Redemption, AuthError> {
        let now = unix(self.clock.now());
        if let Some(grant) = self.db.redeem(&hash, now).await? {
            return Ok(Redemption::Valid(grant));
        }
        // Not redeemable: unknown, expired, revoked family, or already used (reuse).
        let Some(family) = self.db.used_family(&hash, now).await? else {
            return Ok(Redemption::Invalid);
        };
        let _gate = self.gate.read().await;
        let Some(access) = self.db.revoke_family(&family, now).await? else {
            return Ok(Redemption::Invalid); // another instance revoked it first
        };
        tracing::warn!(family, "refresh token reused: revoking its family");
        self.apply(|s| {
            for (jti, exp) in &access {
                s.revoked.insert(jti.clone(), unix(deny_until(*exp)));
            }
        });
        self.db.announce().await;
        Ok(Redemption::Reused {
            access_tokens: access,
        })
    }
}

/// The SHA-256 of a refresh token, hex: what the database stores instead of the token.
fn token_hash(token: &str) -> String {
    hex(&crate::apikey::sha256_bytes(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn from_unix(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

impl UserStore for SqlStore {
    fn get(&self, username: &str) -> Result<Option<UserRecord>, AuthError> {
        Ok(self.shared.fresh()?.users.get(username).cloned())
    }

    fn set_password_hash(&self, username: &str, password_hash: &str) -> Result<(), AuthError> {
        let shared = self.shared.clone();
        let username = username.to_owned();
        let phc = password_hash.to_owned();
        self.block(async move {
            let _gate = shared.gate.read().await;
            if shared.db.set_password_hash(&username, &phc).await? {
                shared.apply(|s| {
                    if let Some(u) = s.users.get_mut(&username) {
                        u.password_hash = phc;
                    }
                });
                shared.db.announce().await;
            }
            Ok(())
        })
    }
}

impl KeyStore for SqlStore {
    fn get(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        Ok(self.shared.fresh()?.keys.get(key_id).cloned())
    }
}

/// [`ApiKeyManager`](crate::apikey::ApiKeyManager) over the database: each call waits for the
/// database (on the store's own I/O thread), then every instance is told of the change.
impl crate::apikey::ManagedKeyStore for SqlStore {
    fn store_record(&self, record: ApiKeyRecord) -> Result<(), AuthError> {
        let store = self.clone();
        self.block(async move { store.insert_key(record).await })
    }

    fn revoke_record(&self, key_id: &str) -> Result<bool, AuthError> {
        let (store, key_id) = (self.clone(), key_id.to_owned());
        self.block(async move { store.revoke_key(&key_id).await })
    }

    fn list_records(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        let store = self.clone();
        self.block(async move { store.list_keys().await })
    }
}

impl RevocationStore for SqlStore {
    fn revoke<'a>(&'a self, jti: &'a str, expires_at: SystemTime) -> BoxFuture<'a, Result<(), AuthError>> {
        let shared = self.shared.clone();
        let jti = jti.to_owned();
        Box::pin(
            self.runtime
                .run(async move { shared.revoke(jti, expires_at).await }),
        )
    }

    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, AuthError>> {
        let now = unix(self.shared.clock.now());
        let revoked = self
            .shared
            .fresh()
            .map(|s| s.revoked.get(jti).is_some_and(|until| *until > now));
        Box::pin(std::future::ready(revoked))
    }
}

impl RefreshTokenStore for SqlStore {
    fn issue(
        &self,
        username: &str,
        scope: Option<&[String]>,
        family: Option<&str>,
    ) -> Result<(Zeroizing<String>, String), AuthError> {
        let shared = self.shared.clone();
        let (username, scope, family) = (
            username.to_owned(),
            scope.map(<[String]>::to_vec),
            family.map(str::to_owned),
        );
        self.block(async move { shared.issue(username, scope, family).await })
    }

    fn peek(&self, token: &str) -> Result<Option<RefreshGrant>, AuthError> {
        let shared = self.shared.clone();
        let hash = token_hash(token);
        self.block(async move { shared.db.peek(&hash, unix(shared.clock.now())).await })
    }

    fn redeem(&self, token: &str) -> Result<Redemption, AuthError> {
        let shared = self.shared.clone();
        let hash = token_hash(token);
        self.block(async move { shared.redeem(hash).await })
    }

    fn record_access_token(
        &self,
        family: &str,
        jti: &str,
        expires_at: SystemTime,
    ) -> Result<Recorded, AuthError> {
        let shared = self.shared.clone();
        let (family, jti) = (family.to_owned(), jti.to_owned());
        self.block(async move { shared.db.record_access(&family, &jti, unix(expires_at)).await })
    }

    fn issue_async<'a>(
        &'a self,
        username: &'a str,
        scope: Option<&'a [String]>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(Zeroizing<String>, String), AuthError>> {
        let shared = self.shared.clone();
        let (username, scope, family) = (
            username.to_owned(),
            scope.map(<[String]>::to_vec),
            family.map(str::to_owned),
        );
        Box::pin(
            self.runtime
                .run(async move { shared.issue(username, scope, family).await }),
        )
    }

    fn peek_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<RefreshGrant>, AuthError>> {
        let shared = self.shared.clone();
        let hash = token_hash(token);
        Box::pin(
            self.runtime
                .run(async move { shared.db.peek(&hash, unix(shared.clock.now())).await }),
        )
    }

    fn redeem_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Redemption, AuthError>> {
        let shared = self.shared.clone();
        let hash = token_hash(token);
        Box::pin(self.runtime.run(async move { shared.redeem(hash).await }))
    }

    fn record_access_token_async<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<Recorded, AuthError>> {
        let shared = self.shared.clone();
        let (family, jti) = (family.to_owned(), jti.to_owned());
        Box::pin(
            self.runtime
                .run(async move { shared.db.record_access(&family, &jti, unix(expires_at)).await }),
        )
    }
}

/// A current-thread tokio runtime on its own thread, running the store's database I/O and
/// background tasks. Stops (and with it every task) when the last [`SqlStore`] clone drops.
struct IoRuntime {
    handle: tokio::runtime::Handle,
    timeout: Duration,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl IoRuntime {
    fn start(timeout: Duration) -> Result<Self, AuthError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(AuthError::Io)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("mlguard-sql".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                runtime.shutdown_background();
            })
            .map_err(AuthError::Io)?;
        Ok(Self {
            handle,
            timeout,
            _stop: stop,
        })
    }

    /// Runs `f` on this runtime, for at most the query timeout (a database that stops
    /// answering without closing its connections must not hang a request: it gets
    /// [`AuthError::Backend`], 503); the returned future can be awaited on any runtime.
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, AuthError>> + Send + 'static,
    ) -> impl Future<Output = Result<T, AuthError>> + Send + 'static {
        let timeout = self.timeout;
        self.run_untimed(async move {
            tokio::time::timeout(timeout, f)
                .await
                .map_err(|_| AuthError::Backend(format!("auth database: no answer within {timeout:?}")))?
        })
    }

    /// [`run`](Self::run) without the timeout (migrations, imports: long, and run at start).
    fn run_untimed<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, AuthError>> + Send + 'static,
    ) -> impl Future<Output = Result<T, AuthError>> + Send + 'static {
        let task = self.handle.spawn(f);
        async move { task.await.map_err(|_| stopped())? }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_removes_the_url_and_its_password() {
        let url = "postgres://admin:s3cr%74@db.internal:5432/auth";
        let quoted = |e: AuthError| e.to_string();
        let e = redact_url(AuthError::Config(format!("cannot parse {url}")), url);
        assert_eq!(quoted(e), "invalid configuration: cannot parse <database url>");
        let e = redact_url(AuthError::Backend("password s3cr%74 refused".into()), url);
        assert_eq!(quoted(e), "backend error: password <redacted> refused");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, format!("{url} not found"));
        let e = redact_url(AuthError::Io(io), url);
        assert_eq!(quoted(e), "store I/O error: <database url> not found");
        // No password in the URL: nothing else is touched.
        let e = redact_url(
            AuthError::Backend("admin@db.internal: refused".into()),
            "postgres://admin@db.internal/auth",
        );
        assert_eq!(quoted(e), "backend error: admin@db.internal: refused");
        // An `@` in the query is not userinfo: "b" is not taken for a password and replaced.
        let e = redact_url(
            AuthError::Backend("b: refused".into()),
            "postgres://db.internal/auth?options=a:b@c",
        );
        assert_eq!(quoted(e), "backend error: b: refused");
    }

    /// Pins the values docs/defaults.md states.
    #[test]
    fn defaults_are_what_the_docs_say() {
        assert_eq!(DEFAULT_STALE_MAX, Duration::from_secs(30));
        assert_eq!(DEFAULT_RESYNC_EVERY, Duration::from_secs(5));
        assert_eq!(DEFAULT_QUERY_TIMEOUT, Duration::from_secs(5));
        assert_eq!(SQLITE_POLL, Duration::from_millis(250));
        let b = SqlStore::builder("sqlite://x");
        assert_eq!(
            (b.max_connections, b.connect_timeout),
            (8, Duration::from_secs(3))
        );
        assert_eq!(b.refresh_ttl, DEFAULT_REFRESH_TTL);
    }

    #[test]
    fn token_hashes_are_sha256_hex() {
        let h = token_hash("mrt_x");
        assert_eq!(h.len(), 64);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(h, token_hash("mrt_y"));
    }
}
