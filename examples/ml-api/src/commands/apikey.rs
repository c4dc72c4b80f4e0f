//! `ml-api apikey create|list|revoke`: keys in `apikeys.json` (hashes only). A running server
//! re-reads the file when it changes, so a revocation takes effect without restart.

use crate::commands::{ApikeyCommand, CliError};
use crate::config::Config;
use crate::datadir::ensure_private_dir;
use crate::datadir::{DataDir, files};
use mlguard_auth::apikey::{FileKeyStore, generate};
use std::process::ExitCode;

/// Runs an `apikey` verb.
///
/// # Errors
/// [`CliError`].
pub fn run(config: &Config, command: ApikeyCommand) -> Result<ExitCode, CliError> {
    let dir = DataDir::new(&config.data_dir);
    ensure_private_dir(dir.root()).map_err(|e| CliError::Other(format!("{}: {e}", dir.root().display())))?;
    let store = FileKeyStore::open_or_create(dir.file(files::API_KEYS))
        .map_err(|e| CliError::Other(e.to_string()))?;
    match command {
        ApikeyCommand::Create { name, role } => {
            crate::policy::check_role(&role).map_err(CliError::Other)?;
            let (key, record) =
                generate(&name, [role.as_str()]).map_err(|e| CliError::Other(e.to_string()))?;
            store.insert(record).map_err(|e| CliError::Other(e.to_string()))?;
            crate::audit::api_key_created(key.key_id(), &name, &role);
            eprintln!(
                "ml-api: created key {} for {name:?} (role {role}); it is shown once:",
                key.key_id()
            );
            println!("{}", key.expose_secret());
        }
        ApikeyCommand::List => {
            println!("{:<18} {:<24} {:<12} status", "id", "name", "roles");
            for r in store.list() {
                let status = if r.revoked { "revoked" } else { "active" };
                println!(
                    "{:<18} {:<24} {:<12} {status}",
                    r.key_id,
                    r.name,
                    r.roles.join(",")
                );
            }
        }
        ApikeyCommand::Revoke { id } => {
            if store.revoke(&id).map_err(|e| CliError::Other(e.to_string()))? {
                crate::audit::api_key_revoked(&id);
                eprintln!("ml-api: revoked key {id}");
            } else {
                return Err(CliError::Other(format!("no API key with id {id:?}")));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
