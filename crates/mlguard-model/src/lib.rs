//! Iris random forest over linfa-trees: reproducible training, signed model files, fast prediction.
//!
//! The Rust counterpart of "train a scikit-learn `RandomForestClassifier`, `joblib.dump` it,
//! load it in the API". What it protects against:
//!
//! - **Code execution on model load** (the pickle problem): model files are plain JSON data in a
//!   [documented, versioned format](mod@format); loading parses, checks a SHA-256 digest and, with a
//!   [`ModelKey`], an HMAC-SHA256 signature, so a model swapped on disk by someone else is refused.
//!   Each way a file can be bad (truncated, corrupted, tampered, wrong version, unsigned, wrongly
//!   signed, structurally impossible) is its own [`LoadError`] variant, never a panic.
//! - **Nonsense inputs**: the model checks every sample (exact feature count, finite values,
//!   optional plausible ranges kept in the model file) and returns an [`InputError`].
//! - **Out-of-distribution inputs and probing** (as input to `mlguard-modelsec`): the model file
//!   (format version 2) carries [statistics of the training data](TrainingStats): per-feature
//!   bounds, mean, regularized inverse covariance and a calibrated Mahalanobis threshold, so a
//!   server can tell inputs that look like the training data from those that do not. Version 1
//!   files still load, without them.
//! - **Irreproducible models**: the same [`ForestParams`] (seed included) on the same data give
//!   the same model, bit for bit.
//!
//! Training builds a random forest of `linfa-trees` decision trees: a bootstrap sample and a random
//! feature subset (`ceil(sqrt(n_features))` features by default, drawn without replacement,
//! **per tree**: linfa-trees 0.8.1 has no hook for per-split sampling) for each tree, all drawn
//! from one seeded ChaCha8 stream. A tree that linfa-trees fails to fit is a
//! [`TrainError::TreeFit`], never a panic. The trees are then flattened into one contiguous array
//! of 16-byte nodes, which a prediction walks four trees at a time without recursion or
//! allocation (about a microsecond for 100 trees; see `docs/benchmarks.md`).
//!
//! ## How training is made reproducible
//!
//! linfa-trees alone is not: it picks a leaf's class among tied classes, and sums the Gini terms
//! of a candidate split, in `HashMap` order, which is random per process. So (1) each fitted tree
//! is *canonicalized*: leaf classes are recounted from the bootstrap rows (ties go to the lowest
//! class index) and sibling leaves that share a majority class are merged, which undoes
//! linfa's tie-dependent pruning; (2) a replica of linfa-trees' fit that sums in class order
//! gives the expected tree, and the tree is refitted with linfa-trees until the two agree (up to
//! 32 fits; on iris, 0 of 24,000 trees needed the replica's tree, see
//! [`Trained::exact_fallbacks`]). The default forest is the same, bit for bit, in every run.
//!
//! A server serves any [`Classifier`] (`Arc<dyn Classifier>`); [`Model`] is ours.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::SystemTime;
//! use mlguard_model::{Classifier, ForestParams, InputError, LoadError, Model, ModelKey};
//!
//! // Train (100 trees by default; fewer here to keep the doc test fast).
//! let trained = ForestParams::new().n_trees(25).seed(7).train_iris(SystemTime::now())?;
//! println!("held-out accuracy: {:.3}", trained.accuracy);
//!
//! // Save signed, load with the key.
//! let dir = std::env::temp_dir().join(format!("mlguard-model-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("iris.model.json");
//! let key = ModelKey::new(vec![0x42; 32])?;
//! trained.model.save(&path, Some(&key))?;
//! let model: Arc<dyn Classifier> = Arc::new(Model::load(&path, Some(&key))?);
//!
//! // Predict.
//! let p = model.predict(&[5.1, 3.5, 1.4, 0.2])?;
//! assert_eq!(p.class_name, "setosa");
//! assert!((p.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
//!
//! // Bad input is a typed error.
//! assert!(matches!(model.predict(&[5.1, f64::NAN, 1.4, 0.2]), Err(InputError::NotANumber { .. })));
//! assert!(matches!(model.predict(&[5.1, 3.5, 1.4, -1.0]), Err(InputError::OutOfRange { .. })));
//!
//! // A file modified on disk is refused.
//! let mut bytes = std::fs::read(&path)?;
//! let last = bytes.len() - 2;
//! bytes[last] ^= 1;
//! assert!(matches!(Model::from_bytes(&bytes, Some(&key)), Err(LoadError::DigestMismatch)));
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod classifier;
mod data;
mod error;
mod exact;
mod file;
mod flat;
mod forest;
mod key;
mod metadata;
mod model;
mod schema;
pub mod stats;

#[doc = include_str!("../docs/FORMAT.md")]
pub mod format {}

pub use classifier::{Classifier, Prediction};
pub use data::{IRIS_CLASSES, LabeledData, iris};
pub use error::{Error, InputError, KeyError, LoadError, SaveError, TrainError};
pub use file::{FORMAT_NAME, FORMAT_VERSION, MAX_FILE_LEN, MIN_FORMAT_VERSION};
pub use flat::FlatForest;
pub use forest::{DEFAULT_SEED, DEFAULT_TEST_FRACTION, DEFAULT_TREES, ForestParams, MAX_TREES};
pub use key::ModelKey;
pub use metadata::TrainingMetadata;
pub use model::{Model, Trained, train_default};
pub use schema::{Feature, FeatureSchema, ValueRange};
pub use stats::TrainingStats;
