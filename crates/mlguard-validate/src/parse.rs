//! From bytes to a validated value: pre-scan, parse, decode listing every error, validate.

use crate::config::JsonConfig;
use crate::decode::{Node, decode};
use crate::field_error::{FieldError, field_errors_from_validation};
use crate::rejection::Rejection;
use crate::scan::{ScanError, scan};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use validator::Validate;

impl JsonConfig {
    /// Parses `body` as a `T` under these limits, without validating it: the pre-scan (depth,
    /// array lengths), a parse of the whole body (so malformed input is always a 400, whatever
    /// the type), then the decoding into `T`, which reads structs only from JSON objects and
    /// lists every decoding error (a wrong type, a missing or unknown or duplicate field), at
    /// most [`max_reported_errors`](Self::max_reported_errors) of them. The body size is the
    /// caller's business (the extractor enforces it while reading).
    ///
    /// ```
    /// use mlguard_validate::{JsonConfig, Rejection};
    ///
    /// let config = JsonConfig::default();
    /// let v: Vec<f64> = config.parse(b"[1.5, 2]")?;
    /// assert_eq!(v, [1.5, 2.0]);
    /// let err = config.parse::<Vec<f64>>(br#"[1, "NaN", true]"#).unwrap_err();
    /// assert_eq!(err.status(), 422);
    /// assert_eq!(err.field_errors()[0].pointer, "/1");
    /// assert_eq!(err.field_errors()[1].pointer, "/2");
    /// assert_eq!(config.parse::<f64>(b"1e309").unwrap_err().status(), 400);
    /// # Ok::<(), Rejection>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Rejection::TooDeep`], [`Rejection::TooManyItems`], [`Rejection::Syntax`] or
    /// [`Rejection::Decode`].
    pub fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, Rejection> {
        let tree = self.tree(body)?;
        match decode::<T>(&tree, self.max_passes()) {
            (Some(value), errors) if errors.is_empty() => Ok(value),
            (_, errors) => Err(self.decode_rejection(errors)),
        }
    }

    /// [`parse`](Self::parse), then `T::validate`. A validation failure lists every failing
    /// field (at most [`max_reported_errors`](Self::max_reported_errors); the rest are counted).
    /// When decoding failed, the answer lists the decoding errors *and* the validation errors
    /// of the fields that did decode, as FastAPI does: `{"sepal_length": 500}` names the
    /// value out of range and the three missing fields at once.
    ///
    /// ```
    /// use mlguard_validate::JsonConfig;
    /// use serde::Deserialize;
    /// use validator::Validate;
    ///
    /// #[derive(Debug, Deserialize, Validate)]
    /// struct Iris {
    ///     #[validate(range(min = 0.0, max = 100.0))]
    ///     sepal_length: f64,
    ///     sepal_width: f64,
    ///     petal_length: f64,
    /// }
    ///
    /// let err = JsonConfig::default()
    ///     .parse_validated::<Iris>(br#"{"sepal_length": 500}"#)
    ///     .unwrap_err();
    /// let found: Vec<(&str, &str)> =
    ///     err.field_errors().iter().map(|e| (e.pointer.as_str(), &*e.code)).collect();
    /// assert_eq!(
    ///     found,
    ///     [("/petal_length", "missing"), ("/sepal_length", "range"), ("/sepal_width", "missing")]
    /// );
    /// ```
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse), and [`Rejection::Invalid`].
    pub fn parse_validated<T: DeserializeOwned + Validate>(&self, body: &[u8]) -> Result<T, Rejection> {
        let tree = self.tree(body)?;
        let (value, mut errors) = decode::<T>(&tree, self.max_passes());
        match value {
            Some(value) if errors.is_empty() => match value.validate() {
                Ok(()) => Ok(value),
                Err(invalid) => {
                    let mut errors = field_errors_from_validation(&invalid);
                    let total = errors.len();
                    errors.truncate(self.max_reported_errors());
                    Err(Rejection::Invalid { errors, total })
                }
            },
            // The value holds placeholders where decoding failed: its validation errors are
            // listed too, except those that touch a field that failed to decode.
            Some(value) => {
                if let Err(invalid) = value.validate() {
                    let valid: Vec<FieldError> = field_errors_from_validation(&invalid)
                        .into_iter()
                        .filter(|v| !errors.iter().any(|d| related(&d.pointer, &v.pointer)))
                        .collect();
                    errors.extend(valid);
                    errors.sort_by(|a, b| a.pointer.cmp(&b.pointer).then_with(|| a.code.cmp(&b.code)));
                }
                Err(self.decode_rejection(errors))
            }
            None => Err(self.decode_rejection(errors)),
        }
    }

    /// The pre-scan (depth, array lengths), then the whole body parsed into a tree that
    /// keeps duplicate keys: a malformed body is a 400 whatever the type.
    fn tree<'b>(&self, body: &'b [u8]) -> Result<Node<'b>, Rejection> {
        scan(body, self.max_depth(), self.max_array_len()).map_err(|e| match e {
            ScanError::TooDeep { limit } => Rejection::TooDeep { limit },
            ScanError::TooManyItems { pointer, limit } => Rejection::TooManyItems {
                error: FieldError::new(pointer, "max_items", format!("must have at most {limit} items"))
                    .with_param("max", limit.into()),
                limit,
            },
        })?;
        let mut de = serde_json::Deserializer::from_slice(body);
        let tree = Node::deserialize(&mut de).map_err(|e| syntax(&e))?;
        de.end().map_err(|e| syntax(&e))?;
        Ok(tree)
    }

    /// Decoding passes allowed: each one after the first learns one error that only the
    /// type's visitor can see (a missing field, a value a custom `Deserialize` refuses).
    fn max_passes(&self) -> usize {
        self.max_reported_errors().saturating_add(16)
    }

    fn decode_rejection(&self, mut errors: Vec<FieldError>) -> Rejection {
        let total = errors.len();
        errors.truncate(self.max_reported_errors());
        Rejection::Decode { errors, total }
    }
}

/// Whether one pointer is the other or contains it (`/a` and `/a/0`, not `/a` and `/ab`).
fn related(a: &str, b: &str) -> bool {
    let within = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    within(a, b) || within(b, a)
}

fn syntax(e: &serde_json::Error) -> Rejection {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    // Syntax messages are fixed phrases ("expected value", "number out of range", "EOF while
    // parsing a string"); they never quote the input.
    let reason = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    Rejection::Syntax {
        reason,
        line: e.line(),
        column: e.column(),
    }
}
