//! Labelled data: the iris set and a seeded, stratified train/test split.

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::TrainError;
use crate::schema::{Feature, FeatureSchema, ValueRange};

/// The iris class names, in label order.
pub const IRIS_CLASSES: [&str; 3] = ["setosa", "versicolor", "virginica"];

/// Samples (one row each), their class labels, and the names that go into a model file.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledData {
    features: Array2<f64>,
    labels: Vec<usize>,
    schema: FeatureSchema,
    classes: Vec<String>,
}

impl LabeledData {
    /// Checks and wraps a data set.
    ///
    /// # Errors
    /// [`TrainError::InvalidData`] when it is empty, lengths disagree, a value is not finite or a
    /// label is not below `classes.len()`.
    pub fn new(
        features: Array2<f64>,
        labels: Vec<usize>,
        schema: FeatureSchema,
        classes: Vec<String>,
    ) -> Result<Self, TrainError> {
        let bad = |m: String| Err(TrainError::InvalidData(m));
        if features.nrows() == 0 || features.ncols() == 0 {
            return bad("no samples or no features".into());
        }
        if features.nrows() != labels.len() {
            return bad(format!(
                "{} samples but {} labels",
                features.nrows(),
                labels.len()
            ));
        }
        if features.ncols() != schema.len() {
            return bad(format!(
                "{} feature columns but {} feature names",
                features.ncols(),
                schema.len()
            ));
        }
        if classes.is_empty() || classes.len() > u32::MAX as usize {
            return bad("the class list is empty or too long".into());
        }
        if features.iter().any(|v| !v.is_finite()) {
            return bad("a feature value is not finite".into());
        }
        if let Some(l) = labels.iter().find(|&&l| l >= classes.len()) {
            return bad(format!("label {l} has no class name"));
        }
        Ok(Self {
            features,
            labels,
            schema,
            classes,
        })
    }

    /// The feature matrix, one sample per row.
    #[must_use]
    pub fn features(&self) -> &Array2<f64> {
        &self.features
    }

    /// The class label of each row.
    #[must_use]
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The feature schema (names and plausible ranges).
    #[must_use]
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// The class names, indexed by label.
    #[must_use]
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Number of samples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples (never, for a value built by [`Self::new`]).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The rows at `rows`, in that order.
    #[must_use]
    pub fn select(&self, rows: &[usize]) -> Self {
        Self {
            features: self.features.select(Axis(0), rows),
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            schema: self.schema.clone(),
            classes: self.classes.clone(),
        }
    }

    /// A stratified split: in each class, a seeded shuffle puts `round(n * test_fraction)`
    /// samples in the test set (at least one per class that has two or more samples).
    /// Returns `(train, test)`.
    ///
    /// # Errors
    /// [`TrainError::InvalidParam`] unless `0 < test_fraction < 1`.
    pub fn stratified_split(&self, test_fraction: f64, seed: u64) -> Result<(Self, Self), TrainError> {
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(TrainError::InvalidParam {
                name: "test_fraction",
                reason: format!("{test_fraction} is not strictly between 0 and 1"),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for class in 0..self.classes.len() {
            let mut rows: Vec<usize> = (0..self.len()).filter(|&r| self.labels[r] == class).collect();
            rows.shuffle(&mut rng);
            let n = rows.len();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let mut n_test = (n as f64 * test_fraction).round() as usize;
            if n >= 2 {
                n_test = n_test.clamp(1, n - 1);
            } else {
                n_test = 0;
            }
            test.extend_from_slice(&rows[..n_test]);
            train.extend_from_slice(&rows[n_test..]);
        }
        train.sort_unstable();
        test.sort_unstable();
        Ok((self.select(&train), self.select(&test)))
    }
}

/// The iris data set (150 samples, 4 features in cm, 3 classes) from `linfa-datasets`, with
/// plausible ranges `(0, 100]` cm on every feature.
///
/// ```
/// let iris = mlguard_model::iris();
/// assert_eq!(iris.len(), 150);
/// assert_eq!(iris.classes()[2], "virginica");
/// ```
#[must_use]
pub fn iris() -> LabeledData {
    let ds = linfa_datasets::iris();
    let range = ValueRange {
        min: 0.0,
        min_inclusive: false,
        max: 100.0,
        max_inclusive: true,
    };
    let schema = FeatureSchema::new(
        ds.feature_names()
            .iter()
            .map(|name| Feature {
                name: name.clone(),
                range: Some(range),
            })
            .collect(),
    );
    LabeledData {
        features: ds.records().to_owned(),
        labels: ds.targets().to_vec(),
        schema,
        classes: IRIS_CLASSES.iter().map(|c| (*c).to_owned()).collect(),
    }
}
