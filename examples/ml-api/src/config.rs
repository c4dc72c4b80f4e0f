//! Configuration: defaults < TOML file (`--config`) < `MLGUARD_*` environment < command-line flags.
//!
//! [`Settings`] is one layer of raw values (every field optional); it is both the clap argument
//! group and the TOML file schema, so a setting has the same name everywhere (`listen` in the file,
//! `MLGUARD_LISTEN` in the environment, `--listen` on the command line). [`Config::resolve`]
//! merges the layers and validates everything once, at start-up, into a typed [`Config`].
//!
//! Secrets (`jwt_secret`, `fernet_key`, `redis_url`) have no flag (command lines are visible to
//! every local user in `ps`): they come from the environment or the file, and else from the data
//! directory, where the first run generates them. Every setting and its default is listed in
//! `docs/configuration.md`.

pub use mlguard_core::Secret;
pub use mlguard_core::duration::{DurationError, parse_duration};

use mlguard_core::TrustedProxies;
use serde::Deserialize;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default values, one constant per setting (see `docs/configuration.md` for the reasons).
pub mod defaults {
    use std::time::Duration;

    /// `data_dir`: relative to the working directory.
    pub const DATA_DIR: &str = "./mlguard-data";
    /// `listen`: loopback only; expose it deliberately.
    pub const LISTEN: &str = "127.0.0.1:8443";
    /// `token_rate`: logins per client IP (and per username), as in the tutorial.
    pub const TOKEN_RATE: &str = "5/minute";
    /// `predict_rate`: predictions per principal, as in the tutorial.
    pub const PREDICT_RATE: &str = "10/minute";
    /// `crypto_rate`: `/encrypt` and `/decrypt` requests per principal (one quota for both).
    pub const CRYPTO_RATE: &str = "60/minute";
    /// `login_hash_rate` unset: mlguard-auth's default work budget for Argon2
    /// (`HashBudget::for_cost`: about 12 % of the cores; 9 a second, burst 18, on 2 cores).
    pub const LOGIN_HASH_RATE: Option<&str> = None;
    /// `max_in_flight_per_principal`, unless set: this fraction (1/8) of `concurrency_limit`,
    /// at least 1, so one principal holds at most an eighth of the shared slots.
    pub const IN_FLIGHT_PER_PRINCIPAL_DIVISOR: usize = 8;
    /// `max_in_flight_per_ip`, unless set: this fraction (1/4) of `concurrency_limit`, at
    /// least 1, so one address (whatever principals it uses) holds at most a quarter.
    pub const IN_FLIGHT_PER_IP_DIVISOR: usize = 4;
    /// `body_read_timeout`: time for a request body to arrive (well below `request_timeout`;
    /// when `request_timeout` is not above it, half of `request_timeout`).
    pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);
    /// `max_batch`: rows in one `POST /predict/batch`.
    pub const MAX_BATCH: usize = 100;
    /// `probability_decimals`: decimals of the probabilities shown to principals with
    /// `model:probabilities`.
    pub const PROBABILITY_DECIMALS: u32 = 2;
    /// `predict_budget`: prediction rows per principal over a long window (batch rows count).
    pub const PREDICT_BUDGET: &str = "5000/day";
    /// `ood_action`: what to do with an input outside the training envelope.
    pub const OOD_ACTION: &str = "log";
    /// `extraction_action`: what to do when a principal's queries look like model extraction.
    pub const EXTRACTION_ACTION: &str = "degrade";
    /// `extraction_cooldown`: how long `degrade` and `block` last after an alarm.
    pub const EXTRACTION_COOLDOWN: Duration = Duration::from_secs(3600);
    /// `body_limit`: bytes of request body.
    pub const BODY_LIMIT: usize = 64 * 1024;
    /// `request_timeout`: the whole request, handler included.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// `header_read_timeout`: time to send the request head (slow-loris defence).
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// `tls_handshake_timeout`.
    pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// `max_connections`: open connections; more wait in the kernel's accept queue.
    pub const MAX_CONNECTIONS: usize = 1024;
    /// `max_connections_per_ip` when unset: [`max_connections_per_ip`]`(max_connections)`.
    pub const MAX_CONNECTIONS_PER_IP: usize = mlguard_http::server::DEFAULT_MAX_CONNECTIONS_PER_IP;
    /// The resolved `max_connections_per_ip` when it is not set: mlguard-http's rule, a quarter
    /// of `max_connections`, at least 1 and at most [`MAX_CONNECTIONS_PER_IP`] (32 with the
    /// default 1024).
    pub use mlguard_http::server::default_max_connections_per_ip as max_connections_per_ip;
    /// `concurrency_limit`: requests in flight; more are shed with 503.
    pub const CONCURRENCY_LIMIT: usize = 256;
    /// `access_token_ttl`.
    pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
    /// `refresh_token_ttl`.
    pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
    /// `shutdown_grace`: how long in-flight requests may finish after SIGTERM / Ctrl-C.
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
    /// Minimum length of `jwt_secret`, in bytes (HS256 wants at least its output size).
    pub const MIN_JWT_SECRET_LEN: usize = 32;
    /// `jwt_roles_claim`: where an identity provider's tokens carry the roles (JSON Pointer).
    pub const JWT_ROLES_CLAIM: &str = mlguard_auth::jwt::DEFAULT_ROLES_CLAIM;
    /// `jwks_refresh_interval`: the least time between two fetches of the provider's JWKS (an
    /// unknown `kid` fetches at most this often).
    pub const JWKS_REFRESH_INTERVAL: Duration = mlguard_auth::jwt::jwks::DEFAULT_MIN_REFRESH;
    // --- database (issue 19) ---
    /// `database_url` unset: this file in the data directory (`sqlite://<data dir>/mlguard.db`,
    /// mlguard-auth's `SqlStore::sqlite_url_for`).
    pub const DATABASE_FILE: &str = "mlguard.db";
    /// `db_stale_max`: how long API-key and bearer checks serve from memory after the last
    /// successful sync with an unreachable database, before failing closed (503).
    pub const DB_STALE_MAX: Duration = Duration::from_secs(30);
}

