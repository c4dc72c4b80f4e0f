//! [`AppState`]: what the handlers share.

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
    /// cipher and the batch cap.
    pub fn new(model: Option<Arc<dyn Classifier>>, fernet: Fernet, max_batch: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                model,
                fernet,
                max_batch,
            }),
        }
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
