//! The verbs of the command line ([`Command`]) and their implementations; [`crate::cli`]
//! parses the arguments and calls [`run`].

pub mod apikey;
pub mod password;
pub mod serve;
pub mod train;
pub mod user;

use crate::config::{Config, ConfigError};
use clap::Subcommand;
use std::process::ExitCode;

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Train the iris model, write it to the data directory, print its accuracy.
    Train,
    /// Manage users.
    User {
        /// What to do.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API keys.
    Apikey {
        /// What to do.
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Generate keys.
    Keygen {
        /// Which kind.
        #[command(subcommand)]
        command: KeygenCommand,
    },
}

/// `ml-api user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from stdin (no echo on a terminal).
    Add {
        /// User name.
        name: String,
        /// Role: `admin`, `user` (encrypt/decrypt), or `client` (predictions without probabilities).
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// List users.
    List,
    /// Remove a user.
    Remove {
        /// User name.
        name: String,
    },
}

/// `ml-api apikey ...`
#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Create a key; it is printed once on stdout.
    Create {
        /// A name for the key (who or what uses it).
        name: String,
        /// Role: `admin`, `user` (encrypt/decrypt), or `client` (predictions without probabilities).
        #[arg(long, default_value = "user")]
        role: String,
        /// Lifetime of the key, e.g. `90d` (at least 1s); unset: no expiry.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List keys (ids, names, roles; never the keys).
    List,
    /// Revoke a key by id; every running instance refuses it within a second, without restart.
    Revoke {
        /// Key id.
        id: String,
    },
}

/// `ml-api keygen ...`
#[derive(Debug, Subcommand)]
pub enum KeygenCommand {
    /// Print a new Fernet key (as Python's `Fernet.generate_key()`).
    Fernet,
}

/// A command failed; printed as `ml-api: <message>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Starting the server failed.
    #[error(transparent)]
    Start(#[from] crate::run::StartError),
    /// A data directory operation failed.
    #[error(transparent)]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    /// Anything else, with a message for the user.
    #[error("{0}")]
    Other(String),
}

/// Opens the configured database (migrations, a one-time import of an old data directory's
/// JSON files) on a small runtime and runs `f` with it: the `user` and `apikey` verbs.
///
/// # Errors
/// [`CliError`]: the database cannot be opened, or `f` failed.
pub(crate) fn with_database<T>(
    config: &Config,
    f: impl AsyncFnOnce(&mlguard_auth::sql::SqlStore) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let database = crate::bootstrap::open_database(config, false).await?;
        f(&database.store).await
    })
}

/// A database error for the user: the message never contains the database URL.
pub(crate) fn db_error(config: &Config) -> impl Fn(mlguard_auth::AuthError) -> CliError + '_ {
    move |e| {
        let message = e.to_string();
        let url = config.database_url();
        CliError::Other(if message.contains(url.expose()) {
            "database error (details withheld: they quote the database URL)".to_owned()
        } else {
            message
        })
    }
}

/// Runs `command` with `config`.
///
/// # Errors
/// [`CliError`].
pub fn run(config: Config, command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Serve => serve::run(config),
        Command::Train => train::run(&config),
        Command::User { command } => user::run(&config, command),
        Command::Apikey { command } => apikey::run(&config, command),
        Command::Keygen {
            command: KeygenCommand::Fernet,
        } => {
            println!("{}", mlguard_crypto::Fernet::generate_key());
            Ok(ExitCode::SUCCESS)
        }
    }
}
