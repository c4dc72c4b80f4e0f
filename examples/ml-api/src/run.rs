//! Starting the whole server in-process: bootstrap, TLS, router, listener. The binary's `serve`
//! and the end-to-end tests both go through [`start`].

use crate::app::{build_with, hardening_options};
use crate::bootstrap::{BootstrapError, Bootstrapped, bootstrap};
use crate::config::{Config, Secret};
use crate::state::AppState;
use mlguard_http::serve::Serving;
use mlguard_http::server::{OptionsError, Server, ServerOptions};
use mlguard_http::tls::TlsError;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// Preparing the data directory failed.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// The certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The policy or the JSON limits are invalid.
    #[error("setup: {0}")]
    Setup(String),
    /// The bootstrap task failed.
    #[error("bootstrap task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// A running server: mlguard-http's [`Serving`] handle, with what this start created.
#[derive(Debug)]
pub struct Running {
    serving: Serving,
    cert: Option<PathBuf>,
    admin_password: Option<Secret>,
    trained_accuracy: Option<f64>,
    created: Vec<&'static str>,
    data_dir: PathBuf,
    store: mlguard_auth::sql::SqlStore,
}

impl Running {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.serving.local_addr()
    }

    /// Whether it serves TLS.
    pub fn is_tls(&self) -> bool {
        self.serving.is_tls()
    }

    /// The base URL, e.g. `https://127.0.0.1:8443` (an unspecified listen address is shown as
    /// loopback).
    pub fn url(&self) -> String {
        self.serving.url()
    }

    /// The generated self-signed certificate (PEM path), when serving it.
    pub fn self_signed_cert(&self) -> Option<&PathBuf> {
        self.cert.as_ref()
    }

    /// `admin`'s password when this start created the user: shown once.
    pub fn take_admin_password(&mut self) -> Option<Secret> {
        self.admin_password.take()
    }

    /// The model's held-out accuracy, when this start trained it.
    pub fn trained_accuracy(&self) -> Option<f64> {
        self.trained_accuracy
    }

    /// Files created by this start.
    pub fn created(&self) -> &[&'static str] {
        &self.created
    }

    /// The data directory.
    pub fn data_dir(&self) -> &PathBuf {
        &self.data_dir
    }

    /// The authentication database this server uses (users, API keys, refresh tokens,
    /// revocations): what the CLI manages, for embedders and tests.
    pub fn store(&self) -> &mlguard_auth::sql::SqlStore {
        &self.store
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), and waits.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }

    /// Serves until `signal` completes, then as [`Running::shutdown`].
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        self.serving.run_until(signal).await;
    }
}

/// Bootstraps the data directory and starts serving `config` in a background task.
///
/// # Errors
/// [`StartError`].
pub async fn start(config: Config) -> Result<Running, StartError> {
    start_with_routes(config, axum::Router::new()).await
}

/// [`start`], serving `extra` routes beside the API's, behind authentication and the
/// deny-by-default guard (see [`crate::app::api_router`]).
///
/// # Errors
/// [`StartError`].
pub async fn start_with_routes(config: Config, extra: axum::Router<AppState>) -> Result<Running, StartError> {
    let boot_config = config.clone();
    let boot: Bootstrapped = tokio::task::spawn_blocking(move || bootstrap(&boot_config)).await??;

    // The files given, or the self-signed pair the bootstrap made; plain HTTP with a warning.
    let tls = config
        .tls
        .server_config(boot.self_signed.as_ref().map(|(c, k)| (c.as_path(), k.as_path())))?;
    let is_tls = tls.is_some();
    let protection = crate::model_guard::ModelProtection::from_config(&config, boot.training_stats.as_ref())
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let state = AppState::new(Some(boot.model.clone()), boot.fernet.clone(), config.max_batch)
        .with_model_protection(protection);
    let json = crate::app::json_config(&config).map_err(|e| StartError::Setup(e.to_string()))?;
    let quotas = crate::quotas::Quotas::from_config(&config).map_err(|e| StartError::Setup(e.to_string()))?;
    // Users, API keys, refresh tokens and revocations: the database (migrated, and an old data
    // directory's JSON files imported, here).
    let database = crate::bootstrap::open_database(&config, true).await?;
    let mut created = boot.created;
    if database.admin_password.is_some() {
        created.push(crate::config::defaults::DATABASE_FILE);
    }
    let revocations: Option<std::sync::Arc<dyn mlguard_auth::revocation::RevocationStore>> =
        match &config.redis_url {
            // With Redis the `jti` denylist stays there (one round trip per bearer check, shared at
            // once); without, it is the database's (in memory, told of changes).
            Some(url) => Some(std::sync::Arc::new(
                mlguard_auth::revocation::RedisRevocationStore::connect(url.expose())
                    .await
                    .map_err(|e| StartError::Setup(format!("revocation store: {e}")))?,
            )),
            None => None,
        };
    let auth = crate::auth::Auth::with_database(
        &database.store,
        &boot.jwt_secret,
        config.access_token_ttl,
        revocations,
        config.idp.as_ref(),
        crate::bootstrap::login_hasher(&config),
    )
    .map_err(|e| StartError::Setup(e.to_string()))?;
    let app = build_with(
        state,
        json,
        &quotas,
        &auth,
        &hardening_options(&config, is_tls),
        extra,
    )
    .map_err(|e| StartError::Setup(e.to_string()))?;
    let options = server_options(&config).map_err(|e| StartError::Setup(e.to_string()))?;
    let bind_err = |source| StartError::Bind {
        addr: config.listen,
        source,
    };
    let serving = Server::bind(config.listen, app, tls, options)
        .await
        .map_err(bind_err)?
        .spawn()
        .map_err(bind_err)?;
    Ok(Running {
        serving,
        cert: boot.self_signed.as_ref().map(|(c, _)| c.clone()),
        admin_password: database.admin_password,
        trained_accuracy: boot.trained_accuracy,
        created,
        store: database.store,
        data_dir: config.data_dir.clone(),
    })
}

/// The connection limits of `config` for [`mlguard_http::server`]. The idle timeout is the
/// header-read timeout (hyper's HTTP/1 header-read timeout already closes an idle HTTP/1.1
/// connection after this long: one idle rule for both protocols).
///
/// # Errors
/// A zero limit or timeout.
pub fn server_options(config: &Config) -> Result<ServerOptions, OptionsError> {
    ServerOptions::builder()
        .header_read_timeout(config.header_read_timeout)
        .tls_handshake_timeout(config.tls_handshake_timeout)
        .max_connections(config.max_connections)
        .max_connections_per_ip(config.max_connections_per_ip)
        .per_ip_exempt(config.trusted_proxies.clone())
        .shutdown_grace(config.shutdown_grace)
        .idle_timeout(config.header_read_timeout)
        .request_timeout(config.request_timeout)
        .build()
}

pub use mlguard_http::server::shutdown_signal;
