//! `ml-api apikey create|list|revoke`.

use crate::cli::{ApikeyCommand, CliError};
use crate::config::Config;
use std::process::ExitCode;

/// Runs an `apikey` verb.
///
/// # Errors
/// [`CliError`].
pub fn run(_config: &Config, command: ApikeyCommand) -> Result<ExitCode, CliError> {
    // TODO(mlguard-auth): the file-backed API key store.
    let _ = command;
    Err(CliError::Other("API key management needs mlguard-auth, which is not wired yet".into()))
}
