//! Validators for model inputs, for validator's `custom` attribute or for your own wrappers.
//!
//! The ones that take only the value plug straight into `#[validate(custom(function = ...))]`.
//! The `check_*` ones take a bound; wrap them in a one-line function for your type:
//!
//! ```
//! use mlguard_validate::validators::{check_batch_size, check_feature_vector};
//! use serde::Deserialize;
//! use validator::{Validate, ValidationError};
//!
//! fn four_features(row: &[f64]) -> Result<(), ValidationError> {
//!     check_feature_vector(row, 4)
//! }
//! fn at_most_100_rows(rows: &[Vec<f64>]) -> Result<(), ValidationError> {
//!     check_batch_size(rows, 100)
//! }
//!
//! #[derive(Deserialize, Validate)]
//! struct Batch {
//!     #[validate(custom(function = "at_most_100_rows"))]
//!     rows: Vec<Vec<f64>>,
//!     #[validate(custom(function = "four_features"))]
//!     one: Vec<f64>,
//!     #[validate(custom(function = "mlguard_validate::validators::finite"), range(min = 0.0, max = 1.0))]
//!     threshold: f64,
//! }
//!
//! let ok = Batch { rows: vec![vec![1.0; 4]], one: vec![0.5; 4], threshold: 0.5 };
//! assert!(ok.validate().is_ok());
//! let bad = Batch { rows: vec![], one: vec![0.5; 3], threshold: f64::NAN };
//! let errors = bad.validate().unwrap_err();
//! assert!(errors.field_errors().contains_key("one"));
//! assert!(errors.field_errors().contains_key("threshold"));
//! ```
//!
//! Note that validator's own `range` lets NaN through (every comparison with NaN is false, and
//! it only fails on a comparison that succeeds): pair it with [`finite`], or use
//! [`check_range`]. serde_json never produces NaN or infinity (it has no syntax for them, the
//! string `"NaN"` is not a number, and `1e309` is refused as out of range), but values built
//! in code or decoded from other formats can carry them.

use serde_json::Value;
use std::borrow::Cow;
use validator::ValidationError;

fn error(code: &'static str, message: String) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Owned(message))
}

/// Refuses NaN and ±infinity. Code `finite`.
///
/// Takes the value, not a reference: validator's derive passes numbers by value to `custom`
/// functions (and collections by reference).
///
/// ```
/// use mlguard_validate::validators::finite;
/// assert!(finite(1.5).is_ok());
/// assert!(finite(f64::NAN).is_err());
/// assert!(finite(f64::INFINITY).is_err());
/// ```
///
/// # Errors
///
/// A [`ValidationError`] with code `finite`.
pub fn finite(value: f64) -> Result<(), ValidationError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(error("finite", "must be a finite number".into()))
    }
}

/// [`finite`] for `f32`.
///
/// # Errors
///
/// A [`ValidationError`] with code `finite`.
pub fn finite_f32(value: f32) -> Result<(), ValidationError> {
    finite(f64::from(value))
}

/// Refuses a slice with any NaN or infinite element; the error names the first bad index
/// (param `index`), never the value. Code `finite`.
///
/// ```
/// assert!(mlguard_validate::validators::all_finite(&[1.0, f64::NAN]).is_err());
/// ```
///
/// # Errors
///
/// A [`ValidationError`] with code `finite`.
pub fn all_finite(values: &[f64]) -> Result<(), ValidationError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => {
            let mut e = error("finite", format!("item {i} must be a finite number"));
            e.add_param(Cow::Borrowed("index"), &i);
            Err(e)
        }
    }
}

/// `min <= value <= max`, and refuses NaN (unlike validator's `range`). Code `range`, params
/// `min` and `max`.
///
/// ```
/// use mlguard_validate::validators::check_range;
/// assert!(check_range(4.5, 0.0, 10.0).is_ok());
/// assert!(check_range(-0.1, 0.0, 10.0).is_err());
/// assert!(check_range(f64::NAN, 0.0, 10.0).is_err());
/// ```
///
/// # Errors
///
/// A [`ValidationError`] with code `range`.
pub fn check_range(value: f64, min: f64, max: f64) -> Result<(), ValidationError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    let mut e = error("range", format!("must be between {min} and {max}"));
    e.add_param(Cow::Borrowed("min"), &min);
    e.add_param(Cow::Borrowed("max"), &max);
    Err(e)
}

/// Exactly `expected` items. Code `length`, param `equal`.
///
/// # Errors
///
/// A [`ValidationError`] with code `length`.
pub fn check_len<T>(values: &[T], expected: usize) -> Result<(), ValidationError> {
    if values.len() == expected {
        return Ok(());
    }
    let mut e = error("length", format!("must have exactly {expected} items"));
    e.add_param(Cow::Borrowed("equal"), &expected);
    Err(e)
}

/// A feature vector: exactly `expected` finite values (codes `length`, then `finite`).
///
/// ```
/// use mlguard_validate::validators::check_feature_vector;
/// assert!(check_feature_vector(&[5.1, 3.5, 1.4, 0.2], 4).is_ok());
/// assert_eq!(check_feature_vector(&[5.1, 3.5], 4).unwrap_err().code, "length");
/// assert_eq!(check_feature_vector(&[5.1, 3.5, f64::INFINITY, 0.2], 4).unwrap_err().code, "finite");
/// ```
///
/// # Errors
///
/// A [`ValidationError`] with code `length` or `finite`.
pub fn check_feature_vector(values: &[f64], expected: usize) -> Result<(), ValidationError> {
    check_len(values, expected)?;
    all_finite(values)
}

/// A batch of 1 to `max` items. Code `batch_size`, params `min` (1) and `max`.
///
/// Cap batches at what one request may cost you (model time, memory); the array bound of
/// [`JsonConfig`](crate::JsonConfig) is a coarser, structural limit applied before parsing.
///
/// ```
/// use mlguard_validate::validators::check_batch_size;
/// assert!(check_batch_size(&[1, 2, 3], 3).is_ok());
/// assert!(check_batch_size(&[1, 2, 3, 4], 3).is_err());
/// assert!(check_batch_size::<u8>(&[], 3).is_err());
/// ```
///
/// # Errors
///
/// A [`ValidationError`] with code `batch_size`.
pub fn check_batch_size<T>(items: &[T], max: usize) -> Result<(), ValidationError> {
    if (1..=max).contains(&items.len()) {
        return Ok(());
    }
    let mut e = error("batch_size", format!("must have between 1 and {max} items"));
    e.params.insert(Cow::Borrowed("min"), Value::from(1));
    e.add_param(Cow::Borrowed("max"), &max);
    Err(e)
}
