//! [`Permission`]: a validated `resource:action` string, with `*` wildcards.
//!
//! # Grammar
//!
//! ```text
//! permission = "*" / segment 1*( ":" segment )
//! segment    = "*" / 1*( %x61-7A / DIGIT / "_" / "." / "-" )   ; a-z 0-9 _ . -
//! ```
//!
//! At most [`MAX_SEGMENTS`] segments and [`MAX_LEN`] bytes. Upper case, spaces, empty segments
//! and a `*` that is only part of a segment (`model:pred*`) are rejected: the permission strings
//! in a policy are compared byte for byte, so one spelling per permission is what keeps
//! `Model:Predict` from silently granting nothing (or, worse, something else).
//!
//! # Matching
//!
//! A granted permission `g` *implies* a needed permission `n` when, segment by segment, each
//! segment of `g` is `*` or equal to the one of `n`, and
//! - both have the same number of segments, or
//! - the last segment of `g` is `*` and `n` has at least as many segments as `g`: a trailing
//!   `*` covers everything below it (`model:*` implies `model:predict` and
//!   `model:iris:predict`; `*` implies everything).
//!
//! A `*` in a *needed* permission is literal: only a `*` grant at that position implies it. So
//! requiring `model:*` means "all of model", which `model:predict` does not grant.

use std::fmt;
use std::str::FromStr;

/// The most segments a permission may have.
pub const MAX_SEGMENTS: usize = 8;
/// The longest permission, in bytes.
pub const MAX_LEN: usize = 128;

/// Why a permission string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PermissionError {
    /// The string is empty.
    #[error("permission is empty")]
    Empty,
    /// The string is longer than [`MAX_LEN`] bytes.
    #[error("permission is longer than {MAX_LEN} bytes")]
    TooLong,
    /// More than [`MAX_SEGMENTS`] segments.
    #[error("permission has more than {MAX_SEGMENTS} segments")]
    TooManySegments,
    /// A single segment other than `*` (a permission is `resource:action`).
    #[error("permission needs at least two segments (`resource:action`) unless it is `*`")]
    MissingAction,
    /// An empty segment (`model:`, `:predict`, `a::b`).
    #[error("permission has an empty segment")]
    EmptySegment,
    /// A character outside `a-z 0-9 _ . -`, or a `*` that is not a whole segment.
    #[error("permission has a character outside [a-z0-9_.-] or a partial `*` wildcard")]
    InvalidCharacter,
}

/// Checks `s` against the grammar; usable in constants (see [`crate::RequiredPermission`]).
///
/// ```
/// use mlguard_rbac::permission::check;
/// assert!(check("model:predict").is_ok());
/// assert!(check("Model:Predict").is_err());
/// ```
pub const fn check(s: &str) -> Result<(), PermissionError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(PermissionError::Empty);
    }
    if b.len() > MAX_LEN {
        return Err(PermissionError::TooLong);
    }
    let mut segments = 1;
    let mut seg_len = 0;
    let mut seg_star = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b':' {
            if seg_len == 0 {
                return Err(PermissionError::EmptySegment);
            }
            segments += 1;
            if segments > MAX_SEGMENTS {
                return Err(PermissionError::TooManySegments);
            }
            seg_len = 0;
            seg_star = false;
        } else if c == b'*' {
            if seg_len != 0 {
                return Err(PermissionError::InvalidCharacter);
            }
            seg_star = true;
            seg_len = 1;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'.' || c == b'-' {
            if seg_star {
                return Err(PermissionError::InvalidCharacter);
            }
            seg_len += 1;
        } else {
            return Err(PermissionError::InvalidCharacter);
        }
        i += 1;
    }
    if seg_len == 0 {
        return Err(PermissionError::EmptySegment);
    }
    if segments == 1 && !seg_star {
        return Err(PermissionError::MissingAction);
    }
    Ok(())
}

/// A validated permission such as `model:predict`, `model:*` or `*`.
///
/// See the [module docs](self) for the grammar and the matching rule.
///
/// ```
/// use mlguard_rbac::Permission;
///
/// let grant: Permission = "model:*".parse()?;
/// let need = Permission::parse("model:predict")?;
/// assert!(grant.implies(&need));
/// assert!(!need.implies(&grant));
/// assert!(Permission::parse("model").is_err());
/// # Ok::<(), mlguard_rbac::PermissionError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(String);

