//! `ml-api user add|list|remove`: users in the database (argon2id hashes). Running instances
//! learn of a change within a second.

use crate::commands::{CliError, UserCommand, db_error, with_database};
use crate::config::Config;
use mlguard_auth::password::PasswordHasher;
use mlguard_auth::users::UserRecord;
use std::process::ExitCode;

/// Runs a `user` verb.
///
/// # Errors
/// [`CliError`].
pub fn run(config: &Config, command: UserCommand) -> Result<ExitCode, CliError> {
    // Checked (and the password read) before the database is opened.
    let new_user = match &command {
        UserCommand::Add { name, role } => {
            crate::policy::check_role(role).map_err(CliError::Other)?;
            if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(CliError::Other(
                    "user names are 1 to 64 characters, no spaces".into(),
                ));
            }
            let password = crate::commands::password::read_password(name).map_err(CliError::Other)?;
            let hash = PasswordHasher::new()
                .hash_blocking(&password)
                .map_err(|e| CliError::Other(e.to_string()))?;
            Some(UserRecord {
                username: name.clone(),
                password_hash: hash,
                roles: vec![role.clone()],
                disabled: false,
            })
        }
        _ => None,
    };
    let db = db_error(config);
    with_database(config, async |store| {
        match command {
            UserCommand::Add { name, role } => {
                if let Some(user) = new_user {
                    store.upsert_user(user).await.map_err(&db)?;
                }
                eprintln!("ml-api: user {name:?} saved with role {role}");
            }
            UserCommand::List => {
                println!("{:<24} {:<12} status", "name", "roles");
                for u in store.list_users().await.map_err(&db)? {
                    let status = if u.disabled { "disabled" } else { "active" };
                    println!("{:<24} {:<12} {status}", u.username, u.roles.join(","));
                }
            }
            UserCommand::Remove { name } => {
                if !store.remove_user(&name).await.map_err(&db)? {
                    return Err(CliError::Other(format!("no user named {name:?}")));
                }
                eprintln!("ml-api: removed user {name:?}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
