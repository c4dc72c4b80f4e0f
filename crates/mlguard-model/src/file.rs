//! Model files: a JSON header line, then the JSON body it describes (see [`mod@crate::format`]).

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{LoadError, SaveError};
use crate::flat::{FileNode, FlatForest};
use crate::key::ModelKey;
use crate::metadata::TrainingMetadata;
use crate::model::Model;
use crate::schema::FeatureSchema;
use crate::stats::TrainingStats;

/// The `format` field of every model file header.
pub const FORMAT_NAME: &str = "mlguard-model";
/// The format version this build writes (it also reads [`MIN_FORMAT_VERSION`] and up).
///
/// Version 2 adds the training statistics (`training_stats`) to the body; version 1 files
/// still load, with no statistics.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build reads.
pub const MIN_FORMAT_VERSION: u32 = 1;
/// Largest model file [`Model::load`] reads.
pub const MAX_FILE_LEN: u64 = 64 * 1024 * 1024;
/// Largest header line.
const MAX_HEADER_LEN: usize = 4096;
/// Every header starts with these bytes (serde writes fields in declaration order).
const MAGIC: &[u8] = b"{\"format\":\"mlguard-model\",";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    body_len: u64,
    body_sha256: String,
    hmac_sha256: Option<String>,
}

/// Reads only the version, so a future header layout still yields `UnsupportedVersion`.
#[derive(Deserialize)]
struct VersionProbe {
    version: u32,
}

/// The body of a version-1 file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BodyV1 {
    features: FeatureSchema,
    classes: Vec<String>,
    metadata: TrainingMetadata,
    forest: ForestBody,
}

/// The body of a version-2 file: version 1 plus `training_stats` (required, may be `null`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    features: FeatureSchema,
    classes: Vec<String>,
    metadata: TrainingMetadata,
    forest: ForestBody,
    #[serde(deserialize_with = "required_option")]
    training_stats: Option<TrainingStats>,
}

/// `Option` that must be present in the JSON (as a value or `null`), not just defaulted.
fn required_option<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

