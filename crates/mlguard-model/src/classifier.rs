//! The [`Classifier`] trait the server serves, and its [`Prediction`] output.

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::metadata::TrainingMetadata;
use crate::schema::FeatureSchema;

/// One prediction: the winning class and every class's probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Index of the predicted class in [`Classifier::class_names`].
    pub class_index: usize,
    /// Name of the predicted class.
    pub class_name: String,
    /// Per-class probabilities (for the forest: the fraction of trees voting for each class),
    /// indexed like [`Classifier::class_names`]; they sum to 1.
    pub probabilities: Vec<f64>,
}

/// Features in, class and probabilities out. Object safe, `Send + Sync`: a server holds an
/// `Arc<dyn Classifier>`, so any model can be plugged in behind the security layers.
///
/// Implementations check their input themselves (length, finiteness, ranges) and return an
/// [`InputError`] rather than predicting on nonsense.
///
/// ```
/// use std::sync::Arc;
/// use mlguard_model::{Classifier, FeatureSchema, Feature, InputError, Prediction};
///
/// /// A toy model: class 1 when the single feature is positive.
/// struct Sign(FeatureSchema, Vec<String>);
/// impl Classifier for Sign {
///     fn schema(&self) -> &FeatureSchema { &self.0 }
///     fn class_names(&self) -> &[String] { &self.1 }
///     fn predict(&self, x: &[f64]) -> Result<Prediction, InputError> {
///         self.0.check(x)?;
///         let c = usize::from(x[0] > 0.0);
///         let mut p = vec![0.0; 2];
///         p[c] = 1.0;
///         Ok(Prediction { class_index: c, class_name: self.1[c].clone(), probabilities: p })
///     }
/// }
///
/// let schema = FeatureSchema::new(vec![Feature { name: "x".into(), range: None }]);
/// let model: Arc<dyn Classifier> = Arc::new(Sign(schema, vec!["neg".into(), "pos".into()]));
/// assert_eq!(model.predict(&[2.0]).unwrap().class_name, "pos");
/// assert!(model.predict_batch(&[vec![1.0], vec![]]).is_err());
/// ```
pub trait Classifier: Send + Sync {
    /// The features a sample must have, in order, with their plausible ranges.
    fn schema(&self) -> &FeatureSchema;

    /// The class names, indexed by class index.
    fn class_names(&self) -> &[String];

    /// Predicts one sample.
    ///
    /// # Errors
    /// An [`InputError`] when the sample is refused.
    fn predict(&self, sample: &[f64]) -> Result<Prediction, InputError>;

    /// Predicts a batch; all or nothing.
    ///
    /// # Errors
    /// [`InputError::InRow`] naming the first refused row.
    fn predict_batch(&self, samples: &[Vec<f64>]) -> Result<Vec<Prediction>, InputError> {
        samples
            .iter()
            .enumerate()
            .map(|(row, s)| {
                self.predict(s).map_err(|e| InputError::InRow {
                    row,
                    source: Box::new(e),
                })
            })
            .collect()
    }

    /// Training metadata, when the model has any.
    fn metadata(&self) -> Option<&TrainingMetadata> {
        None
    }
}
