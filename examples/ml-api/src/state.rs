//! [`AppState`]: what the handlers share.

use mlguard_crypto::Fernet;
use mlguard_model::Classifier;
use mlguard_ratelimit::RateLimiter;
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
    predict_limiter: Option<RateLimiter>,
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
                predict_limiter: None,
            }),
        }
    }

    /// Charges batch predictions against `limiter` (one unit per row).
    #[must_use]
    pub fn with_predict_limiter(self, limiter: RateLimiter) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|arc| Inner {
            model: arc.model.clone(),
            fernet: arc.fernet.clone(),
            max_batch: arc.max_batch,
            predict_limiter: None,
        });
        Self {
            inner: Arc::new(Inner {
                predict_limiter: Some(limiter),
                ..inner
            }),
        }
    }

    /// The prediction limiter, when set.
    pub fn predict_limiter(&self) -> Option<&RateLimiter> {
        self.inner.predict_limiter.as_ref()
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
