//! `ml-api apikey create|list|revoke`: keys in the database (hashes only), managed through
//! mlguard-auth's [`ApiKeyManager`] (the same three calls an adopter's own CLI or admin endpoint
//! makes; it writes the `api_key_created` / `api_key_revoked` audit events). Running instances
//! learn of a change within a second (PostgreSQL `LISTEN/NOTIFY`; SQLite: polling the file), so
//! a revocation takes effect everywhere without restart; an expired key is refused from its
//! expiry on.

use crate::commands::{ApikeyCommand, CliError, db_error, with_database};
use crate::config::{Config, parse_duration};
use mlguard_auth::apikey::ApiKeyManager;
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

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (Howard Hinnant's `civil_from_days`).
fn utc(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
