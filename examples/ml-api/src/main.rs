//! `ml-api`: see the library docs (`ml_api`).

fn main() -> std::process::ExitCode {
    ml_api::cli::main()
}
