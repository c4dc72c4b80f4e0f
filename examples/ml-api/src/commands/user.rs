//! `ml-api user add|list|remove`.

use crate::cli::{CliError, UserCommand};
use crate::config::Config;
use std::process::ExitCode;

/// Runs a `user` verb.
///
/// # Errors
/// [`CliError`].
pub fn run(_config: &Config, command: UserCommand) -> Result<ExitCode, CliError> {
    // TODO(mlguard-auth): the file-backed user store.
    let _ = command;
    Err(CliError::Other(
        "user management needs mlguard-auth, which is not wired yet".into(),
    ))
}
