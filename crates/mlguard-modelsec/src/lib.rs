//! Protection of the model itself: output policy, query budgets, input envelope
//! (out-of-distribution detection) and extraction detection (PRADA).
//!
//! Authentication, authorization and rate limits keep strangers out; they do nothing against a
//! client with a valid key who steals the model through its own answers. Tramèr et al.
//! ("Stealing Machine Learning Models via Prediction APIs", USENIX Security 2016) extracted
//! BigML decision trees exactly with 1,150 to 4,013 queries. This crate answers the model-level
//! threats of the OWASP Machine Learning Security Top 10 with the MITRE ATLAS mitigations:
//!
//! | component | attack (OWASP ML Top 10) | mitigation (MITRE ATLAS) | source |
//! |---|---|---|---|
//! | [`output`]: [`OutputPolicy`], [`OutputPolicyResolver`], [`OutputPolicyLayer`] | ML05 model theft, ML03 model inversion, ML04 membership inference | M0002 passive ML output obfuscation | Tramèr et al. 2016, §7 (rounding, label only) |
//! | [`budget`]: [`QueryBudget`] | ML05 model theft | M0004 restrict number of ML model queries | Tramèr et al. 2016 (query counts) |
//! | [`envelope`]: [`Envelope`], [`OodGuard`] | ML01 input manipulation, ML05 synthetic probes | M0015 adversarial input detection | Mahalanobis 1936 |
//! | [`prada`]: [`ExtractionDetector`] (PRADA, plus the out-of-distribution rate of a principal's recent queries) | ML05 model theft | M0015 adversarial input detection | Juuti et al., PRADA, IEEE EuroS&P 2019 |
//!
//! Every alarm and every out-of-distribution input is a metric (`metrics` facade:
//! `mlguard_extraction_alarms_total`, `mlguard_ood_inputs_total`) and an audit event
//! (`tracing`, target `audit`) naming the principal, the detector and the statistic, never the
//! raw input; see [`events`].
//!
//! The crate is model-agnostic: it depends on `mlguard-core` (for [`mlguard_core::Principal`]
//! and [`mlguard_core::Problem`]) and on `mlguard-ratelimit`, whose quotas, memory store and
//! Redis backend the query budgets reuse (dependency direction `core <- ratelimit <- modelsec`,
//! no cycle). It does not depend on `mlguard-model`: the envelope takes plain vectors, which
//! `mlguard_model::Model::training_stats()` provides for models saved in format version 2.
//!
//! # Example
//!
//! A prediction handler (framework-free here; in axum it is the same calls in the handler):
//!
//! ```
//! use mlguard_core::Principal;
//! use mlguard_modelsec::{
//!     Envelope, ExtractionAction, ExtractionDetector, ModelGuard, ModelOutput, OodAction, OodGuard,
//!     OutputPolicy, OutputPolicyResolver, QueryBudget,
//! };
//! use std::time::Duration;
//!
//! /// The server's answer type.
//! struct Prediction { class: usize, probabilities: Option<Vec<f64>> }
//! impl ModelOutput for Prediction {
//!     fn round_probabilities(&mut self, decimals: u32) {
//!         if let Some(p) = &mut self.probabilities {
//!             mlguard_modelsec::output::round_all(p, decimals);
//!         }
//!     }
//!     fn strip_probabilities(&mut self) { self.probabilities = None; }
//! }
//!
//! /// A stand-in model: class 1 above 5.
//! fn model(x: &[f64]) -> Prediction {
//!     let p = 1.0 / (1.0 + (5.0 - x[0]).exp());
//!     Prediction { class: usize::from(p > 0.5), probabilities: Some(vec![1.0 - p, p]) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Training statistics (from `Model::training_stats()` with mlguard-model).
//! let envelope = Envelope::new(vec![0.0], vec![10.0], vec![5.0], vec![vec![0.12]], 4.0)?;
//! let guard = ModelGuard::builder(
//!         OutputPolicyResolver::new(OutputPolicy::LabelOnly)
//!             .full_with_permission("model:probabilities"),
//!     )
//!     .budget(QueryBudget::builder("5000/day").build()?)
//!     .envelope(OodGuard::new(envelope, OodAction::Log))
//!     .extraction(
//!         ExtractionDetector::builder()
//!             .action(ExtractionAction::Degrade)
//!             .cooldown(Duration::from_secs(3600))
//!             .build()?,
//!     )
//!     .build();
//!
//! let analyst = Principal::builder("analyst").permission("model:probabilities").build();
//! let client = Principal::builder("client").permission("model:predict").build();
//! for who in [&analyst, &client] {
//!     let rows = vec![vec![6.5], vec![3.0]];
//!     let admission = guard.admit(who, &rows).await.map_err(|p| p.to_string())?;      // 403 / 429 / 422 as a Problem
//!     let mut answers: Vec<Prediction> = rows.iter().map(|r| model(r)).collect();
//!     let classes: Vec<usize> = answers.iter().map(|a| a.class).collect();
//!     let policy = guard.release(who, &admission, &rows, &classes).await.map_err(|p| p.to_string())?;
//!     policy.apply_all(&mut answers);
//!     let has_probabilities = answers[0].probabilities.is_some();
//!     assert_eq!(has_probabilities, who.subject() == "analyst");
//! }
//! # Ok(()) }
//! ```
//!
//! # Shared state
//!
//! Query budgets use mlguard-ratelimit's backends: with the `redis` feature,
//! `QueryBudgetBuilder::redis` shares them across instances. The extraction detector keeps
//! per-principal state behind the [`store::DetectorStore`] trait: the bounded
//! [`store::MemoryStore`] by default (per instance: a client spreading its queries over `N`
//! instances is seen by `N` detectors), or, with the `redis` feature, `store::RedisStore`
//! (one state per principal for the whole fleet; optimistic concurrency, TTLs, timeouts, fails
//! open).
//!
//! # Features
//!
//! - `redis`: query budgets and extraction detector state in Redis.
//! - `model`: `Envelope::from_training_stats`, from mlguard-model's `TrainingStats`.

pub mod budget;
pub mod envelope;
pub mod events;
pub mod guard;
mod metrics;
pub mod output;
pub mod prada;
#[cfg(feature = "redis")]
mod redis_store;
pub mod shapiro;
pub mod store;

pub use budget::{QueryBudget, QueryBudgetBuilder};
pub use envelope::{Envelope, EnvelopeCheck, EnvelopeError, OodAction, OodGuard, OodReason, OodReport};
pub use events::ModelSecStats;
pub use guard::{Admission, ModelGuard, ModelGuardBuilder};
pub use output::{ModelOutput, OutputPolicy, OutputPolicyLayer, OutputPolicyResolver};
pub use prada::{
    ConfigError, ExtractionAction, ExtractionDetector, ExtractionDetectorBuilder, Observation, PradaConfig,
    PrincipalState, Standing,
};