impl From<BodyV1> for Body {
    fn from(b: BodyV1) -> Self {
        Self {
            features: b.features,
            classes: b.classes,
            metadata: b.metadata,
            forest: b.forest,
            training_stats: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForestBody {
    trees: Vec<Vec<FileNode>>,
}

impl Model {
    /// Serializes the model to the file format, signed when `key` is given.
    ///
    /// # Errors
    /// [`SaveError::Serialize`] if serde fails (it does not for a valid model).
    pub fn to_bytes(&self, key: Option<&ModelKey>) -> Result<Vec<u8>, SaveError> {
        let body = serde_json::to_vec(&Body {
            features: self.schema.clone(),
            classes: self.classes.clone(),
            metadata: self.metadata.clone(),
            forest: ForestBody {
                trees: self.forest.to_trees(),
            },
            training_stats: self.stats.clone(),
        })?;
        let header = Header {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            body_len: body.len() as u64,
            body_sha256: hex::encode(Sha256::digest(&body)),
            hmac_sha256: key.map(|k| hex::encode(k.sign(FORMAT_VERSION, &body))),
        };
        let mut out = serde_json::to_vec(&header)?;
        out.push(b'\n');
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parses and checks a model file. With `key`, the file must carry a valid signature.
    ///
    /// Reads format versions [`MIN_FORMAT_VERSION`] to [`FORMAT_VERSION`]; a version-1 file
    /// gives a model without [training statistics](Model::training_stats).
    ///
    /// Checks, in order: magic and header ([`LoadError::Corrupted`] /
    /// [`LoadError::Truncated`]), version ([`LoadError::UnsupportedVersion`]), body length
    /// ([`LoadError::Truncated`]), digest ([`LoadError::DigestMismatch`]), signature
    /// ([`LoadError::MissingSignature`] / [`LoadError::BadSignature`]), body
    /// ([`LoadError::Corrupted`]) and structure ([`LoadError::InvalidModel`]).
    ///
    /// ```
    /// use mlguard_model::{LoadError, Model, ModelKey, train_default};
    /// let model = train_default().unwrap().model;
    /// let key = ModelKey::new(vec![1u8; 32]).unwrap();
    /// let bytes = model.to_bytes(Some(&key)).unwrap();
    /// assert_eq!(Model::from_bytes(&bytes, Some(&key)).unwrap(), model);
    /// let other = ModelKey::new(vec![2u8; 32]).unwrap();
    /// assert!(matches!(Model::from_bytes(&bytes, Some(&other)), Err(LoadError::BadSignature)));
    /// ```
    ///
    /// # Errors
    /// The [`LoadError`] variant that names what is wrong.
    pub fn from_bytes(bytes: &[u8], key: Option<&ModelKey>) -> Result<Self, LoadError> {
        let prefix = bytes.len().min(MAGIC.len());
        if bytes[..prefix] != MAGIC[..prefix] {
            return Err(LoadError::Corrupted("not an mlguard model file".into()));
        }
        let Some(newline) = bytes.iter().take(MAX_HEADER_LEN).position(|&b| b == b'\n') else {
            if bytes.len() >= MAX_HEADER_LEN {
                return Err(LoadError::Corrupted("header line too long".into()));
            }
            return Err(LoadError::Truncated {
                expected: 0,
                found: 0,
            });
        };
        let (header, body) = (&bytes[..newline], &bytes[newline + 1..]);
        let probe: VersionProbe =
            serde_json::from_slice(header).map_err(|e| LoadError::Corrupted(format!("header: {e}")))?;
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&probe.version) {
            return Err(LoadError::UnsupportedVersion {
                found: probe.version,
                supported: FORMAT_VERSION,
            });
        }
        let header: Header =
            serde_json::from_slice(header).map_err(|e| LoadError::Corrupted(format!("header: {e}")))?;
        if header.format != FORMAT_NAME {
            return Err(LoadError::Corrupted("wrong format name".into()));
        }
        let found = body.len() as u64;
        if found < header.body_len {
            return Err(LoadError::Truncated {
                expected: header.body_len,
                found,
            });
        }
        if found > header.body_len {
            return Err(LoadError::Corrupted(format!(
                "{} bytes after the body",
                found - header.body_len
            )));
        }
        let digest = hex::decode(&header.body_sha256)
            .map_err(|_| LoadError::Corrupted("body_sha256 is not hex".into()))?;
        if digest.len() != 32 {
            return Err(LoadError::Corrupted("body_sha256 is not 32 bytes".into()));
        }
        if !bool::from(Sha256::digest(body).as_slice().ct_eq(&digest)) {
            return Err(LoadError::DigestMismatch);
        }
        if let Some(key) = key {
            let tag = header.hmac_sha256.ok_or(LoadError::MissingSignature)?;
            let tag = hex::decode(tag).map_err(|_| LoadError::BadSignature)?;
            if !key.verify(header.version, body, &tag) {
                return Err(LoadError::BadSignature);
            }
        }
        let corrupted = |e: serde_json::Error| LoadError::Corrupted(format!("body: {e}"));
        let body: Body = if header.version == 1 {
            serde_json::from_slice::<BodyV1>(body).map_err(corrupted)?.into()
        } else {
            serde_json::from_slice(body).map_err(corrupted)?
        };
        Self::from_body(body).map_err(LoadError::InvalidModel)
    }

    fn from_body(body: Body) -> Result<Self, String> {
        if body.classes.is_empty() {
            return Err("no classes".into());
        }
        let mut names = body.classes.clone();
        names.sort();
        names.dedup();
        if names.len() != body.classes.len() {
            return Err("duplicate class names".into());
        }
        if let Some(f) = body
            .features
            .features()
            .iter()
            .find(|f| f.range.is_some_and(|r| !r.is_valid()))
        {
            return Err(format!("feature `{}` has an invalid range", f.name));
        }
        let forest = FlatForest::from_trees(&body.forest.trees, body.features.len(), body.classes.len())?;
        if forest.n_trees() != body.metadata.n_trees {
            return Err(format!(
                "metadata says {} trees, the forest has {}",
                body.metadata.n_trees,
                forest.n_trees()
            ));
        }
        if let Some(stats) = &body.training_stats {
            stats.validate(body.features.len())?;
        }
        Ok(Self {
            schema: body.features,
            classes: body.classes,
            metadata: body.metadata,
            forest,
            stats: body.training_stats,
        })
    }

    /// Writes the model file atomically and durably: a temporary file in the same directory,
    /// synced, renamed over `path`, then the directory synced. On Unix the file is created with
    /// mode `0600`: the trained model is the asset extraction defenses protect, so it is not
    /// readable by other users unless the operator widens it.
    ///
    /// # Errors
    /// [`SaveError::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>, key: Option<&ModelKey>) -> Result<(), SaveError> {
        let path = path.as_ref();
        let bytes = self.to_bytes(key)?;
        let io = |source| SaveError::Io {
            path: path.to_path_buf(),
            source,
        };
        mlguard_core::fs::write_atomic(path, &bytes).map_err(io)
    }

    /// Reads and checks a model file (at most [`MAX_FILE_LEN`] bytes); see [`Self::from_bytes`].
    ///
    /// # Errors
    /// [`LoadError::Io`] when it cannot be read, [`LoadError::Corrupted`] when it is too large,
    /// else as [`Self::from_bytes`].
    pub fn load(path: impl AsRef<Path>, key: Option<&ModelKey>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_LEN + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_LEN {
            return Err(LoadError::Corrupted(format!(
                "file larger than {MAX_FILE_LEN} bytes"
            )));
        }
        Self::from_bytes(&bytes, key)
    }
}
