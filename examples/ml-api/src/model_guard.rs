//! Protection of the model itself (issue 18): output policy, query budget, input envelope and
//! extraction detection from `mlguard-modelsec`, configured for `/predict` and `/predict/batch`.
//!
//! | setting | effect |
//! |---|---|
//! | permission `model:probabilities` | answers carry `probabilities`, rounded to `probability_decimals`; without it the label only (`prediction`, `class`) |
//! | `predict_budget` (`5000/day`) | prediction rows per principal over the window; batch rows count; in Redis with `redis_url` |
//! | `ood_action` (`log`) | an input outside the training envelope (model format v2 statistics) is logged, or refused with 422 `out_of_distribution` |
//! | `extraction_action` (`degrade`), `extraction_cooldown` (`1h`) | after an extraction alarm: log only, label only for the cool-down, or 403 `extraction-suspected` for the cool-down |
//!
//! The output policy, read this way: a principal with `model:probabilities` gets the
//! probabilities rounded to `probability_decimals` (15 keeps full `f64` precision), any other
//! principal gets the label only, and a principal in a `degrade` cool-down gets the label only
//! whatever its permissions.
//!
//! The extraction detector: the out-of-distribution rate of a principal's recent queries is
//! the alarm; PRADA's Shapiro-Wilk statistic is computed but its alarm is off when the model
//! has training statistics, because on iris it false-alarms on benign clients replaying the 45
//! held-out rows (measured in mlguard-modelsec's `tests/extraction.rs` and in
//! `docs/model-protection.md`). A model without statistics (format v1) has no envelope, so
//! the only detector left is PRADA, with its alarm on.

use crate::config::Config;
use crate::policy;
use mlguard_core::Principal;
use mlguard_model::TrainingStats;
use mlguard_modelsec::{
    Envelope, ExtractionDetector, ModelGuard, OutputPolicy, OutputPolicyResolver, QueryBudget,
};
use mlguard_rbac::Permission;

/// Key prefix of the shared query budget in Redis.
pub const BUDGET_REDIS_PREFIX: &str = "ml-api:rl:predict-budget";
/// Key prefix of the shared extraction detector state in Redis.
pub const DETECTOR_REDIS_PREFIX: &str = "ml-api:prada";

/// The guard, its output policy capped at `probability_decimals`.
#[derive(Debug, Clone)]
pub struct ModelProtection {
    guard: ModelGuard,
}

/// The protection cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
#[error("model protection: {0}")]
pub struct ProtectionError(String);

fn resolver(decimals: u32) -> OutputPolicyResolver {
    let check = policy::policy().ok();
    OutputPolicyResolver::new(OutputPolicy::LabelOnly)
        .full_with_permission(policy::MODEL_PROBABILITIES)
        .at_most(OutputPolicy::Rounded { decimals })
        .permission_check(
            move |p: &Principal, perm: &str| match (&check, Permission::parse(perm)) {
                (Some(policy), Ok(perm)) => policy.is_allowed(p, &perm).is_allowed(),
                _ => false,
            },
        )
}

impl ModelProtection {
    /// Output policy only (no budget, envelope or detector), with `decimals`.
    pub fn output_only(decimals: u32) -> Self {
        Self {
            guard: ModelGuard::builder(resolver(decimals)).build(),
        }
    }

    /// Everything, from `config` and the model's training statistics (`None` for a v1 model
    /// file: no envelope).
    ///
    /// # Errors
    /// A bad budget quota, Redis URL or detector setting.
    pub fn from_config(config: &Config, stats: Option<&TrainingStats>) -> Result<Self, ProtectionError> {
        let err = |e: &dyn std::fmt::Display| ProtectionError(e.to_string());
        let mut budget = QueryBudget::builder(config.predict_budget.as_str()).policy_name("predict-budget");
        if let Some(url) = &config.redis_url {
            budget = budget
                .redis(mlguard_ratelimit::RedisBackend::new(url.expose()).key_prefix(BUDGET_REDIS_PREFIX));
        }
        let budget = budget.build().map_err(|e| err(&e))?;

        let envelope = stats
            .map(Envelope::from_training_stats)
            .transpose()
            .map_err(|e| err(&e))?;
        let mut detector = ExtractionDetector::builder()
            .action(config.extraction_action)
            .cooldown(config.extraction_cooldown);
        if let Some(url) = &config.redis_url {
            let store = mlguard_modelsec::store::RedisStore::new(url.expose())
                .map_err(|e| err(&e))?
                .key_prefix(DETECTOR_REDIS_PREFIX);
            detector = detector.store(std::sync::Arc::new(store));
        }
        let guard = ModelGuard::builder(resolver(config.probability_decimals))
            .budget(budget)
            .training_envelope(envelope, config.ood_action, detector)
            .map_err(|e| err(&e))?;
        Ok(Self { guard: guard.build() })
    }

    /// The guard: [`ModelGuard::run`] around the model.
    pub fn guard(&self) -> &ModelGuard {
        &self.guard
    }
}
