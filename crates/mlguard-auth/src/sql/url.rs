//! Which database URLs [`SqlStore`](super::SqlStore) connects to: one rule for the store and
//! for a service that checks its configuration at start-up, before it connects.

/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` and its `postgresql://` spelling.
const POSTGRES: [&str; 2] = ["postgres://", "postgresql://"];
/// `sqlite://PATH` (and sqlx's other `sqlite:` forms, e.g. `sqlite::memory:`).
const SQLITE: &str = "sqlite:";

/// The backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Postgres,
    Sqlite,
}

pub(super) fn backend(url: &str) -> Option<Backend> {
    if POSTGRES.iter().any(|scheme| url.starts_with(scheme)) {
        Some(Backend::Postgres)
    } else if url.starts_with(SQLITE) {
        Some(Backend::Sqlite)
    } else {
        None
    }
}

/// Whether [`SqlStore::builder`](super::SqlStore::builder) can connect to a database of this
/// URL's kind: it starts with `sqlite:`, `postgres://` or `postgresql://`. Checks the scheme
/// only (the rest is checked when connecting), so a service can refuse a mistyped setting at
/// start-up, with its own message, and never quote the URL (it may hold a password).
///
/// ```
/// use mlguard_auth::sql::is_supported_url;
/// assert!(is_supported_url("sqlite:///var/lib/svc/auth.db"));
/// assert!(is_supported_url("postgresql://svc:pw@db/auth"));
/// assert!(!is_supported_url("mysql://db/auth"));
/// assert!(!is_supported_url("postgres:/db")); // one slash: not a postgres URL
/// ```
pub fn is_supported_url(url: &str) -> bool {
    backend(url).is_some()
}
