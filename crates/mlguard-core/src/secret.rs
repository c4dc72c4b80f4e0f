//! [`Secret`]: a configuration string (a signing secret, a key, a URL with a password) that
//! never reaches logs, `Debug` output or error bodies, and is wiped from memory on drop.

use std::fmt;
use zeroize::Zeroizing;

/// A secret configuration value (JWT secret, Fernet key, a URL with a password).
/// Its `Debug` prints `Secret(<redacted>)` (it has no `Display`); the memory is wiped on drop.
///
/// ```
/// let s = mlguard_core::Secret::new("hunter2-hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// assert_eq!(s.expose(), "hunter2-hunter2");
///
/// // In a settings struct: deserialized from a string, and `Debug` derived safely.
/// #[derive(Debug, serde::Deserialize)]
/// struct Settings { jwt_secret: Option<mlguard_core::Secret> }
/// let s: Settings = serde_json::from_str(r#"{"jwt_secret": "hunter2-hunter2"}"#).unwrap();
/// assert_eq!(format!("{s:?}"), "Settings { jwt_secret: Some(Secret(<redacted>)) }");
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

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}