/// One layer of raw settings: the command-line flags (with their `MLGUARD_*` variables) and the
/// TOML file have this shape. Every field is optional; [`Config::resolve`] fills the gaps.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Data directory: secrets, certificate, model, users and API keys.
    #[arg(long, env = "MLGUARD_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "MLGUARD_LISTEN", global = true, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM); unset: the generated self-signed certificate.
    #[arg(long, env = "MLGUARD_TLS_CERT", global = true, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); unset: the generated key.
    #[arg(long, env = "MLGUARD_TLS_KEY", global = true, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (only behind a TLS-terminating proxy).
    #[arg(long, env = "MLGUARD_NO_TLS", global = true, num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new(), value_name = "BOOL")]
    pub no_tls: Option<bool>,
    /// HS256 signing secret, at least 32 bytes (environment or file only).
    #[arg(skip)]
    pub jwt_secret: Option<Secret>,
    /// Fernet key as Python's `Fernet.generate_key()` prints it (environment or file only).
    #[arg(skip)]
    pub fernet_key: Option<Secret>,
    /// Redis URL to share rate limits and revocations (environment or file only).
    #[arg(skip)]
    pub redis_url: Option<Secret>,
    /// Quota of `POST /token` per client IP and per username, e.g. `5/minute`.
    #[arg(long, env = "MLGUARD_TOKEN_RATE", global = true, value_name = "QUOTA")]
    pub token_rate: Option<String>,
    /// Quota of predictions per principal, e.g. `10/minute`.
    #[arg(long, env = "MLGUARD_PREDICT_RATE", global = true, value_name = "QUOTA")]
    pub predict_rate: Option<String>,
    /// Quota of `/encrypt` and `/decrypt` requests per principal, e.g. `60/minute`.
    #[arg(long, env = "MLGUARD_CRYPTO_RATE", global = true, value_name = "QUOTA")]
    pub crypto_rate: Option<String>,
    /// Argon2 password checks (logins) the whole server may start, e.g. `8/second` (default:
    /// about 12 % of the cores); more are answered 503 with `Retry-After`.
    #[arg(long, env = "MLGUARD_LOGIN_HASH_RATE", global = true, value_name = "QUOTA")]
    pub login_hash_rate: Option<String>,
    /// Maximum requests of one principal in flight (default: concurrency_limit / 8).
    #[arg(
        long,
        env = "MLGUARD_MAX_IN_FLIGHT_PER_PRINCIPAL",
        global = true,
        value_name = "N"
    )]
    pub max_in_flight_per_principal: Option<usize>,
    /// Maximum requests from one client address in flight (default: concurrency_limit / 4).
    #[arg(long, env = "MLGUARD_MAX_IN_FLIGHT_PER_IP", global = true, value_name = "N")]
    pub max_in_flight_per_ip: Option<usize>,
    /// Time limit for a request body to arrive, below request_timeout (e.g. `5s`).
    #[arg(
        long,
        env = "MLGUARD_BODY_READ_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub body_read_timeout: Option<String>,
    /// Comma-separated CIDRs whose `X-Forwarded-For` is believed.
    #[arg(long, env = "MLGUARD_TRUSTED_PROXIES", global = true, value_name = "CIDRS")]
    pub trusted_proxies: Option<String>,
    /// Maximum rows in one batch prediction.
    #[arg(long, env = "MLGUARD_MAX_BATCH", global = true, value_name = "ROWS")]
    pub max_batch: Option<usize>,
    /// Decimals of the probabilities shown to principals with `model:probabilities` (0-15).
    #[arg(long, env = "MLGUARD_PROBABILITY_DECIMALS", global = true, value_name = "N")]
    pub probability_decimals: Option<u32>,
    /// Prediction rows per principal over a long window, e.g. `5000/day` (batch rows count).
    #[arg(long, env = "MLGUARD_PREDICT_BUDGET", global = true, value_name = "QUOTA")]
    pub predict_budget: Option<String>,
    /// Input outside the training envelope: `log` or `reject` (422).
    #[arg(long, env = "MLGUARD_OOD_ACTION", global = true, value_name = "ACTION")]
    pub ood_action: Option<String>,
    /// Suspected model extraction: `log`, `degrade` (label only) or `block` (403).
    #[arg(long, env = "MLGUARD_EXTRACTION_ACTION", global = true, value_name = "ACTION")]
    pub extraction_action: Option<String>,
    /// How long `degrade` / `block` last after an extraction alarm (e.g. `1h`).
    #[arg(
        long,
        env = "MLGUARD_EXTRACTION_COOLDOWN",
        global = true,
        value_name = "DURATION"
    )]
    pub extraction_cooldown: Option<String>,
    /// Maximum request body, in bytes.
    #[arg(long, env = "MLGUARD_BODY_LIMIT", global = true, value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Time limit for a whole request (e.g. `10s`).
    #[arg(long, env = "MLGUARD_REQUEST_TIMEOUT", global = true, value_name = "DURATION")]
    pub request_timeout: Option<String>,
    /// Time limit for reading a request's headers (e.g. `10s`).
    #[arg(
        long,
        env = "MLGUARD_HEADER_READ_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub header_read_timeout: Option<String>,
    /// Time limit for a TLS handshake (e.g. `10s`).
    #[arg(
        long,
        env = "MLGUARD_TLS_HANDSHAKE_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub tls_handshake_timeout: Option<String>,
    /// Maximum open connections.
    #[arg(long, env = "MLGUARD_MAX_CONNECTIONS", global = true, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Maximum open connections per client address (IPv6: per /64); trusted proxies exempt.
    #[arg(long, env = "MLGUARD_MAX_CONNECTIONS_PER_IP", global = true, value_name = "N")]
    pub max_connections_per_ip: Option<usize>,
    /// Maximum requests in flight; more are answered 503 at once.
    #[arg(long, env = "MLGUARD_CONCURRENCY_LIMIT", global = true, value_name = "N")]
    pub concurrency_limit: Option<usize>,
    /// Lifetime of issued access tokens (e.g. `15m`).
    #[arg(
        long,
        env = "MLGUARD_ACCESS_TOKEN_TTL",
        global = true,
        value_name = "DURATION"
    )]
    pub access_token_ttl: Option<String>,
    /// Lifetime of issued refresh tokens (e.g. `24h`).
    #[arg(
        long,
        env = "MLGUARD_REFRESH_TOKEN_TTL",
        global = true,
        value_name = "DURATION"
    )]
    pub refresh_token_ttl: Option<String>,
    /// Time in-flight requests get to finish on shutdown (e.g. `10s`).
    #[arg(long, env = "MLGUARD_SHUTDOWN_GRACE", global = true, value_name = "DURATION")]
    pub shutdown_grace: Option<String>,
    /// An identity provider's JWKS URL: its tokens are accepted next to ml-api's own
    /// (https, or http to a loopback address only).
    #[arg(long, env = "MLGUARD_JWKS_URL", global = true, value_name = "URL")]
    pub jwks_url: Option<String>,
    /// The identity provider's `iss` (required with jwks_url).
    #[arg(long, env = "MLGUARD_JWT_ISSUER", global = true, value_name = "ISS")]
    pub jwt_issuer: Option<String>,
    /// The `aud` the provider's tokens must carry (required with jwks_url).
    #[arg(long, env = "MLGUARD_JWT_AUDIENCE", global = true, value_name = "AUD")]
    pub jwt_audience: Option<String>,
    /// JSON Pointer to the roles in the provider's tokens, e.g. `/realm_access/roles`.
    #[arg(long, env = "MLGUARD_JWT_ROLES_CLAIM", global = true, value_name = "POINTER")]
    pub jwt_roles_claim: Option<String>,
    /// Least time between two fetches of the provider's JWKS (e.g. `5m`).
    #[arg(
        long,
        env = "MLGUARD_JWKS_REFRESH_INTERVAL",
        global = true,
        value_name = "DURATION"
    )]
    pub jwks_refresh_interval: Option<String>,
    /// CA certificate (PEM) that signs the provider's https certificate.
    #[arg(long, env = "MLGUARD_JWKS_CA", global = true, value_name = "PEM")]
    pub jwks_ca: Option<PathBuf>,
    // --- database (issue 19) ---
    /// Database of users, API keys, refresh tokens and revocations: `sqlite://PATH` or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`; unset: `sqlite://<data dir>/mlguard.db`.
    /// Prefer `MLGUARD_DATABASE_URL` to the flag when the URL holds a password (`ps` shows flags).
    #[arg(
        long,
        env = "MLGUARD_DATABASE_URL",
        global = true,
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<Secret>,
    /// How long authentication serves from memory while the database is unreachable, e.g. `30s`.
    #[arg(long, env = "MLGUARD_DB_STALE_MAX", global = true, value_name = "DURATION")]
    pub db_stale_max: Option<String>,
}

