//! [`JsonPointer`]: RFC 6901 JSON Pointers, to say where in a token's claims the roles are.
//!
//! A pointer is empty (the whole document) or a sequence of `/`-prefixed reference tokens, in
//! which `~1` stands for `/` and `~0` for `~` (decoded in that order, so `~01` is `~1`). Any
//! other `~` is an error, caught when the pointer is parsed (at configuration time), never
//! per request.

use serde_json::{Map, Value};
use std::fmt;

/// Why a string is not an RFC 6901 JSON Pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointerError {
    /// A non-empty pointer must start with `/`.
    #[error("a JSON Pointer must be empty or start with '/'")]
    MissingSlash,
    /// A `~` not followed by `0` or `1`, at this byte offset.
    #[error("'~' at byte {0} is not followed by '0' or '1'")]
    BadEscape(usize),
}

/// A parsed RFC 6901 JSON Pointer: empty (the whole document) or `/`-prefixed reference
/// tokens, in which `~1` stands for `/` and `~0` for `~` (decoded in that order, so `~01` is
/// `~1`). Any other `~` is an error, caught when the pointer is parsed.
///
/// ```
/// use mlguard_auth::jwt::JsonPointer;
/// use serde_json::json;
///
/// let keycloak = JsonPointer::parse("/realm_access/roles").unwrap();
/// assert_eq!(keycloak.tokens(), ["realm_access", "roles"]);
/// let namespaced = JsonPointer::parse("/https:~1~1example.com~1roles").unwrap();
/// assert_eq!(namespaced.tokens(), ["https://example.com/roles"]);
///
/// let claims = json!({"realm_access": {"roles": ["admin"]}, "https://example.com/roles": "user"});
/// assert_eq!(keycloak.resolve(&claims), Some(&json!(["admin"])));
/// assert_eq!(namespaced.resolve(&claims), Some(&json!("user")));
/// assert!(JsonPointer::parse("realm_access").is_err()); // no leading `/`
/// assert!(JsonPointer::parse("/a~2b").is_err()); // `~` must be followed by 0 or 1
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonPointer {
    text: String,
    tokens: Vec<String>,
}

impl fmt::Debug for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPointer({:?})", self.text)
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for JsonPointer {
    type Err = PointerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl JsonPointer {
    /// Parses `s` (RFC 6901 section 3 and 4).
    pub fn parse(s: &str) -> Result<Self, PointerError> {
        if s.is_empty() {
            return Ok(Self {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let rest = s.strip_prefix('/').ok_or(PointerError::MissingSlash)?;
        let mut tokens = Vec::new();
        let mut offset = 1;
        for raw in rest.split('/') {
            tokens.push(unescape(raw, offset)?);
            offset += raw.len() + 1;
        }
        Ok(Self {
            text: s.to_owned(),
            tokens,
        })
    }

    /// The pointer naming these reference tokens (each escaped: `~` as `~0`, `/` as `~1`).
    pub fn from_tokens<I, T>(tokens: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let tokens: Vec<String> = tokens.into_iter().map(Into::into).collect();
        let mut text = String::new();
        for token in &tokens {
            text.push('/');
            text.push_str(&token.replace('~', "~0").replace('/', "~1"));
        }
        Self { text, tokens }
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The decoded reference tokens.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The value this pointer names in `document`, if any. Array elements are addressed by
    /// decimal indexes without leading zeros; `-` (past the end) names nothing.
    pub fn resolve<'v>(&self, document: &'v Value) -> Option<&'v Value> {
        self.tokens.iter().try_fold(document, step)
    }

    /// Like [`resolve`](Self::resolve) on an object given as its map (a token's claims);
    /// `None` for the empty pointer.
    pub fn resolve_in<'v>(&self, object: &'v Map<String, Value>) -> Option<&'v Value> {
        let (first, rest) = self.tokens.split_first()?;
        rest.iter().try_fold(object.get(first)?, step)
    }
}

fn step<'v>(value: &'v Value, token: &String) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(token),
        Value::Array(list) => {
            let valid = token == "0"
                || (!token.is_empty()
                    && !token.starts_with('0')
                    && token.bytes().all(|b| b.is_ascii_digit()));
            if valid {
                list.get(token.parse::<usize>().ok()?)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Decodes one reference token: `~1` -> `/`, then `~0` -> `~`; any other `~` is an error.
fn unescape(raw: &str, offset: usize) -> Result<String, PointerError> {
    if !raw.contains('~') {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some((_, '0')) => out.push('~'),
                Some((_, '1')) => out.push('/'),
                _ => return Err(PointerError::BadEscape(offset + i)),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_in_order() {
        assert_eq!(JsonPointer::parse("/~01").unwrap().tokens(), ["~1"]);
        assert_eq!(JsonPointer::parse("/a/~1/").unwrap().tokens(), ["a", "/", ""]);
        assert_eq!(JsonPointer::parse("/a~").unwrap_err(), PointerError::BadEscape(2));
        assert_eq!(
            JsonPointer::parse("/x/a~x").unwrap_err(),
            PointerError::BadEscape(4)
        );
    }
}
