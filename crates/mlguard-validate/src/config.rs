//! Limits for [`ValidatedJson`](crate::ValidatedJson), validated once at construction.

use thiserror::Error;

/// The default body limit: 64 KiB. An iris request is under 100 bytes; a batch of 1 000
/// four-feature rows is about 40 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// The default nesting bound: 32 levels of arrays and objects.
pub const DEFAULT_MAX_DEPTH: usize = 32;
/// The default bound on the number of items in any one JSON array: 1 024.
pub const DEFAULT_MAX_ARRAY_LEN: usize = 1024;
/// The default number of per-field errors reported in one 422 body: 32.
pub const DEFAULT_MAX_REPORTED_ERRORS: usize = 32;
/// The highest nesting bound accepted. serde_json stops at 128 levels on its own; ours must
/// trip first so the answer is always our explicit 400.
pub const MAX_DEPTH_CEILING: usize = 127;
/// The highest body limit accepted: 64 MiB. Larger JSON bodies belong in a streaming API.
pub const MAX_BODY_CEILING: usize = 64 * 1024 * 1024;

/// A configuration value was out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_body_bytes` was 0 or above [`MAX_BODY_CEILING`].
    #[error("max_body_bytes must be between 1 and {MAX_BODY_CEILING}, got {0}")]
    BodyLimit(usize),
    /// `max_depth` was 0 or above [`MAX_DEPTH_CEILING`].
    #[error("max_depth must be between 1 and {MAX_DEPTH_CEILING}, got {0}")]
    Depth(usize),
    /// `max_array_len` was 0.
    #[error("max_array_len must be at least 1")]
    ArrayLen,
    /// `max_reported_errors` was 0.
    #[error("max_reported_errors must be at least 1")]
    ReportedErrors,
    /// `max_chars` of a [`Sanitizer`](crate::Sanitizer) was 0.
    #[error("max_chars must be at least 1")]
    MaxChars,
}

/// Limits applied by [`ValidatedJson`](crate::ValidatedJson).
///
/// Put one in the request extensions (for example with `axum::Extension(config)` as a layer);
/// without one the extractor uses [`JsonConfig::default`]. The value is small and `Copy`.
///
/// | limit | default | answer when exceeded |
/// | --- | --- | --- |
/// | body size | [`DEFAULT_MAX_BODY_BYTES`] (64 KiB) | 413 |
/// | nesting depth | [`DEFAULT_MAX_DEPTH`] (32) | 400 |
/// | items in one array | [`DEFAULT_MAX_ARRAY_LEN`] (1 024) | 422, `code` `max_items` |
/// | errors listed in a 422 body | [`DEFAULT_MAX_REPORTED_ERRORS`] (32) | the rest are counted, not listed |
///
/// ```
/// use mlguard_validate::JsonConfig;
///
/// let config = JsonConfig::builder().max_body_bytes(16 * 1024).max_depth(8).build()?;
/// assert_eq!(config.max_body_bytes(), 16 * 1024);
/// assert!(JsonConfig::builder().max_depth(0).build().is_err());
/// # Ok::<(), mlguard_validate::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonConfig {
    max_body_bytes: usize,
    max_depth: usize,
    max_array_len: usize,
    max_reported_errors: usize,
}

impl Default for JsonConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_array_len: DEFAULT_MAX_ARRAY_LEN,
            max_reported_errors: DEFAULT_MAX_REPORTED_ERRORS,
        }
    }
}

impl JsonConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> JsonConfigBuilder {
        JsonConfigBuilder {
            config: Self::default(),
        }
    }

    /// The body limit in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The nesting bound (`[]` is depth 1).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// The bound on the number of items in any one array.
    pub fn max_array_len(&self) -> usize {
        self.max_array_len
    }

    /// How many per-field errors a 422 body lists at most.
    pub fn max_reported_errors(&self) -> usize {
        self.max_reported_errors
    }
}

/// Builds a [`JsonConfig`]; [`build`](Self::build) checks every value.
#[derive(Debug, Clone)]
#[must_use]
pub struct JsonConfigBuilder {
    config: JsonConfig,
}

impl JsonConfigBuilder {
    /// The body limit in bytes, enforced while reading (with or without `Content-Length`).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.config.max_body_bytes = bytes;
        self
    }

    /// The nesting bound, at most [`MAX_DEPTH_CEILING`].
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.config.max_depth = depth;
        self
    }

    /// The bound on the number of items in any one array.
    pub fn max_array_len(mut self, len: usize) -> Self {
        self.config.max_array_len = len;
        self
    }

    /// How many per-field errors a 422 body lists at most.
    pub fn max_reported_errors(mut self, n: usize) -> Self {
        self.config.max_reported_errors = n;
        self
    }

    /// Checks the values and returns the configuration.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first value out of range.
    pub fn build(self) -> Result<JsonConfig, ConfigError> {
        let c = self.config;
        if c.max_body_bytes == 0 || c.max_body_bytes > MAX_BODY_CEILING {
            return Err(ConfigError::BodyLimit(c.max_body_bytes));
        }
        if c.max_depth == 0 || c.max_depth > MAX_DEPTH_CEILING {
            return Err(ConfigError::Depth(c.max_depth));
        }
        if c.max_array_len == 0 {
            return Err(ConfigError::ArrayLen);
        }
        if c.max_reported_errors == 0 {
            return Err(ConfigError::ReportedErrors);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build() {
        assert_eq!(JsonConfig::builder().build(), Ok(JsonConfig::default()));
    }

    #[test]
    fn out_of_range_values_are_typed_errors() {
        let b = JsonConfig::builder;
        assert_eq!(b().max_body_bytes(0).build(), Err(ConfigError::BodyLimit(0)));
        assert_eq!(
            b().max_body_bytes(MAX_BODY_CEILING + 1).build(),
            Err(ConfigError::BodyLimit(MAX_BODY_CEILING + 1))
        );
        assert_eq!(b().max_depth(0).build(), Err(ConfigError::Depth(0)));
        assert_eq!(b().max_depth(128).build(), Err(ConfigError::Depth(128)));
        assert_eq!(b().max_array_len(0).build(), Err(ConfigError::ArrayLen));
        assert_eq!(
            b().max_reported_errors(0).build(),
            Err(ConfigError::ReportedErrors)
        );
        assert!(b().max_depth(MAX_DEPTH_CEILING).build().is_ok());
    }
}