impl Settings {
    /// Reads a TOML file of settings (same names as the flags, with `_`).
    ///
    /// # Errors
    /// [`ConfigError::ReadFile`] or [`ConfigError::ParseFile`].
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| match e {
            ConfigError::ParseFile { message, .. } => ConfigError::ParseFile {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses TOML settings.
    ///
    /// ```
    /// let s = ml_api::config::Settings::from_toml_str("listen = \"127.0.0.1:9000\"\nmax_batch = 5").unwrap();
    /// assert_eq!(s.max_batch, Some(5));
    /// assert!(ml_api::config::Settings::from_toml_str("lisen = 1").is_err());
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::ParseFile`], for bad syntax and unknown keys. The message never quotes a
    /// value (it could be a secret).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::ParseFile {
            path: PathBuf::new(),
            message: match e.span() {
                Some(span) => format!("{} (at byte {})", e.message(), span.start),
                None => e.message().to_owned(),
            },
        })
    }

    /// Reads the secret settings from the environment (`MLGUARD_JWT_SECRET`,
    /// `MLGUARD_FERNET_KEY`, `MLGUARD_REDIS_URL`) through `env`, so tests need not touch the
    /// process environment.
    #[must_use]
    pub fn with_secrets_from(mut self, env: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| env(name).filter(|v| !v.is_empty()).map(Secret::new);
        self.jwt_secret = get("MLGUARD_JWT_SECRET").or(self.jwt_secret);
        self.fernet_key = get("MLGUARD_FERNET_KEY").or(self.fernet_key);
        self.redis_url = get("MLGUARD_REDIS_URL").or(self.redis_url);
        self
    }

    /// `self` over `lower`: each field of `self` that is set wins.
    #[must_use]
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            data_dir: self.data_dir.or(lower.data_dir),
            listen: self.listen.or(lower.listen),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            no_tls: self.no_tls.or(lower.no_tls),
            jwt_secret: self.jwt_secret.or(lower.jwt_secret),
            fernet_key: self.fernet_key.or(lower.fernet_key),
            redis_url: self.redis_url.or(lower.redis_url),
            token_rate: self.token_rate.or(lower.token_rate),
            predict_rate: self.predict_rate.or(lower.predict_rate),
            crypto_rate: self.crypto_rate.or(lower.crypto_rate),
            login_hash_rate: self.login_hash_rate.or(lower.login_hash_rate),
            max_in_flight_per_principal: self
                .max_in_flight_per_principal
                .or(lower.max_in_flight_per_principal),
            max_in_flight_per_ip: self.max_in_flight_per_ip.or(lower.max_in_flight_per_ip),
            body_read_timeout: self.body_read_timeout.or(lower.body_read_timeout),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            max_batch: self.max_batch.or(lower.max_batch),
            probability_decimals: self.probability_decimals.or(lower.probability_decimals),
            predict_budget: self.predict_budget.or(lower.predict_budget),
            ood_action: self.ood_action.or(lower.ood_action),
            extraction_action: self.extraction_action.or(lower.extraction_action),
            extraction_cooldown: self.extraction_cooldown.or(lower.extraction_cooldown),
            body_limit: self.body_limit.or(lower.body_limit),
            request_timeout: self.request_timeout.or(lower.request_timeout),
            header_read_timeout: self.header_read_timeout.or(lower.header_read_timeout),
            tls_handshake_timeout: self.tls_handshake_timeout.or(lower.tls_handshake_timeout),
            max_connections: self.max_connections.or(lower.max_connections),
            max_connections_per_ip: self.max_connections_per_ip.or(lower.max_connections_per_ip),
            concurrency_limit: self.concurrency_limit.or(lower.concurrency_limit),
            access_token_ttl: self.access_token_ttl.or(lower.access_token_ttl),
            refresh_token_ttl: self.refresh_token_ttl.or(lower.refresh_token_ttl),
            shutdown_grace: self.shutdown_grace.or(lower.shutdown_grace),
            jwks_url: self.jwks_url.or(lower.jwks_url),
            jwt_issuer: self.jwt_issuer.or(lower.jwt_issuer),
            jwt_audience: self.jwt_audience.or(lower.jwt_audience),
            jwt_roles_claim: self.jwt_roles_claim.or(lower.jwt_roles_claim),
            jwks_refresh_interval: self.jwks_refresh_interval.or(lower.jwks_refresh_interval),
            jwks_ca: self.jwks_ca.or(lower.jwks_ca),
            database_url: self.database_url.or(lower.database_url),
            db_stale_max: self.db_stale_max.or(lower.db_stale_max),
        }
    }
}

/// Where the TLS certificate comes from: mlguard-http's (`no_tls`, `tls_cert` and `tls_key`).
pub use mlguard_http::tls::TlsSource;

/// An identity provider whose tokens ml-api accepts next to its own (`jwks_url` and friends):
/// mlguard-auth's, which checks the URL, CA, pointer and interval rules.
pub type IdpConfig = mlguard_auth::idp::IdentityProvider;

/// The identity provider of `s`, checked by mlguard-auth; errors name ml-api's setting.
fn resolve_idp(s: &Settings) -> Result<Option<IdpConfig>, ConfigError> {
    use mlguard_auth::idp::IdpSetting;
    let bad = |setting: &'static str, message: &str| ConfigError::BadValue {
        setting,
        message: message.to_owned(),
    };
    let stray = [
        ("jwt_issuer", s.jwt_issuer.is_some()),
        ("jwt_audience", s.jwt_audience.is_some()),
        ("jwt_roles_claim", s.jwt_roles_claim.is_some()),
        ("jwks_refresh_interval", s.jwks_refresh_interval.is_some()),
        ("jwks_ca", s.jwks_ca.is_some()),
    ];
    let Some(url) = s.jwks_url.clone() else {
        return match stray.into_iter().find(|(_, set)| *set) {
            Some((setting, _)) => Err(bad(
                setting,
                "only means something with jwks_url (MLGUARD_JWKS_URL)",
            )),
            None => Ok(None),
        };
    };
    let text = |v: &Option<String>| v.as_deref().map_or("", str::trim).to_owned();
    let mut idp = IdpConfig::new(url, text(&s.jwt_issuer), text(&s.jwt_audience));
    if let Some(claim) = &s.jwt_roles_claim {
        idp = idp.roles_claim(claim.clone());
    }
    if let Some(text) = &s.jwks_refresh_interval {
        idp = idp.refresh_interval(parse_duration(text).map_err(|source| ConfigError::BadDuration {
            setting: "jwks_refresh_interval",
            source,
        })?);
    }
    if let Some(ca) = &s.jwks_ca {
        idp = idp.ca(ca.clone());
    }
    if let Err(e) = idp.validate() {
        let (setting, env) = match e.setting {
            IdpSetting::JwksUrl => ("jwks_url", "MLGUARD_JWKS_URL"),
            IdpSetting::Ca => ("jwks_ca", "MLGUARD_JWKS_CA"),
            IdpSetting::Issuer => ("jwt_issuer", "MLGUARD_JWT_ISSUER"),
            IdpSetting::Audience => ("jwt_audience", "MLGUARD_JWT_AUDIENCE"),
            IdpSetting::RolesClaim => ("jwt_roles_claim", "MLGUARD_JWT_ROLES_CLAIM"),
            _ => ("jwks_refresh_interval", "MLGUARD_JWKS_REFRESH_INTERVAL"),
        };
        return Err(bad(setting, &format!("{e} ({env})")));
    }
    // ml-api's own `iss` (`crate::auth::ISSUER`; not imported: auth imports config). The
    // verifier is chosen by `iss`, so the provider's must differ; tests/idp.rs pins this.
    if idp.issuer == "ml-api" {
        return Err(bad(
            "jwt_issuer",
            "must differ from ml-api's own issuer `ml-api` (MLGUARD_JWT_ISSUER)",
        ));
    }
    Ok(Some(idp))
}

/// The validated configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// TLS source.
    pub tls: TlsSource,
    /// JWT secret from the environment or file; `None`: the data directory's.
    pub jwt_secret: Option<Secret>,
    /// Fernet key from the environment or file; `None`: the data directory's.
    pub fernet_key: Option<Secret>,
    /// Redis URL for shared rate limits and revocations.
    pub redis_url: Option<Secret>,
    /// `POST /token` quota.
    pub token_rate: String,
    /// Prediction quota.
    pub predict_rate: String,
    /// `/encrypt` and `/decrypt` quota per principal.
    pub crypto_rate: String,
    /// The work budget of Argon2 password checks across the server; `None`: mlguard-auth's
    /// default for the cores.
    pub login_hash_budget: Option<mlguard_auth::password::HashBudget>,
    /// Requests of one principal in flight.
    pub max_in_flight_per_principal: usize,
    /// Requests from one client address in flight.
    pub max_in_flight_per_ip: usize,
    /// Time limit for a request body to arrive.
    pub body_read_timeout: Duration,
    /// Proxies whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// Maximum batch rows.
    pub max_batch: usize,
    /// Decimals of the probabilities shown to principals with `model:probabilities`.
    pub probability_decimals: u32,
    /// Prediction rows per principal over a long window (a quota string).
    pub predict_budget: String,
    /// Input outside the training envelope.
    pub ood_action: mlguard_modelsec::OodAction,
    /// Suspected model extraction.
    pub extraction_action: mlguard_modelsec::ExtractionAction,
    /// How long `degrade` / `block` last after an alarm.
    pub extraction_cooldown: Duration,
    /// Maximum body bytes.
    pub body_limit: usize,
    /// Whole-request time limit.
    pub request_timeout: Duration,
    /// Header-read time limit.
    pub header_read_timeout: Duration,
    /// TLS handshake time limit.
    pub tls_handshake_timeout: Duration,
    /// Maximum open connections.
    pub max_connections: usize,
    /// Maximum open connections per client address (trusted proxies exempt).
    pub max_connections_per_ip: usize,
    /// Maximum requests in flight.
    pub concurrency_limit: usize,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_token_ttl: Duration,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// An identity provider whose tokens are accepted too (`jwks_url` set).
    pub idp: Option<IdpConfig>,
    // --- database (issue 19) ---
    /// The database URL given (it may hold a password: never logged); `None`: the SQLite file
    /// in the data directory (see [`Config::database_url`]).
    pub database_url: Option<Secret>,
    /// How long authentication serves from memory while the database is unreachable.
    pub db_stale_max: Duration,
}

/// A configuration that cannot be used. Messages name the setting and never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The `--config` file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The `--config` file is not valid TOML for [`Settings`].
    #[error("invalid config file {path}: {message}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (never a value).
        message: String,
    },
    /// `MLGUARD_JWT_SECRET` is too short.
    #[error(
        "MLGUARD_JWT_SECRET is {len} bytes; at least {min} are required (generate one with \
         `head -c 48 /dev/urandom | base64`), or unset it to use the generated one"
    )]
    WeakJwtSecret {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A duration setting does not parse.
    #[error("{setting}: {source}")]
    BadDuration {
        /// The setting.
        setting: &'static str,
        /// Why.
        source: DurationError,
    },
    /// `MLGUARD_TRUSTED_PROXIES` does not parse.
    #[error("trusted_proxies: {0}")]
    BadTrustedProxies(#[from] mlguard_core::ClientIpConfigError),
    /// Only one of `tls_cert` / `tls_key` is set.
    #[error("tls_cert and tls_key must be set together")]
    HalfTlsPair,
    /// A count that must be positive is 0.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// `body_read_timeout` is not below `request_timeout` (the request timeout would fire first).
    #[error(
        "body_read_timeout ({body:?}) must be below request_timeout ({request:?}), or unset \
         (then {default:?}, or half of request_timeout)",
        default = defaults::BODY_READ_TIMEOUT
    )]
    BodyReadTimeoutNotBelowRequestTimeout {
        /// The body read timeout.
        body: Duration,
        /// The request timeout.
        request: Duration,
    },
    /// A setting with a fixed set of values, or a number out of its range, is wrong.
    #[error("{setting}: {message}")]
    BadValue {
        /// The setting.
        setting: &'static str,
        /// What is accepted.
        message: String,
    },
    /// `MLGUARD_FERNET_KEY` is not a Fernet key.
    #[error("MLGUARD_FERNET_KEY is not a valid Fernet key (32 bytes, url-safe base64): {0}")]
    BadFernetKey(mlguard_crypto::KeyError),
}

impl Config {
    /// Merges `flags_and_env` (clap's values: flags over `MLGUARD_*`) over the optional TOML
    /// `file`, fills defaults and validates. Secrets must already be in the layers (see
    /// [`Settings::with_secrets_from`]).
    ///
    /// ```
    /// use ml_api::config::{Config, Settings};
    /// let file = Settings::from_toml_str("max_batch = 5\nlisten = \"127.0.0.1:9000\"").unwrap();
    /// let flags = Settings { max_batch: Some(7), ..Settings::default() };
    /// let config = Config::resolve(flags, Some(file)).unwrap();
    /// assert_eq!(config.max_batch, 7);
    /// assert_eq!(config.listen.port(), 9000);
    /// assert_eq!(config.predict_rate, "10/minute");
    ///
    /// let weak = Settings { jwt_secret: Some("short".into()), ..Settings::default() };
    /// assert!(Config::resolve(weak, None).is_err());
    /// ```
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad setting.
    pub fn resolve(flags_and_env: Settings, file: Option<Settings>) -> Result<Self, ConfigError> {
        let s = match file {
            Some(file) => flags_and_env.over(file),
            None => flags_and_env,
        };
        let duration = |setting: &'static str, v: &Option<String>, default: Duration| match v {
            Some(text) => parse_duration(text).map_err(|source| ConfigError::BadDuration { setting, source }),
            None => Ok(default),
        };
        let positive = |name: &'static str, v: Option<usize>, default: usize| match v.unwrap_or(default) {
            0 => Err(ConfigError::Zero(name)),
            n => Ok(n),
        };

        let idp = resolve_idp(&s)?;
        let jwt_secret = s.jwt_secret;
        if let Some(secret) = &jwt_secret {
            let len = secret.expose().len();
            if len < defaults::MIN_JWT_SECRET_LEN {
                return Err(ConfigError::WeakJwtSecret {
                    len,
                    min: defaults::MIN_JWT_SECRET_LEN,
                });
            }
        }
        let fernet_key = s.fernet_key;
        if let Some(key) = &fernet_key {
            mlguard_crypto::Fernet::new(key.expose()).map_err(ConfigError::BadFernetKey)?;
        }
        let tls = TlsSource::from_settings(s.no_tls.unwrap_or(false), s.tls_cert, s.tls_key)
            .map_err(|_| ConfigError::HalfTlsPair)?;
        let trusted_proxies = match &s.trusted_proxies {
            Some(list) => list.parse()?,
            None => TrustedProxies::none(),
        };
        let listen = match s.listen {
            Some(addr) => addr,
            None => defaults::LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8443))),
        };
        let max_connections = positive("max_connections", s.max_connections, defaults::MAX_CONNECTIONS)?;
        let max_connections_per_ip = positive(
            "max_connections_per_ip",
            s.max_connections_per_ip,
            defaults::max_connections_per_ip(max_connections),
        )?;
        let request_timeout = duration("request_timeout", &s.request_timeout, defaults::REQUEST_TIMEOUT)?;
        let body_read_timeout = match &s.body_read_timeout {
            Some(_) => {
                let body = duration(
                    "body_read_timeout",
                    &s.body_read_timeout,
                    defaults::BODY_READ_TIMEOUT,
                )?;
                if body.is_zero() {
                    return Err(ConfigError::Zero("body_read_timeout"));
                }
                if body >= request_timeout {
                    return Err(ConfigError::BodyReadTimeoutNotBelowRequestTimeout {
                        body,
                        request: request_timeout,
                    });
                }
                body
            }
            None if defaults::BODY_READ_TIMEOUT < request_timeout => defaults::BODY_READ_TIMEOUT,
            None => request_timeout / 2,
        };
        let probability_decimals = s.probability_decimals.unwrap_or(defaults::PROBABILITY_DECIMALS);
        if probability_decimals > mlguard_modelsec::output::MAX_DECIMALS {
            return Err(ConfigError::BadValue {
                setting: "probability_decimals",
                message: format!("must be 0 to {}", mlguard_modelsec::output::MAX_DECIMALS),
            });
        }
        let ood_action = s
            .ood_action
            .as_deref()
            .unwrap_or(defaults::OOD_ACTION)
            .parse::<mlguard_modelsec::OodAction>()
            .map_err(|_| ConfigError::BadValue {
                setting: "ood_action",
                message: "must be `log` or `reject`".to_owned(),
            })?;
        let extraction_action = s
            .extraction_action
            .as_deref()
            .unwrap_or(defaults::EXTRACTION_ACTION)
            .parse::<mlguard_modelsec::ExtractionAction>()
            .map_err(|_| ConfigError::BadValue {
                setting: "extraction_action",
                message: "must be `log`, `degrade` or `block`".to_owned(),
            })?;
        let extraction_cooldown = duration(
            "extraction_cooldown",
            &s.extraction_cooldown,
            defaults::EXTRACTION_COOLDOWN,
        )?;
        let concurrency_limit = positive(
            "concurrency_limit",
            s.concurrency_limit,
            defaults::CONCURRENCY_LIMIT,
        )?;
        let share = |divisor: usize| (concurrency_limit / divisor).max(1);
        Ok(Self {
            data_dir: s.data_dir.unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR)),
            listen,
            tls,
            jwt_secret,
            fernet_key,
            redis_url: s.redis_url,
            token_rate: s.token_rate.unwrap_or_else(|| defaults::TOKEN_RATE.to_owned()),
            predict_rate: s
                .predict_rate
                .unwrap_or_else(|| defaults::PREDICT_RATE.to_owned()),
            crypto_rate: s.crypto_rate.unwrap_or_else(|| defaults::CRYPTO_RATE.to_owned()),
            login_hash_budget: login_hash_budget(s.login_hash_rate.as_deref())?,
            max_in_flight_per_principal: positive(
                "max_in_flight_per_principal",
                s.max_in_flight_per_principal,
                share(defaults::IN_FLIGHT_PER_PRINCIPAL_DIVISOR),
            )?,
            max_in_flight_per_ip: positive(
                "max_in_flight_per_ip",
                s.max_in_flight_per_ip,
                share(defaults::IN_FLIGHT_PER_IP_DIVISOR),
            )?,
            body_read_timeout,
            trusted_proxies,
            max_batch: positive("max_batch", s.max_batch, defaults::MAX_BATCH)?,
            probability_decimals,
            predict_budget: s
                .predict_budget
                .unwrap_or_else(|| defaults::PREDICT_BUDGET.to_owned()),
            ood_action,
            extraction_action,
            extraction_cooldown,
            body_limit: positive("body_limit", s.body_limit, defaults::BODY_LIMIT)?,
            request_timeout,
            header_read_timeout: duration(
                "header_read_timeout",
                &s.header_read_timeout,
                defaults::HEADER_READ_TIMEOUT,
            )?,
            tls_handshake_timeout: duration(
                "tls_handshake_timeout",
                &s.tls_handshake_timeout,
                defaults::TLS_HANDSHAKE_TIMEOUT,
            )?,
            max_connections,
            max_connections_per_ip,
            concurrency_limit,
            access_token_ttl: duration(
                "access_token_ttl",
                &s.access_token_ttl,
                defaults::ACCESS_TOKEN_TTL,
            )?,
            refresh_token_ttl: duration(
                "refresh_token_ttl",
                &s.refresh_token_ttl,
                defaults::REFRESH_TOKEN_TTL,
            )?,
            shutdown_grace: duration("shutdown_grace", &s.shutdown_grace, defaults::SHUTDOWN_GRACE)?,
            idp,
            database_url: match s.database_url {
                Some(url) if !mlguard_auth::sql::is_supported_url(url.expose()) => {
                    return Err(ConfigError::BadValue {
                        setting: "database_url",
                        message: "must start with sqlite:, postgres:// or postgresql://".to_owned(),
                    });
                }
                url => url,
            },
            db_stale_max: {
                let d = duration("db_stale_max", &s.db_stale_max, defaults::DB_STALE_MAX)?;
                if d < Duration::from_secs(1) {
                    return Err(ConfigError::BadValue {
                        setting: "db_stale_max",
                        message: "must be at least 1s".to_owned(),
                    });
                }
                d
            },
        })
    }

    /// The database URL: the one configured, else `sqlite://<data dir>/mlguard.db`. It may hold
    /// a password: never log it.
    pub fn database_url(&self) -> Secret {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Secret::new(mlguard_auth::sql::SqlStore::sqlite_url_for(&self.data_dir)),
        }
    }

    /// Defaults only, with `data_dir` set: what tests and embedders start from.
    ///
    /// ```
    /// let c = ml_api::config::Config::for_data_dir("/tmp/x");
    /// assert_eq!(c.token_rate, "5/minute");
    /// ```
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let settings = Settings {
            data_dir: Some(data_dir.into()),
            ..Settings::default()
        };
        // Constant defaults, never request data; `tests/config.rs` pins that they validate.
        Self::resolve(settings, None).expect("the defaults validate")
    }
}

/// `login_hash_rate` as a work budget: a quota (`8/second`, `600/minute;burst=10`), its burst
/// as written (the count when not).
fn login_hash_budget(rate: Option<&str>) -> Result<Option<mlguard_auth::password::HashBudget>, ConfigError> {
    let Some(rate) = rate.or(defaults::LOGIN_HASH_RATE) else {
        return Ok(None);
    };
    let bad = |message: String| ConfigError::BadValue {
        setting: "login_hash_rate",
        message,
    };
    let quota: mlguard_ratelimit::Quota = rate.parse().map_err(|e| bad(format!("{e}")))?;
    mlguard_auth::password::HashBudget::new(quota.count(), quota.period())
        .and_then(|b| b.with_burst(quota.burst()))
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}
