//! The trained [`Model`]: schema, classes, metadata and the flattened forest.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::classifier::{Classifier, Prediction};
use crate::data::{LabeledData, iris};
use crate::error::{InputError, TrainError};
use crate::flat::FlatForest;
use crate::forest::ForestParams;
use crate::metadata::TrainingMetadata;
use crate::schema::FeatureSchema;
use crate::stats::TrainingStats;

/// A trained random forest classifier with its schema and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(crate) schema: FeatureSchema,
    pub(crate) classes: Vec<String>,
    pub(crate) metadata: TrainingMetadata,
    pub(crate) forest: FlatForest,
    pub(crate) stats: Option<TrainingStats>,
}

/// A freshly trained model and its held-out accuracy.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model (trained on the training split only).
    pub model: Model,
    /// Accuracy on the held-out split (also in the model's metadata).
    pub accuracy: f64,
    /// Trees for which linfa-trees never produced the canonical tree in its refits, so the exact
    /// replica's tree was used (see [`ForestParams`]); 0 on iris in practice.
    pub exact_fallbacks: usize,
}

/// Trains the default forest (100 trees, seed 0, 30% stratified hold-out) on iris, now.
///
/// This is what `ml-api train` calls.
///
/// ```
/// let trained = mlguard_model::train_default().unwrap();
/// assert!(trained.accuracy >= 0.93);
/// ```
///
/// # Errors
/// See [`ForestParams::train`].
pub fn train_default() -> Result<Trained, TrainError> {
    ForestParams::new().train_iris(SystemTime::now())
}

impl ForestParams {
    /// Splits `data` (stratified, seeded), fits on the training part, measures held-out accuracy.
    /// `trained_at` is recorded in the metadata (inject it to get byte-identical files).
    ///
    /// # Errors
    /// Bad parameters, or a tree linfa-trees failed to fit.
    pub fn train(&self, data: &LabeledData, trained_at: SystemTime) -> Result<Trained, TrainError> {
        self.validate(data.schema().len())?;
        let (train, test) = data.stratified_split(self.get_test_fraction(), self.get_seed())?;
        let (forest, exact_fallbacks) = self.fit_counting(&train)?;
        let stats = TrainingStats::from_rows(train.features()).map_err(TrainError::InvalidData)?;
        let mut model = Model {
            schema: data.schema().clone(),
            classes: data.classes().to_vec(),
            metadata: TrainingMetadata {
                seed: self.get_seed(),
                n_trees: forest.n_trees(),
                max_depth: self.get_max_depth(),
                features_per_tree: self.features_per_tree(data.schema().len()),
                feature_sampling: "per_tree".into(),
                test_fraction: self.get_test_fraction(),
                train_samples: train.len(),
                test_samples: test.len(),
                accuracy: 0.0,
                trained_at_unix: trained_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
                trainer: concat!("mlguard-model ", env!("CARGO_PKG_VERSION")).into(),
            },
            forest,
            stats: Some(stats),
        };
        let accuracy = model.accuracy_on(&test);
        model.metadata.accuracy = accuracy;
        Ok(Trained {
            model,
            accuracy,
            exact_fallbacks,
        })
    }

    /// [`Self::train`] on the iris data set.
    ///
    /// # Errors
    /// As [`Self::train`].
    pub fn train_iris(&self, trained_at: SystemTime) -> Result<Trained, TrainError> {
        self.train(&iris(), trained_at)
    }
}

impl Model {
    /// The feature schema.
    #[must_use]
    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// The class names.
    #[must_use]
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Training metadata.
    #[must_use]
    pub fn metadata(&self) -> &TrainingMetadata {
        &self.metadata
    }

    /// The flattened forest.
    #[must_use]
    pub fn forest(&self) -> &FlatForest {
        &self.forest
    }

    /// Statistics of the training split (per-feature bounds, mean, inverse covariance and a
    /// calibrated Mahalanobis threshold), for out-of-distribution checks. Every model trained by
    /// this crate has them; a model loaded from a format-1 file has none.
    ///
    /// ```
    /// let model = mlguard_model::train_default().unwrap().model;
    /// let stats = model.training_stats().unwrap();
    /// assert_eq!(stats.samples, model.metadata().train_samples);
    /// assert!(stats.mahalanobis(&[5.1, 3.5, 1.4, 0.2]) < stats.threshold);
    /// ```
    #[must_use]
    pub fn training_stats(&self) -> Option<&TrainingStats> {
        self.stats.as_ref()
    }