impl Permission {
    /// Parses and validates `s`.
    pub fn parse(s: &str) -> Result<Self, PermissionError> {
        check(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The permission as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it contains a `*` segment.
    pub fn is_wildcard(&self) -> bool {
        self.segments().any(|s| s == "*")
    }

    /// Its segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split(':')
    }

    /// Whether holding `self` grants `needed` (see the [module docs](self)).
    ///
    /// ```
    /// use mlguard_rbac::Permission;
    /// let p = |s| Permission::parse(s).unwrap();
    /// assert!(p("*").implies(&p("crypto:decrypt")));
    /// assert!(p("*:read").implies(&p("model:read")));
    /// assert!(!p("*:read").implies(&p("model:write")));
    /// assert!(!p("model:predict").implies(&p("model:*")));
    /// ```
    pub fn implies(&self, needed: &Permission) -> bool {
        implies_raw(&self.0, &needed.0)
    }
}

/// [`Permission::implies`] on strings already known to be valid.
pub(crate) fn implies_raw(grant: &str, needed: &str) -> bool {
    if grant == needed {
        return true;
    }
    let mut grant = grant.split(':').peekable();
    let mut need = needed.split(':');
    while let Some(g) = grant.next() {
        let last = grant.peek().is_none();
        let Some(n) = need.next() else {
            return false;
        };
        if g == "*" && last {
            return true;
        }
        if g != "*" && g != n {
            return false;
        }
    }
    need.next().is_none()
}

/// Whether the unvalidated string `grant` (a direct grant or a scope entry) is a valid
/// permission that implies `needed`. Invalid strings imply nothing.
pub(crate) fn str_implies(grant: &str, needed: &Permission) -> bool {
    check(grant).is_ok() && implies_raw(grant, needed.as_str())
}

impl FromStr for Permission {
    type Err = PermissionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Permission {
    type Error = PermissionError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Permission {
    type Error = PermissionError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        check(&s)?;
        Ok(Self(s))
    }
}

impl AsRef<str> for Permission {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permission({:?})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::try_from(s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Permission {
        Permission::parse(s).unwrap()
    }

    #[test]
    fn malformed_permissions_table() {
        use PermissionError::*;
        let long = format!("a:{}", "b".repeat(MAX_LEN));
        let cases: &[(&str, PermissionError)] = &[
            ("", Empty),
            ("model", MissingAction),
            ("model:", EmptySegment),
            (":predict", EmptySegment),
            ("a::b", EmptySegment),
            (":", EmptySegment),
            ("Model:predict", InvalidCharacter),
            ("model:Predict", InvalidCharacter),
            ("model: predict", InvalidCharacter),
            ("model:predict ", InvalidCharacter),
            ("model:pred*", InvalidCharacter),
            ("model:*x", InvalidCharacter),
            ("model:**", InvalidCharacter),
            ("mödel:predict", InvalidCharacter),
            ("model:predict\n", InvalidCharacter),
            ("model/predict:x", InvalidCharacter),
            ("a:b:c:d:e:f:g:h:i", TooManySegments),
            (&long, TooLong),
        ];
        for (input, want) in cases {
            assert_eq!(Permission::parse(input).err(), Some(*want), "{input:?}");
        }
    }

    #[test]
    fn well_formed_permissions() {
        for ok in [
            "*",
            "model:predict",
            "model:*",
            "*:read",
            "*:*",
            "crypto:decrypt",
            "model:iris-v2.1:predict",
            "a_b:c.d-e",
            "a:b:c:d:e:f:g:h",
        ] {
            assert_eq!(p(ok).as_str(), ok);
        }
    }

    #[test]
    fn wildcard_matching() {
        let cases = [
            ("*", "model:predict", true),
            ("*", "a:b:c", true),
            ("model:*", "model:predict", true),
            ("model:*", "model:iris:predict", true),
            ("model:*", "models:predict", false),
            ("model:*", "crypto:decrypt", false),
            ("*:read", "model:read", true),
            ("*:read", "model:write", false),
            ("*:read", "model:read:all", false),
            ("model:predict", "model:predict", true),
            ("model:predict", "model:predict:x", false),
            ("model:predict:x", "model:predict", false),
            ("model:predict", "model:*", false),
            ("model:*", "model:*", true),
            ("model:*", "*", false),
            ("*", "*", true),
            ("model:*:read", "model:iris:read", true),
            ("model:*:read", "model:iris:write", false),
        ];
        for (grant, need, want) in cases {
            assert_eq!(p(grant).implies(&p(need)), want, "{grant} implies {need}");
        }
    }

    #[test]
    fn serde_validates() {
        let ok: Permission = serde_json::from_str("\"model:predict\"").unwrap();
        assert_eq!(ok, p("model:predict"));
        assert!(serde_json::from_str::<Permission>("\"Model\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"model:predict\"");
    }
}
