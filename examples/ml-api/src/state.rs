//! [`AppState`]: what the handlers share.

use crate::model_guard::ModelProtection;
use mlguard_crypto::Fernet;
use mlguard_model::Classifier;
use std::sync::Arc;

/// Shared handler state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    model: Option<Arc<dyn Classifier>>,
    fernet: Fernet,
    max_batch: usize,
    protection: ModelProtection,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("model_loaded", &self.inner.model.is_some())
            .field("max_batch", &self.inner.max_batch)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State with a model (or `None`: `/readyz` answers 503 and predictions 503), the Fernet
    /// cipher and the batch cap. The model protection is the output policy alone (probabilities
    /// rounded to the default decimals for `model:probabilities`) until
    /// [`with_model_protection`](Self::with_model_protection).
    pub fn new(model: Option<Arc<dyn Classifier>>, fernet: Fernet, max_batch: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                model,
                fernet,
                max_batch,
                protection: ModelProtection::output_only(crate::config::defaults::PROBABILITY_DECIMALS),
            }),
        }
    }

    fn into_inner(self) -> Inner {
        Arc::try_unwrap(self.inner).unwrap_or_else(|arc| Inner {
            model: arc.model.clone(),
            fernet: arc.fernet.clone(),
            max_batch: arc.max_batch,
            protection: arc.protection.clone(),
        })
    }

    /// Protects the model with `protection` (output policy, budget, envelope, detector).
    #[must_use]
    pub fn with_model_protection(self, protection: ModelProtection) -> Self {
        let inner = self.into_inner();
        Self {
            inner: Arc::new(Inner { protection, ..inner }),
        }
    }

    /// The model protection.
    pub fn model_protection(&self) -> &ModelProtection {
        &self.inner.protection
    }

    /// The model, when loaded.
    pub fn model(&self) -> Option<&Arc<dyn Classifier>> {
        self.inner.model.as_ref()
    }

    /// The Fernet cipher.
    pub fn fernet(&self) -> &Fernet {
        &self.inner.fernet
    }

    /// Maximum rows in a batch.
    pub fn max_batch(&self) -> usize {
        self.inner.max_batch
    }
}
