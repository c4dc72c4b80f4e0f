//! Reading a password for `user add`: without echo on a terminal, one line from a pipe.

use std::io::{BufRead, IsTerminal};
use zeroize::Zeroizing;

/// Minimum password length accepted by `user add`.
pub const MIN_LEN: usize = 8;

/// Reads the password: prompts twice without echo when stdin is a terminal, else reads one
/// line (without its line ending) from stdin.
///
/// # Errors
/// A message for the user (too short, mismatch, I/O).
pub fn read_password(name: &str) -> Result<Zeroizing<String>, String> {
    let password = if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password(format!("Password for {name}: ")).map_err(|e| e.to_string())?,
        );
        let again = Zeroizing::new(rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?);
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    } else {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Zeroizing::new(strip_line_end(&line).to_owned())
    };
    check(&password)?;
    Ok(password)
}

fn strip_line_end(s: &str) -> &str {
    s.strip_suffix('\n')
        .map_or(s, |s| s.strip_suffix('\r').unwrap_or(s))
}

fn check(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!("the password must have at least {MIN_LEN} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_and_length() {
        assert_eq!(strip_line_end("abc\r\n"), "abc");
        assert_eq!(strip_line_end("abc\n"), "abc");
        assert_eq!(strip_line_end("a b "), "a b ");
        assert!(check("short").is_err());
        assert!(check("long enough").is_ok());
    }
}
