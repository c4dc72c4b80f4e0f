//! The command line: `ml-api [serve]`, `train`, `user add|list|remove`, `apikey
//! create|list|revoke`, `keygen fernet`. Every verb takes `--data-dir` (and `--config`).

use crate::config::{Config, ConfigError, Settings};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `ml-api`: the mlguard example server.
#[derive(Debug, Parser)]
#[command(
    name = "ml-api",
    version,
    about = "A secured iris-classifier API (mlguard example server)"
)]
pub struct Cli {
    /// TOML configuration file (overridden by MLGUARD_* variables, overridden by flags).
    #[arg(long, env = "MLGUARD_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Settings.
    #[command(flatten)]
    pub settings: Settings,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

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
    },
    /// List keys (ids, names, roles; never the keys).
    List,
    /// Revoke a key by id; takes effect without restart.
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

impl Cli {
    /// The resolved configuration: defaults < `--config` file < environment < flags.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn config(&self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => Some(Settings::from_toml_file(path)?),
            None => None,
        };
        let env_secrets = Settings::default().with_secrets_from(|name| std::env::var(name).ok());
        let top = self.settings.clone().over(env_secrets);
        Config::resolve(top, file)
    }
}

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ml-api: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// [`CliError`].
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let config = cli.config()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::commands::serve::run(config),
        Command::Train => crate::commands::train::run(&config),
        Command::User { command } => crate::commands::user::run(&config, command),
        Command::Apikey { command } => crate::commands::apikey::run(&config, command),
        Command::Keygen {
            command: KeygenCommand::Fernet,
        } => {
            println!("{}", mlguard_crypto::Fernet::generate_key());
            Ok(ExitCode::SUCCESS)
        }
    }
}
