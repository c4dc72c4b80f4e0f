//! [`TrainingMetadata`]: how a model was trained, shared by the [`crate::Classifier`] trait,
//! the [`crate::Model`] and the model file (its own module, so none of them imports another
//! in a circle).

use serde::{Deserialize, Serialize};

/// How the model was trained; written into the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingMetadata {
    /// Seed of the split and of every random draw.
    pub seed: u64,
    /// Number of trees.
    pub n_trees: usize,
    /// Maximum depth (`None`: unlimited).
    pub max_depth: Option<usize>,
    /// Features drawn without replacement for each tree.
    pub features_per_tree: usize,
    /// Where features are sampled: always `"per_tree"` in this version.
    pub feature_sampling: String,
    /// Fraction of each class held out.
    pub test_fraction: f64,
    /// Training samples.
    pub train_samples: usize,
    /// Held-out samples.
    pub test_samples: usize,
    /// Accuracy on the held-out samples.
    pub accuracy: f64,
    /// When training finished, in seconds since the Unix epoch (UTC).
    pub trained_at_unix: u64,
    /// The library that trained it (`mlguard-model <version>`).
    pub trainer: String,
}
