//! `ml-api user add|list|remove`: users in `users.json` (argon2id hashes). A running server
//! re-reads the file when it changes.

use crate::commands::{CliError, UserCommand};
use crate::config::Config;
use crate::datadir::ensure_private_dir;
use crate::datadir::{DataDir, files};
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::users::UserRecord;
use std::process::ExitCode;

/// Runs a `user` verb.
///
/// # Errors
/// [`CliError`].
pub fn run(config: &Config, command: UserCommand) -> Result<ExitCode, CliError> {
    let dir = DataDir::new(&config.data_dir);
    ensure_private_dir(dir.root()).map_err(|e| CliError::Other(format!("{}: {e}", dir.root().display())))?;
    let store = crate::users::open(&dir).map_err(CliError::Other)?;
    match command {
        UserCommand::Add { name, role } => {
            crate::policy::check_role(&role).map_err(CliError::Other)?;
            if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(CliError::Other(
                    "user names are 1 to 64 characters, no spaces".into(),
                ));
            }
            let password = crate::commands::password::read_password(&name).map_err(CliError::Other)?;
            let hash = PasswordHasher::new()
                .hash_blocking(&password)
                .map_err(|e| CliError::Other(e.to_string()))?;
            store
                .insert(UserRecord {
                    username: name.clone(),
                    password_hash: hash,
                    roles: vec![role.clone()],
                    disabled: false,
                })
                .map_err(|e| CliError::Other(e.to_string()))?;
            eprintln!("ml-api: user {name:?} saved with role {role}");
        }
        UserCommand::List => {
            println!("{:<24} {:<12} status", "name", "roles");
            for u in store.list() {
                let status = if u.disabled { "disabled" } else { "active" };
                println!("{:<24} {:<12} {status}", u.username, u.roles.join(","));
            }
        }
        UserCommand::Remove { name } => {
            if !crate::users::remove(&dir.file(files::USERS), &name).map_err(CliError::Other)? {
                return Err(CliError::Other(format!("no user named {name:?}")));
            }
            eprintln!("ml-api: removed user {name:?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
