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

/// The userinfo of `url` (`user` or `user:password`, RFC 3986 section 3.2.1): what stands
/// before the last `@` of the authority, the part between `://` and the first `/`, `?` or `#`.
/// `None` when the authority has none, so an `@` in a path or query is never taken for it.
///
/// ```
/// use mlguard_core::secret::url_userinfo;
/// assert_eq!(url_userinfo("postgres://admin:pw@db/auth"), Some("admin:pw"));
/// assert_eq!(url_userinfo("https://sso/certs?who=a@b"), None);
/// ```
pub fn url_userinfo(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    authority.rfind('@').map(|at| &authority[..at])
}

/// `url` with its userinfo (see [`url_userinfo`]) replaced by `[redacted]`: safe to print.
///
/// ```
/// use mlguard_core::secret::url_without_userinfo;
/// assert_eq!(url_without_userinfo("redis://:pw@cache:6379/0"), "redis://[redacted]@cache:6379/0");
/// assert_eq!(url_without_userinfo("https://sso/certs"), "https://sso/certs");
/// ```
pub fn url_without_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    match url_userinfo(url) {
        Some(userinfo) => {
            let start = url.find("://").map_or(0, |i| i + 3);
            format!("{}[redacted]{}", &url[..start], &url[start + userinfo.len()..]).into()
        }
        None => url.into(),
    }
}