    /// Replaces (or removes, with `None`) the training statistics.
    ///
    /// # Errors
    /// [`InputError::WrongFeatureCount`] when `stats` does not describe the model's features.
    pub fn set_training_stats(&mut self, stats: Option<TrainingStats>) -> Result<(), InputError> {
        if let Some(s) = &stats
            && s.len() != self.schema.len()
        {
            return Err(InputError::WrongFeatureCount {
                expected: self.schema.len(),
                found: s.len(),
            });
        }
        self.stats = stats;
        Ok(())
    }

    /// Replaces the schema's plausible ranges (or clears them with `None`), one per feature.
    ///
    /// # Errors
    /// [`InputError::WrongFeatureCount`] when `ranges` does not have one entry per feature.
    pub fn set_ranges(&mut self, ranges: &[Option<crate::ValueRange>]) -> Result<(), InputError> {
        if ranges.len() != self.schema.len() {
            return Err(InputError::WrongFeatureCount {
                expected: self.schema.len(),
                found: ranges.len(),
            });
        }
        let features = self
            .schema
            .features()
            .iter()
            .zip(ranges)
            .map(|(f, r)| crate::Feature {
                name: f.name.clone(),
                range: *r,
            })
            .collect();
        self.schema = FeatureSchema::new(features);
        Ok(())
    }

    /// Predicts one sample after checking it against the schema.
    ///
    /// ```
    /// let model = mlguard_model::train_default().unwrap().model;
    /// let p = model.predict(&[5.1, 3.5, 1.4, 0.2]).unwrap();
    /// assert_eq!(p.class_name, "setosa");
    /// assert!(model.predict(&[5.1, 3.5, 1.4]).is_err());
    /// ```
    ///
    /// # Errors
    /// An [`InputError`]: wrong length, NaN, infinity, or a value outside its plausible range.
    pub fn predict(&self, sample: &[f64]) -> Result<Prediction, InputError> {
        self.schema.check(sample)?;
        let n = self.classes.len();
        let mut stack = [0u32; 8];
        let mut heap = Vec::new();
        let votes = if n <= stack.len() {
            &mut stack[..n]
        } else {
            heap.resize(n, 0);
            &mut heap[..]
        };
        self.forest.vote(sample, votes);
        Ok(self.to_prediction(votes))
    }

    /// Predicts a batch, all or nothing.
    ///
    /// # Errors
    /// [`InputError::InRow`] naming the first refused row.
    pub fn predict_batch(&self, samples: &[Vec<f64>]) -> Result<Vec<Prediction>, InputError> {
        let mut votes = vec![0u32; self.classes.len()];
        let mut out = Vec::with_capacity(samples.len());
        for (row, sample) in samples.iter().enumerate() {
            self.schema.check(sample).map_err(|e| InputError::InRow {
                row,
                source: Box::new(e),
            })?;
            votes.fill(0);
            self.forest.vote(sample, &mut votes);
            out.push(self.to_prediction(&votes));
        }
        Ok(out)
    }

    /// Highest vote wins; ties go to the lowest class index.
    fn to_prediction(&self, votes: &[u32]) -> Prediction {
        let mut best = 0;
        for (i, &v) in votes.iter().enumerate() {
            if v > votes[best] {
                best = i;
            }
        }
        let total = f64::from(votes.iter().sum::<u32>().max(1));
        Prediction {
            class_index: best,
            class_name: self.classes.get(best).cloned().unwrap_or_default(),
            probabilities: votes.iter().map(|&v| f64::from(v) / total).collect(),
        }
    }

    /// Fraction of `data`'s rows predicted correctly (rows the schema refuses count as wrong).
    #[must_use]
    pub fn accuracy_on(&self, data: &LabeledData) -> f64 {
        if data.is_empty() {
            return 0.0;
        }
        let correct = data
            .features()
            .rows()
            .into_iter()
            .zip(data.labels())
            .filter(|(row, label)| {
                let sample: Vec<f64> = row.to_vec();
                self.predict(&sample).is_ok_and(|p| p.class_index == **label)
            })
            .count();
        #[allow(clippy::cast_precision_loss)]
        let acc = correct as f64 / data.len() as f64;
        acc
    }
}

impl Classifier for Model {
    fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    fn class_names(&self) -> &[String] {
        &self.classes
    }

    fn predict(&self, sample: &[f64]) -> Result<Prediction, InputError> {
        Model::predict(self, sample)
    }

    fn predict_batch(&self, samples: &[Vec<f64>]) -> Result<Vec<Prediction>, InputError> {
        Model::predict_batch(self, samples)
    }

    fn metadata(&self) -> Option<&TrainingMetadata> {
        Some(&self.metadata)
    }
}
