//! [`Secret`]: a configuration string that never reaches logs or `Debug` output.

use std::fmt;
use zeroize::Zeroizing;

/// A secret configuration value (JWT secret, Fernet key, a URL with a password).
/// Its `Debug` prints `Secret(<redacted>)`; the memory is wiped on drop.
///
/// ```
/// let s = ml_api::config::Secret::new("hunter2-hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// assert_eq!(s.expose(), "hunter2-hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
