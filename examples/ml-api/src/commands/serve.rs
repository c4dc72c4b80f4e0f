//! `ml-api serve`: bootstrap, print where to go, serve until SIGTERM / Ctrl-C.

use crate::commands::CliError;
use crate::config::Config;
use crate::run::{Running, shutdown_signal, start};
use std::process::ExitCode;

/// Runs the server on a multi-threaded runtime until a shutdown signal.
///
/// # Errors
/// [`CliError`] when it cannot start.
pub fn run(config: Config) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Other(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let mut running = start(config).await?;
        banner(&mut running);
        running.run_until(shutdown_signal()).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints the first-run password (once), the URLs and a curl line, on stderr.
fn banner(running: &mut Running) {
    let url = running.url();
    let data_dir = running.data_dir().display().to_string();
    if !running.created().is_empty() {
        eprintln!(
            "ml-api: first run: created {} in {data_dir}",
            running.created().join(", ")
        );
    }
    if let Some(accuracy) = running.trained_accuracy() {
        eprintln!("ml-api: trained the iris model (held-out accuracy {accuracy:.3})");
    }
    if let Some(password) = running.take_admin_password() {
        eprintln!(
            "ml-api: created user `admin` with password: {}",
            password.expose()
        );
        eprintln!("ml-api: (shown once; add users with `ml-api user add NAME --role ROLE`)");
    }
    eprintln!("ml-api: listening on {url}");
    eprintln!("ml-api: docs at {url}/docs");
    let cacert = match running.self_signed_cert() {
        Some(cert) => format!("--cacert {} ", cert.display()),
        None => String::new(),
    };
    eprintln!(
        "ml-api: try: curl {cacert}-d grant_type=password -d username=admin --data-urlencode \"password=$ADMIN_PASSWORD\" {url}/token"
    );
}
