//! The feature schema: names, optional plausible ranges, and the input checks built on them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// A plausible range for one feature. Either bound may be inclusive or exclusive.
///
/// ```
/// use mlguard_model::ValueRange;
/// let cm = ValueRange::new(0.0, false, 100.0, true).unwrap(); // (0, 100]
/// assert!(cm.contains(5.1));
/// assert!(!cm.contains(0.0));
/// assert_eq!(cm.to_string(), "(0, 100]");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueRange {
    /// Lower bound.
    pub min: f64,
    /// Whether `min` itself is allowed.
    pub min_inclusive: bool,
    /// Upper bound.
    pub max: f64,
    /// Whether `max` itself is allowed.
    pub max_inclusive: bool,
}

impl ValueRange {
    /// A range; `None` if a bound is not finite or `min > max`.
    #[must_use]
    pub fn new(min: f64, min_inclusive: bool, max: f64, max_inclusive: bool) -> Option<Self> {
        let range = Self {
            min,
            min_inclusive,
            max,
            max_inclusive,
        };
        range.is_valid().then_some(range)
    }

    /// True when both bounds are finite and ordered.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.min.is_finite() && self.max.is_finite() && self.min <= self.max
    }

    /// Whether `value` lies in the range (NaN never does).
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        let above = if self.min_inclusive {
            value >= self.min
        } else {
            value > self.min
        };
        let below = if self.max_inclusive {
            value <= self.max
        } else {
            value < self.max
        };
        above && below
    }
}

impl fmt::Display for ValueRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = if self.min_inclusive { '[' } else { '(' };
        let close = if self.max_inclusive { ']' } else { ')' };
        write!(f, "{open}{}, {}{close}", self.min, self.max)
    }
}

/// One input feature: its name and optional plausible range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// Human-readable name (for iris: `sepal length`, ...).
    pub name: String,
    /// Values outside this range are refused before prediction, when set.
    pub range: Option<ValueRange>,
}

/// The ordered list of features a model expects.
///
/// ```
/// use mlguard_model::{Feature, FeatureSchema, InputError};
/// let schema = FeatureSchema::new(vec![
///     Feature { name: "a".into(), range: None },
///     Feature { name: "b".into(), range: None },
/// ]);
/// assert!(schema.check(&[1.0, 2.0]).is_ok());
/// assert!(matches!(schema.check(&[1.0]), Err(InputError::WrongFeatureCount { .. })));
/// assert!(matches!(schema.check(&[1.0, f64::NAN]), Err(InputError::NotANumber { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeatureSchema {
    features: Vec<Feature>,
}

impl FeatureSchema {
    /// A schema from its features, in input order.
    #[must_use]
    pub fn new(features: Vec<Feature>) -> Self {
        Self { features }
    }

    /// The features, in input order.
    #[must_use]
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// Number of features a sample must have.
    #[must_use]
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// True if the schema has no features.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// Feature names, in input order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.features.iter().map(|f| f.name.as_str())
    }

    /// Checks one sample: exact length, every value finite, every value in its range.
    ///
    /// # Errors
    /// The first problem found, as an [`InputError`].
    pub fn check(&self, sample: &[f64]) -> Result<(), InputError> {
        if sample.len() != self.features.len() {
            return Err(InputError::WrongFeatureCount {
                expected: self.features.len(),
                found: sample.len(),
            });
        }
        for (value, feature) in sample.iter().zip(&self.features) {
            if value.is_nan() {
                return Err(InputError::NotANumber {
                    feature: feature.name.clone(),
                });
            }
            if value.is_infinite() {
                return Err(InputError::Infinite {
                    feature: feature.name.clone(),
                });
            }
            if let Some(range) = &feature.range
                && !range.contains(*value)
            {
                return Err(InputError::OutOfRange {
                    feature: feature.name.clone(),
                    value: *value,
                    range: range.to_string(),
                });
            }
        }
        Ok(())
    }
}
