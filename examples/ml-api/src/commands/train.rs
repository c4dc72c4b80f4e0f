//! `ml-api train`: the tutorial's `utilis.py`.

use crate::commands::CliError;
use crate::config::Config;
use std::process::ExitCode;

/// Trains, writes the signed model into the data directory, prints the held-out accuracy.
///
/// # Errors
/// Training or file errors.
pub fn run(config: &Config) -> Result<ExitCode, CliError> {
    let accuracy = crate::bootstrap::train_into(&config.data_dir)?;
    let path = config.data_dir.join(crate::datadir::files::MODEL);
    println!("accuracy: {accuracy:.4}");
    eprintln!("model written to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
