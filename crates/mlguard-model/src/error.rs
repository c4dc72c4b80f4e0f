//! Error types: one enum per failure domain, all `#[non_exhaustive]`.

use std::path::PathBuf;

/// Why a training run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A forest parameter is out of range (for example zero trees).
    #[error("invalid forest parameter `{name}`: {reason}")]
    InvalidParam {
        /// The parameter's name.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The training data is unusable (empty, mismatched lengths, non-finite values...).
    #[error("invalid training data: {0}")]
    InvalidData(String),
    /// linfa-trees refused to fit one of the trees.
    #[error("fitting tree {tree} failed: {source}")]
    TreeFit {
        /// Index of the tree within the forest.
        tree: usize,
        /// linfa's own error.
        #[source]
        source: linfa::Error,
    },
    /// A fitted linfa-trees tree had a shape the flattener does not accept.
    #[error("tree {tree} could not be flattened: {reason}")]
    Flatten {
        /// Index of the tree within the forest.
        tree: usize,
        /// What was wrong.
        reason: String,
    },
}

/// Why a model file could not be loaded. Each failure has its own variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before the header line or before the body length the header announces.
    #[error("model file is truncated: expected {expected} body bytes, found {found}")]
    Truncated {
        /// Body bytes announced by the header (0 when the header itself is cut).
        expected: u64,
        /// Body bytes present.
        found: u64,
    },
    /// The header or body is not the documented format (bad JSON, wrong magic, trailing bytes...).
    #[error("model file is corrupted: {0}")]
    Corrupted(String),
    /// The body does not hash to the digest recorded in the header.
    #[error("model body digest mismatch: the file was modified after it was written")]
    DigestMismatch,
    /// The file's format version is not one this build reads.
    #[error("unsupported model format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A signing key is configured but the file carries no signature.
    #[error("model file is unsigned but a signature is required")]
    MissingSignature,
    /// The signature does not verify with the configured key.
    #[error("model file signature is invalid (wrong key or modified file)")]
    BadSignature,
    /// The body parsed but describes an impossible model (child index out of range, ...).
    #[error("model is structurally invalid: {0}")]
    InvalidModel(String),
}

/// Why a model file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// The file could not be written.
    #[error("cannot write model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The model could not be serialized.
    #[error("cannot serialize model: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// A signing key was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is shorter than [`crate::ModelKey::MIN_LEN`] bytes.
    #[error("model signing key too short: {len} bytes, at least {min} required")]
    TooShort {
        /// The key's length.
        len: usize,
        /// The minimum length.
        min: usize,
    },
}

/// A prediction input was refused before any tree was walked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The sample does not have exactly the model's feature count.
    #[error("expected {expected} features, got {found}")]
    WrongFeatureCount {
        /// The model's feature count.
        expected: usize,
        /// The sample's length.
        found: usize,
    },
    /// A feature value is NaN.
    #[error("feature `{feature}` is NaN")]
    NotANumber {
        /// The feature's name.
        feature: String,
    },
    /// A feature value is positive or negative infinity.
    #[error("feature `{feature}` is infinite")]
    Infinite {
        /// The feature's name.
        feature: String,
    },
    /// A feature value is outside the plausible range kept in the model.
    #[error("feature `{feature}` = {value} is outside its plausible range {range}")]
    OutOfRange {
        /// The feature's name.
        feature: String,
        /// The value given.
        value: f64,
        /// The range, as text (for example `(0, 100]`).
        range: String,
    },
    /// One row of a batch was refused.
    #[error("row {row}: {source}")]
    InRow {
        /// Zero-based row index in the batch.
        row: usize,
        /// Why that row was refused.
        #[source]
        source: Box<InputError>,
    },
}

/// Any error from this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Loading a model file failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Saving a model file failed.
    #[error(transparent)]
    Save(#[from] SaveError),
    /// A signing key was refused.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A prediction input was refused.
    #[error(transparent)]
    Input(#[from] InputError),
}
