//! From bytes to a validated value: pre-scan, deserialize with a path, validate.

use crate::config::JsonConfig;
use crate::field_error::{FieldError, field_errors_from_validation, from_serde};
use crate::rejection::Rejection;
use crate::scan::{ScanError, scan};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use validator::Validate;

impl JsonConfig {
    /// Parses `body` as a `T` under these limits, without validating it: the pre-scan (depth,
    /// array lengths), a syntax-only pass (so malformed input is always a 400, whatever the
    /// type), then serde_json into `T` with the path of the first failing field. The body size is the caller's business (the extractor
    /// enforces it while reading).
    ///
    /// ```
    /// use mlguard_validate::{JsonConfig, Rejection};
    ///
    /// let config = JsonConfig::default();
    /// let v: Vec<f64> = config.parse(b"[1.5, 2]")?;
    /// assert_eq!(v, [1.5, 2.0]);
    /// let err = config.parse::<Vec<f64>>(br#"[1, "NaN"]"#).unwrap_err();
    /// assert_eq!(err.status(), 422);
    /// assert_eq!(err.field_errors()[0].pointer, "/1");
    /// assert_eq!(config.parse::<f64>(b"1e309").unwrap_err().status(), 400);
    /// # Ok::<(), Rejection>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Rejection::TooDeep`], [`Rejection::TooManyItems`], [`Rejection::Syntax`] or
    /// [`Rejection::Decode`].
    pub fn parse<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, Rejection> {
        scan(body, self.max_depth(), self.max_array_len()).map_err(|e| match e {
            ScanError::TooDeep { limit } => Rejection::TooDeep { limit },
            ScanError::TooManyItems { pointer, limit } => Rejection::TooManyItems {
                error: FieldError::new(pointer, "max_items", format!("must have at most {limit} items"))
                    .with_param("max", limit.into()),
                limit,
            },
        })?;
        // Syntax first, over the whole body, without building anything: a malformed body is a
        // 400 even when the typed pass would have stopped earlier at an unknown field (422).
        let mut de = serde_json::Deserializer::from_slice(body);
        serde::de::IgnoredAny::deserialize(&mut de).map_err(|e| syntax(&e))?;
        de.end().map_err(|e| syntax(&e))?;
        let mut de = serde_json::Deserializer::from_slice(body);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let (inner, path) = (e.inner(), e.path());
            match inner.classify() {
                Category::Data => Rejection::Decode(from_serde(path, inner)),
                _ => syntax(inner),
            }
        })?;
        de.end().map_err(|e| syntax(&e))?;
        Ok(value)
    }

    /// [`parse`](Self::parse), then `T::validate`. A validation failure lists every failing
    /// field (at most [`max_reported_errors`](Self::max_reported_errors); the rest are counted).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse), and [`Rejection::Invalid`].
    pub fn parse_validated<T: DeserializeOwned + Validate>(&self, body: &[u8]) -> Result<T, Rejection> {
        let value: T = self.parse(body)?;
        if let Err(errors) = value.validate() {
            let mut errors = field_errors_from_validation(&errors);
            let total = errors.len();
            errors.truncate(self.max_reported_errors());
            return Err(Rejection::Invalid { errors, total });
        }
        Ok(value)
    }
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
