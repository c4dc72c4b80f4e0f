//! `ml-api apikey create|list|revoke`: keys in the database (hashes only), managed through
//! mlguard-auth's [`ApiKeyManager`] (the same three calls an adopter's own CLI or admin endpoint
//! makes; it writes the `api_key_created` / `api_key_revoked` audit events). Running instances
//! learn of a change within a second (PostgreSQL `LISTEN/NOTIFY`; SQLite: polling the file), so
//! a revocation takes effect everywhere without restart; an expired key is refused from its
//! expiry on.

use crate::commands::{ApikeyCommand, CliError, db_error, with_database};
use crate::config::{Config, parse_duration};
use mlguard_auth::apikey::ApiKeyManager;
use mlguard_core::clock::format_utc as utc;
use std::process::ExitCode;
use std::sync::Arc;

/// Runs an `apikey` verb.
///
/// # Errors
/// [`CliError`].
pub fn run(config: &Config, command: ApikeyCommand) -> Result<ExitCode, CliError> {
    let db = db_error(config);
    with_database(config, async |store| {
        let manager = ApiKeyManager::new(Arc::new(store.clone()));
        match command {
            ApikeyCommand::Create {
                name,
                role,
                expires_in,
            } => {
                crate::policy::check_role(&role).map_err(CliError::Other)?;
                let expires_in = expires_in
                    .map(|text| match parse_duration(&text) {
                        Ok(d) if d.as_secs() >= 1 => Ok(d),
                        Ok(_) => Err(CliError::Other("--expires-in: must be at least 1s".to_owned())),
                        Err(e) => Err(CliError::Other(format!("--expires-in: {e}"))),
                    })
                    .transpose()?;
                let (key, info) = manager.create(&name, [role.as_str()], expires_in).map_err(&db)?;
                let expiry = info
                    .expires_at
                    .map_or_else(String::new, |at| format!(", expires {}", utc(at)));
                eprintln!(
                    "ml-api: created key {} for {name:?} (role {role}{expiry}); it is shown once:",
                    key.key_id()
                );
                println!("{}", key.expose_secret());
            }
            ApikeyCommand::List => {
                let keys = manager.list().map_err(&db)?;
                println!(
                    "{:<18} {:<24} {:<12} {:<20} status",
                    "id", "name", "roles", "expires"
                );
                for k in keys {
                    let status = if k.revoked {
                        "revoked"
                    } else if k.expired {
                        "expired"
                    } else {
                        "active"
                    };
                    let expires = k.expires_at.map_or_else(|| "never".to_owned(), utc);
                    println!(
                        "{:<18} {:<24} {:<12} {expires:<20} {status}",
                        k.key_id,
                        k.name,
                        k.roles.join(",")
                    );
                }
            }
            ApikeyCommand::Revoke { id } => {
                if manager.revoke(&id).map_err(&db)? {
                    eprintln!("ml-api: revoked key {id}");
                } else {
                    return Err(CliError::Other(format!("no API key with id {id:?}")));
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
