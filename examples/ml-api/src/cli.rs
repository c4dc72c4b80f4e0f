//! The command line: `ml-api [serve]`, `train`, `user add|list|remove`, `apikey
//! create|list|revoke`, `keygen fernet`. Every verb takes `--data-dir` (and `--config`).

use crate::commands::{CliError, Command};
use crate::config::{Config, ConfigError, Settings};
use clap::Parser;
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
    let log = crate::logging::init();
    let result = run(cli);
    // Writes out the queued log lines before the last message.
    drop(log);
    match result {
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
    crate::commands::run(config, cli.command.unwrap_or(Command::Serve))
}
