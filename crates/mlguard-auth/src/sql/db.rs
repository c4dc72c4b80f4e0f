//! The two backends behind one set of queries. The SQL is written once: both SQLite and
//! PostgreSQL take `$N` parameters, `RETURNING`, `ON CONFLICT` and `TRUE`/`FALSE`.

use super::{NOTIFY_CHANNEL, from_unix};
use crate::AuthError;
use crate::apikey::ApiKeyRecord;
use crate::refresh::{Recorded, RefreshGrant};
use crate::users::UserRecord;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

/// The embedded migrations, applied in order; a version is never edited once released.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("migrations/0001_auth_state.sql"))];

/// A PostgreSQL advisory-lock key: instances starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x6d6c_6775_6172_6431; // "mlguard1"

const SCHEMA_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS mlguard_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";

// `Executor::execute` with a `&str` (several statements, simple protocol), not `raw_sql`: a
// `raw_sql(..).execute(..)` future cannot be proven `Send` for every lifetime, which the
// spawned connect task needs.
async fn migrate_pg(conn: &mut sqlx::PgConnection, now: i64) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(&mut *conn, SCHEMA_TABLE).await?;
    let have: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM mlguard_schema")
        .fetch_one(&mut *conn)
        .await?;
    let have = have.unwrap_or(0);
    for &(version, sql) in MIGRATIONS {
        if version <= have {
            continue;
        }
        sqlx::Executor::execute(&mut *conn, sql).await?;
        sqlx::query("INSERT INTO mlguard_schema (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// SQLite's `PRAGMA data_version`: on one connection, it changes whenever another connection
/// (this pool's or another process's) has committed.
pub(super) async fn sqlite_data_version(conn: &mut sqlx::SqliteConnection) -> Result<i64, AuthError> {
    sqlx::query_scalar::<_, i64>("PRAGMA data_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)
}

async fn migrate_lite(conn: &mut sqlx::SqliteConnection, now: i64) -> Result<(), sqlx::Error> {
    sqlx::Executor::execute(&mut *conn, SCHEMA_TABLE).await?;
    let have: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM mlguard_schema")
        .fetch_one(&mut *conn)
        .await?;
    let have = have.unwrap_or(0);
    for &(version, sql) in MIGRATIONS {
        if version <= have {
            continue;
        }
        sqlx::Executor::execute(&mut *conn, sql).await?;
        sqlx::query("INSERT INTO mlguard_schema (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) struct Settings {
    pub(super) max_connections: u32,
    pub(super) acquire_timeout: Duration,
}

pub(super) enum Db {
    Pg(PgPool),
    Lite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the backend's pool (the same code, typed per backend).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Pg($pool) => $body,
            Db::Lite($pool) => $body,
        }
    };
}

fn backend(error: sqlx::Error) -> AuthError {
    AuthError::Backend(format!("auth database: {error}"))
}

fn format(what: &str, error: serde_json::Error) -> AuthError {
    AuthError::Format(format!("auth database: {what}: {error}"))
}

pub(super) struct NewRefresh<'a> {
    pub(super) hash: String,
    pub(super) family: &'a str,
    pub(super) new_family: bool,
    pub(super) username: &'a str,
    pub(super) scope: Option<&'a [String]>,
    pub(super) expires_at: i64,
}

impl Db {
    pub(super) async fn connect(url: &str, settings: &Settings) -> Result<Self, AuthError> {
        let kind = super::url::backend(url);
        let db = if kind == Some(super::url::Backend::Postgres) {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| AuthError::Config(format!("MLGUARD_DATABASE_URL: {e}")))?
                .application_name("mlguard");
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(backend)?;
            Self::Pg(pool)
        } else if kind == Some(super::url::Backend::Sqlite) {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| AuthError::Config(format!("MLGUARD_DATABASE_URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            // (An in-memory database, `sqlite::memory:`, has no file: sqlx names it
            // `file:sqlx-in-memory-N` with `mode=memory`.)
            if !url.contains(":memory:") && !url.contains("mode=memory") {
                create_private(options.get_filename())?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(backend)?;
            Self::Lite(pool)
        } else {
            return Err(AuthError::Config(
                "MLGUARD_DATABASE_URL must start with sqlite:// or postgres://".into(),
            ));
        };
        db.migrate().await?;
        Ok(db)
    }

    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Pg(_) => "postgres",
            Self::Lite(_) => "sqlite",
        }
    }

    pub(super) fn is_postgres(&self) -> bool {
        matches!(self, Self::Pg(_))
    }

    async fn migrate(&self) -> Result<(), AuthError> {
        let now = super::unix(SystemTime::now());
        match self {
            Self::Pg(pool) => {
                let mut tx = pool.begin().await.map_err(backend)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                migrate_pg(&mut tx, now).await.map_err(backend)?;
                tx.commit().await.map_err(backend)?;
            }
            Self::Lite(pool) => {
                let mut conn = pool.acquire().await.map_err(backend)?;
                // IMMEDIATE: the write lock up front, so two processes (a CLI and a server)
                // starting together migrate one after the other.
                sqlx::Executor::execute(&mut *conn, "BEGIN IMMEDIATE")
                    .await
                    .map_err(backend)?;
                let result = migrate_lite(&mut conn, now).await;
                let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
                let ended = sqlx::Executor::execute(&mut *conn, end).await;
                result.map_err(backend)?;
                ended.map_err(backend)?;
            }
        }
        Ok(())
    }

    /// Tells the other instances (PostgreSQL `NOTIFY`) that something changed. Best effort:
    /// a lost notification is caught by their periodic reload.
    pub(super) async fn announce(&self) {
        if let Self::Pg(pool) = self
            && let Err(error) = sqlx::query("SELECT pg_notify($1, 'changed')")
                .bind(NOTIFY_CHANNEL)
                .execute(pool)
                .await
        {
            tracing::debug!(%error, "NOTIFY failed; other instances catch up at their next reload");
        }
    }

    /// A connection of its own (taken out of the pool) for watching `PRAGMA data_version`.
    pub(super) async fn sqlite_watch_connection(&self) -> Result<sqlx::SqliteConnection, AuthError> {
        let Self::Lite(pool) = self else {
            return Err(AuthError::Config("data_version needs SQLite".into()));
        };
        Ok(pool.acquire().await.map_err(backend)?.detach())
    }

    pub(super) async fn listener(&self) -> Result<PgListener, AuthError> {
        let Self::Pg(pool) = self else {
            return Err(AuthError::Config("LISTEN needs PostgreSQL".into()));
        };
        let mut listener = PgListener::connect_with(pool).await.map_err(backend)?;
        listener.listen(NOTIFY_CHANNEL).await.map_err(backend)?;
        Ok(listener)
    }

    pub(super) async fn users(&self) -> Result<Vec<UserRecord>, AuthError> {
        let rows = on_pool!(self, pool => {
            sqlx::query("SELECT username, password_hash, roles, disabled FROM mlguard_users ORDER BY username")
                .fetch_all(pool)
                .await
                .map_err(backend)?
                .into_iter()
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get::<String, _>(0)?,
                        r.try_get::<String, _>(1)?,
                        r.try_get::<String, _>(2)?,
                        r.try_get::<bool, _>(3)?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?
        });
        rows.into_iter()
            .map(|(username, password_hash, roles, disabled)| {
                Ok(UserRecord {
                    roles: serde_json::from_str(&roles).map_err(|e| format("user roles", e))?,
                    username,
                    password_hash,
                    disabled,
                })
            })
            .collect()
    }

    pub(super) async fn upsert_user(&self, user: &UserRecord) -> Result<(), AuthError> {
        let roles = serde_json::to_string(&user.roles).map_err(|e| format("user roles", e))?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO mlguard_users (username, password_hash, roles, disabled) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, \
                 roles = excluded.roles, disabled = excluded.disabled",
            )
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(&roles)
            .bind(user.disabled)
            .execute(pool)
            .await
            .map_err(backend)?;
        });
        Ok(())
    }

    /// Inserts users that are not in the database yet; returns how many were new.
    pub(super) async fn insert_new_users(&self, users: &[UserRecord]) -> Result<usize, AuthError> {
        let mut new = 0;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(backend)?;
            for user in users {
                let roles = serde_json::to_string(&user.roles).map_err(|e| format("user roles", e))?;
                new += sqlx::query(
                    "INSERT INTO mlguard_users (username, password_hash, roles, disabled) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (username) DO NOTHING",
                )
                .bind(&user.username)
                .bind(&user.password_hash)
                .bind(&roles)
                .bind(user.disabled)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            }
            tx.commit().await.map_err(backend)?;
        });
        Ok(usize::try_from(new).unwrap_or(usize::MAX))
    }

    pub(super) async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<bool, AuthError> {
        let n = on_pool!(self, pool => {
            sqlx::query("UPDATE mlguard_users SET disabled = $2 WHERE username = $1")
                .bind(username)
                .bind(disabled)
                .execute(pool)
                .await
                .map_err(backend)?
                .rows_affected()
        });
        Ok(n > 0)
    }

    pub(super) async fn set_password_hash(&self, username: &str, phc: &str) -> Result<bool, AuthError> {
        let n = on_pool!(self, pool => {
            sqlx::query("UPDATE mlguard_users SET password_hash = $2 WHERE username = $1")
                .bind(username)
                .bind(phc)
                .execute(pool)
                .await
                .map_err(backend)?
                .rows_affected()
        });
        Ok(n > 0)
    }

    pub(super) async fn remove_user(&self, username: &str) -> Result<bool, AuthError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM mlguard_users WHERE username = $1")
                .bind(username)
                .execute(pool)
                .await
                .map_err(backend)?
                .rows_affected()
        });
        Ok(n > 0)
    }

    pub(super) async fn keys(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        let rows: Vec<String> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT record FROM mlguard_api_keys ORDER BY key_id")
                .fetch_all(pool)
                .await
                .map_err(backend)?
        });
        rows.iter()
            .map(|r| serde_json::from_str(r).map_err(|e| format("API key record", e)))
            .collect()
    }

    pub(super) async fn key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        let row: Option<String> = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT record FROM mlguard_api_keys WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(pool)
                .await
                .map_err(backend)?
        });
        row.map(|r| serde_json::from_str(&r).map_err(|e| format("API key record", e)))
            .transpose()
    }

    pub(super) async fn upsert_key(&self, record: &ApiKeyRecord) -> Result<(), AuthError> {
        let json = serde_json::to_string(record).map_err(|e| format("API key record", e))?;
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO mlguard_api_keys (key_id, record) VALUES ($1, $2) \
                 ON CONFLICT (key_id) DO UPDATE SET record = excluded.record",
            )
            .bind(&record.key_id)
            .bind(&json)
            .execute(pool)
            .await
            .map_err(backend)?;
        });
        Ok(())
    }

    /// Inserts key records that are not in the database yet; returns how many were new.
    pub(super) async fn insert_new_keys(&self, records: &[ApiKeyRecord]) -> Result<usize, AuthError> {
        let mut new = 0;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(backend)?;
            for record in records {
                let json = serde_json::to_string(record).map_err(|e| format("API key record", e))?;
                new += sqlx::query(
                    "INSERT INTO mlguard_api_keys (key_id, record) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING",
                )
                .bind(&record.key_id)
                .bind(&json)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            }
            tx.commit().await.map_err(backend)?;
        });
        Ok(usize::try_from(new).unwrap_or(usize::MAX))
    }

    pub(super) async fn remove_key(&self, key_id: &str) -> Result<bool, AuthError> {
        let n = on_pool!(self, pool => {
            sqlx::query("DELETE FROM mlguard_api_keys WHERE key_id = $1")
                .bind(key_id)
                .execute(pool)
                .await
                .map_err(backend)?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Live denylist entries: (`jti`, deny until).
    pub(super) async fn revocations(&self, now: i64) -> Result<Vec<(String, i64)>, AuthError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as::<_, (String, i64)>("SELECT jti, deny_until FROM mlguard_revocations WHERE deny_until > $1")
                .bind(now)
                .fetch_all(pool)
                .await
                .map_err(backend)?
        }))
    }

    /// Denies each `jti` until its time (an existing longer entry is kept).
    pub(super) async fn revoke(&self, entries: &[(String, i64)]) -> Result<(), AuthError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(backend)?;
            for (jti, until) in entries {
                sqlx::query(UPSERT_REVOCATION)
                    .bind(jti)
                    .bind(until)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
            }
            tx.commit().await.map_err(backend)?;
        });
        Ok(())
    }

    pub(super) async fn insert_refresh(&self, new: &NewRefresh<'_>) -> Result<(), AuthError> {
        let scope = new
            .scope
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| format("refresh scope", e))?;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(backend)?;
            if new.new_family {
                sqlx::query(
                    "INSERT INTO mlguard_refresh_families (family, username, revoked, expires_at) VALUES ($1, $2, FALSE, $3)",
                )
                .bind(new.family)
                .bind(new.username)
                .bind(new.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            } else {
                sqlx::query(
                    "UPDATE mlguard_refresh_families SET expires_at = $2 WHERE family = $1 AND expires_at < $2",
                )
                .bind(new.family)
                .bind(new.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
            sqlx::query(
                "INSERT INTO mlguard_refresh_tokens (token_hash, family, username, scope, expires_at, used) \
                 VALUES ($1, $2, $3, $4, $5, FALSE)",
            )
            .bind(&new.hash)
            .bind(new.family)
            .bind(new.username)
            .bind(scope.as_deref())
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
        });
        Ok(())
    }

    pub(super) async fn peek(&self, hash: &str, now: i64) -> Result<Option<RefreshGrant>, AuthError> {
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, (String, Option<String>, String)>(
                "SELECT t.username, t.scope, t.family FROM mlguard_refresh_tokens t \
                 JOIN mlguard_refresh_families f ON f.family = t.family \
                 WHERE t.token_hash = $1 AND t.used = FALSE AND t.expires_at > $2 AND f.revoked = FALSE",
            )
            .bind(hash)
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(backend)?
        });
        row.map(grant).transpose()
    }

    /// The one decision: marks the token used when it is redeemable, in one conditional
    /// `UPDATE`. Of concurrent callers, exactly one gets the grant.
    pub(super) async fn redeem(&self, hash: &str, now: i64) -> Result<Option<RefreshGrant>, AuthError> {
        let row = on_pool!(self, pool => {
            sqlx::query_as::<_, (String, Option<String>, String)>(
                "UPDATE mlguard_refresh_tokens SET used = TRUE \
                 WHERE token_hash = $1 AND used = FALSE AND expires_at > $2 \
                 AND family IN (SELECT family FROM mlguard_refresh_families WHERE revoked = FALSE) \
                 RETURNING username, scope, family",
            )
            .bind(hash)
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(backend)?
        });
        row.map(grant).transpose()
    }

    /// The family of a token that was already used, unexpired, in a family not yet revoked:
    /// a reuse.
    pub(super) async fn used_family(&self, hash: &str, now: i64) -> Result<Option<String>, AuthError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT t.family FROM mlguard_refresh_tokens t \
                 JOIN mlguard_refresh_families f ON f.family = t.family \
                 WHERE t.token_hash = $1 AND t.used = TRUE AND t.expires_at > $2 AND f.revoked = FALSE",
            )
            .bind(hash)
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(backend)?
        }))
    }

    /// Revokes `family` and denies its access tokens, in one transaction; `None` when it was
    /// already revoked (by a concurrent reuse). The `UPDATE` comes first: it takes the
    /// family's row lock (PostgreSQL) or the write lock (SQLite) that
    /// [`record_access`](Self::record_access) also takes, so an access token is either in the
    /// list returned here or refused there.
    pub(super) async fn revoke_family(
        &self,
        family: &str,
        now: i64,
    ) -> Result<Option<Vec<(String, SystemTime)>>, AuthError> {
        let access = on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(backend)?;
            let changed = sqlx::query(
                "UPDATE mlguard_refresh_families SET revoked = TRUE WHERE family = $1 AND revoked = FALSE",
            )
            .bind(family)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
            if changed == 0 {
                return Ok(None);
            }
            let access = sqlx::query_as::<_, (String, i64)>(
                "SELECT jti, expires_at FROM mlguard_refresh_access WHERE family = $1",
            )
            .bind(family)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
            for (jti, exp) in &access {
                let until = super::unix(crate::revocation::deny_until(from_unix(*exp)));
                if until > now {
                    sqlx::query(UPSERT_REVOCATION)
                        .bind(jti)
                        .bind(until)
                        .execute(&mut *tx)
                        .await
                        .map_err(backend)?;
                }
            }
            tx.commit().await.map_err(backend)?;
            access
        });
        Ok(Some(
            access
                .into_iter()
                .map(|(jti, exp)| (jti, from_unix(exp)))
                .collect(),
        ))
    }

    pub(super) async fn record_access(
        &self,
        family: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<Recorded, AuthError> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(backend)?;
            // A no-op UPDATE for its lock (see revoke_family), returning the family's state.
            let revoked = sqlx::query_scalar::<_, bool>(
                "UPDATE mlguard_refresh_families SET revoked = revoked WHERE family = $1 RETURNING revoked",
            )
            .bind(family)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
            if revoked != Some(false) {
                return Ok(Recorded::FamilyRevoked);
            }
            sqlx::query(
                "INSERT INTO mlguard_refresh_access (family, jti, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (family, jti) DO NOTHING",
            )
            .bind(family)
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Recorded::Recorded
        }))
    }

    /// Deletes what can no longer matter: expired denylist entries and refresh families whose
    /// tokens have all expired (their tokens and access lists go with them).
    pub(super) async fn purge(&self, now: i64) -> Result<(), AuthError> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM mlguard_revocations WHERE deny_until <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map_err(backend)?;
            sqlx::query("DELETE FROM mlguard_refresh_families WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await
                .map_err(backend)?;
        });
        Ok(())
    }
}

/// Creates the SQLite file with mode 0600 when it does not exist yet: it holds password hashes.
/// SQLite gives its `-wal` and `-shm` files the database file's permissions.
fn create_private(path: &std::path::Path) -> Result<(), AuthError> {
    let name = path.as_os_str();
    if name.is_empty() || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(AuthError::Io(e)),
    }
}

const UPSERT_REVOCATION: &str = "INSERT INTO mlguard_revocations (jti, deny_until) VALUES ($1, $2) \
     ON CONFLICT (jti) DO UPDATE SET deny_until = excluded.deny_until \
     WHERE excluded.deny_until > mlguard_revocations.deny_until";

fn grant((username, scope, family): (String, Option<String>, String)) -> Result<RefreshGrant, AuthError> {
    Ok(RefreshGrant {
        username,
        scope: scope
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| format("refresh scope", e))?,
        family,
    })
}
