//! Input envelope: out-of-distribution detection (MITRE ATLAS **M0015**, "Adversarial input
//! detection"; OWASP ML Top 10 **ML01** input manipulation, and the synthetic probes of
//! **ML05** model theft).
//!
//! Extraction attacks and adversarial probing query where the training data never was: uniform
//! samples over the feature box, line searches along one feature, points far from any real
//! sample. A model answers those with confidence anyway. The envelope compares each input with
//! statistics of the training data:
//!
//! - **per-feature bounds**: the training minimum and maximum, widened by a margin (default 10 %
//!   of the range on each side) so that ordinary variation is not flagged;
//! - **Mahalanobis distance** (Mahalanobis 1936) from the training mean, with the training
//!   covariance: `sqrt((x - μ)ᵀ Σ⁻¹ (x - μ))`, compared with a calibrated threshold. It catches
//!   inputs whose features are each plausible but whose combination is not (short petals with
//!   wide ones).
//!
//! The statistics come from wherever the model keeps them: mlguard-model writes them into its
//! model files (format version 2: `Model::training_stats()`), and [`Envelope::new`] takes the
//! plain vectors, so this crate does not depend on any model crate.
//!
//! Action ([`OodAction`]): `Log` (count and audit, answer normally) or `Reject` (422 with an RFC
//! 9457 problem whose `code` member is `out_of_distribution`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use mlguard_core::{Principal, Problem};

use crate::events::{self, ModelSecStats, OOD_INPUTS, PROBLEM_OUT_OF_DISTRIBUTION};

/// Default widening of each feature's training range, as a fraction of the range, per side.
pub const DEFAULT_BOUNDS_MARGIN: f64 = 0.1;

/// Why an envelope could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// No features.
    #[error("the envelope has no features")]
    Empty,
    /// The vectors or the matrix do not all have one entry per feature.
    #[error("the envelope's vectors and matrix must all have {0} entries per dimension")]
    Shape(usize),
    /// A value is NaN or infinite.
    #[error("an envelope statistic is not finite")]
    NotFinite,
    /// A minimum is above its maximum, the margin is negative or the threshold not positive.
    #[error("invalid envelope: {0}")]
    Invalid(&'static str),
}

/// What to do with an out-of-distribution input.
///
/// ```
/// use mlguard_modelsec::OodAction;
/// assert_eq!("reject".parse::<OodAction>().unwrap(), OodAction::Reject);
/// assert!("drop".parse::<OodAction>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OodAction {
    /// Count it and write an audit event; answer normally.
    #[default]
    Log,
    /// Refuse the request with 422 (`code: out_of_distribution`).
    Reject,
}

impl OodAction {
    /// `log` or `reject`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Reject => "reject",
        }
    }
}

impl fmt::Display for OodAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not `log` or `reject`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?} (expected log or reject)")]
pub struct ParseOodActionError(String);

impl FromStr for OodAction {
    type Err = ParseOodActionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "log" => Ok(Self::Log),
            "reject" => Ok(Self::Reject),
            _ => Err(ParseOodActionError(s.chars().take(32).collect())),
        }
    }
}

/// Why an input is out of distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum OodReason {
    /// Feature `feature` (index) is outside its widened training range.
    Bounds {
        /// The feature's index.
        feature: usize,
    },
    /// The Mahalanobis distance is above the threshold.
    Distance,
    /// The input does not have one finite value per feature.
    Malformed,
}

impl OodReason {
    /// `bounds`, `distance` or `malformed` (the metric label).
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Bounds { .. } => "bounds",
            Self::Distance => "distance",
            Self::Malformed => "malformed",
        }
    }
}

/// The envelope's verdict on one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvelopeCheck {
    /// The Mahalanobis distance (NaN for a malformed input).
    pub distance: f64,
    /// `None` when the input is inside the envelope.
    pub reason: Option<OodReason>,
}

impl EnvelopeCheck {
    /// Whether the input is inside the envelope.
    #[must_use]
    pub fn is_inside(&self) -> bool {
        self.reason.is_none()
    }
}

/// Training statistics an input is compared with.
///
/// ```
/// use mlguard_modelsec::Envelope;
/// // Two independent features, unit variance, mean 0, seen in [-3, 3].
/// let env = Envelope::new(
///     vec![-3.0, -3.0], vec![3.0, 3.0], vec![0.0, 0.0],
///     vec![vec![1.0, 0.0], vec![0.0, 1.0]], 3.5,
/// )?;
/// assert!(env.check(&[1.0, -1.0]).is_inside());
/// assert!(!env.check(&[3.2, 3.2]).is_inside()); // within bounds, but too far from the mean
/// assert!(!env.check(&[9.0, 0.0]).is_inside()); // beyond the bounds
/// # Ok::<(), mlguard_modelsec::EnvelopeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    lower: Vec<f64>,
    upper: Vec<f64>,
    mean: Vec<f64>,
    inv_covariance: Vec<f64>,
    threshold: f64,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Envelope {
    /// An envelope from per-feature training `min` / `max`, the `mean`, the inverse covariance
    /// (row-major rows) and the Mahalanobis `threshold`, with the default bounds margin. With
    /// mlguard-model, the `model` feature's `Envelope::from_training_stats` does this.
    ///
    /// # Errors
    /// [`EnvelopeError`] for mismatched lengths, non-finite values, `min > max` or a threshold
    /// that is not positive.
    pub fn new(
        min: Vec<f64>,
        max: Vec<f64>,
        mean: Vec<f64>,
        inv_covariance: Vec<Vec<f64>>,
        threshold: f64,
    ) -> Result<Self, EnvelopeError> {
        let d = mean.len();
        if d == 0 {
            return Err(EnvelopeError::Empty);
        }
        if min.len() != d
            || max.len() != d
            || inv_covariance.len() != d
            || inv_covariance.iter().any(|r| r.len() != d)
        {
            return Err(EnvelopeError::Shape(d));
        }
        let flat: Vec<f64> = inv_covariance.into_iter().flatten().collect();
        if min
            .iter()
            .chain(&max)
            .chain(&mean)
            .chain(&flat)
            .any(|v| !v.is_finite())
            || !threshold.is_finite()
        {
            return Err(EnvelopeError::NotFinite);
        }
        if min.iter().zip(&max).any(|(a, b)| a > b) {
            return Err(EnvelopeError::Invalid("a minimum is above its maximum"));
        }
        if threshold <= 0.0 {
            return Err(EnvelopeError::Invalid("the threshold must be positive"));
        }
        let mut env = Self {
            lower: min.clone(),
            upper: max.clone(),
            mean,
            inv_covariance: flat,
            threshold,
            min,
            max,
        };
        env.set_margin(DEFAULT_BOUNDS_MARGIN);
        Ok(env)
    }

    /// The envelope of a model's training statistics (mlguard-model, format-2 model files),
    /// with the default bounds margin.
    ///
    /// # Errors
    /// As [`Envelope::new`].
    #[cfg(feature = "model")]
    pub fn from_training_stats(stats: &mlguard_model::TrainingStats) -> Result<Self, EnvelopeError> {
        Self::new(
            stats.min.clone(),
            stats.max.clone(),
            stats.mean.clone(),
            stats.inv_covariance.clone(),
            stats.threshold,
        )
    }

    /// Each feature's training range (`max - min`, at least `f64::EPSILON`, no margin): the
    /// scale that keeps one feature from dominating PRADA's distances
    /// ([`crate::PradaConfig::feature_scale`]).
    #[must_use]
    pub fn training_ranges(&self) -> Vec<f64> {
        self.min
            .iter()
            .zip(&self.max)
            .map(|(lo, hi)| (hi - lo).max(f64::EPSILON))
            .collect()
    }

    /// Widens each feature's training range by `fraction` of the range on each side (default
    /// [`DEFAULT_BOUNDS_MARGIN`]).
    ///
    /// # Errors
    /// [`EnvelopeError::Invalid`] for a negative or non-finite fraction.
    pub fn with_bounds_margin(mut self, fraction: f64) -> Result<Self, EnvelopeError> {
        if !(fraction.is_finite() && fraction >= 0.0) {
            return Err(EnvelopeError::Invalid(
                "the bounds margin must be finite and not negative",
            ));
        }
        self.set_margin(fraction);
        Ok(self)
    }

    /// Multiplies the distance threshold by `factor` (> 0): above 1 flags fewer inputs.
    ///
    /// # Errors
    /// [`EnvelopeError::Invalid`] unless `factor` is finite and positive.
    pub fn with_threshold_factor(mut self, factor: f64) -> Result<Self, EnvelopeError> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(EnvelopeError::Invalid(
                "the threshold factor must be finite and positive",
            ));
        }
        self.threshold *= factor;
        Ok(self)
    }

    fn set_margin(&mut self, fraction: f64) {
        for i in 0..self.mean.len() {
            let pad = (self.max[i] - self.min[i]) * fraction;
            self.lower[i] = self.min[i] - pad;
            self.upper[i] = self.max[i] + pad;
        }
    }

    /// Number of features.
    #[must_use]
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Always false: an envelope has at least one feature.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// The Mahalanobis distance threshold.
    #[must_use]
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The accepted `(lower, upper)` bounds of feature `i`, margin included.
    #[must_use]
    pub fn bounds(&self, i: usize) -> Option<(f64, f64)> {
        Some((*self.lower.get(i)?, *self.upper.get(i)?))
    }

    /// The Mahalanobis distance of `x` from the training mean (NaN when `x` is malformed).
    #[must_use]
    pub fn distance(&self, x: &[f64]) -> f64 {
        let d = self.mean.len();
        if x.len() != d || x.iter().any(|v| !v.is_finite()) {
            return f64::NAN;
        }
        let mut sum = 0.0;
        for (i, row) in self.inv_covariance.chunks_exact(d).enumerate() {
            let di = x[i] - self.mean[i];
            let dot: f64 = row
                .iter()
                .zip(x.iter().zip(&self.mean))
                .map(|(s, (v, m))| s * (v - m))
                .sum();
            sum += di * dot;
        }
        sum.max(0.0).sqrt()
    }

    /// Checks one input: bounds first (the first feature outside), then the distance.
    #[must_use]
    pub fn check(&self, x: &[f64]) -> EnvelopeCheck {
        let distance = self.distance(x);
        if distance.is_nan() {
            return EnvelopeCheck {
                distance,
                reason: Some(OodReason::Malformed),
            };
        }
        let outside = (0..x.len()).find(|&i| !(self.lower[i] <= x[i] && x[i] <= self.upper[i]));
        let reason = match outside {
            Some(feature) => Some(OodReason::Bounds { feature }),
            None if distance > self.threshold => Some(OodReason::Distance),
            None => None,
        };
        EnvelopeCheck { distance, reason }
    }
}

/// The envelope with its action, metrics and audit events: what a server calls per request.
///
/// ```
/// use mlguard_core::Principal;
/// use mlguard_modelsec::{Envelope, OodAction, OodGuard};
///
/// let env = Envelope::new(vec![0.0], vec![1.0], vec![0.5], vec![vec![12.0]], 3.0)?;
/// let guard = OodGuard::new(env, OodAction::Reject);
/// let p = Principal::builder("alice").build();
/// assert!(guard.inspect(&p, &[vec![0.4], vec![0.6]]).is_ok());
/// let problem = guard.inspect(&p, &[vec![0.4], vec![7.0]]).unwrap_err();
/// assert_eq!(problem.status(), 422);
/// assert_eq!(problem.extension("code").unwrap(), "out_of_distribution");
/// assert_eq!(problem.extension("row").unwrap(), 1);
/// # Ok::<(), mlguard_modelsec::EnvelopeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OodGuard {
    envelope: Arc<Envelope>,
    action: OodAction,
    stats: Arc<ModelSecStats>,
}

/// What [`OodGuard::inspect`] found in a request that it let through.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OodReport {
    /// Rows outside the envelope (logged, since the request passed).
    pub flagged_rows: Vec<usize>,
    /// The largest Mahalanobis distance among the rows.
    pub max_distance: f64,
}

impl OodGuard {
    /// A guard applying `action` to inputs outside `envelope`.
    #[must_use]
    pub fn new(envelope: Envelope, action: OodAction) -> Self {
        Self {
            envelope: Arc::new(envelope),
            action,
            stats: Arc::default(),
        }
    }

    /// The envelope.
    #[must_use]
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The action.
    #[must_use]
    pub fn action(&self) -> OodAction {
        self.action
    }

    /// This guard's counters.
    #[must_use]
    pub fn stats(&self) -> &Arc<ModelSecStats> {
        &self.stats
    }

    /// Checks every row of a request. Each row outside the envelope is counted
    /// (`mlguard_ood_inputs_total`) and audited (principal, reason, distance; never the values).
    ///
    /// # Errors
    /// With [`OodAction::Reject`], a 422 problem naming the first row outside the envelope:
    /// `type` [`PROBLEM_OUT_OF_DISTRIBUTION`], members `code: "out_of_distribution"`, `row`,
    /// `reason` (`bounds` with the `feature` index, or `distance`).
    pub fn inspect(&self, principal: &Principal, rows: &[Vec<f64>]) -> Result<OodReport, Problem> {
        let mut report = OodReport::default();
        let mut first: Option<(usize, OodReason)> = None;
        for (i, row) in rows.iter().enumerate() {
            let check = self.envelope.check(row);
            if check.distance.is_finite() {
                report.max_distance = report.max_distance.max(check.distance);
            }
            let Some(reason) = check.reason else { continue };
            ModelSecStats::bump(&self.stats.ood_inputs);
            metrics::counter!(OOD_INPUTS, "reason" => reason.as_str(), "action" => self.action.as_str())
                .increment(1);
            tracing::warn!(
                target: events::AUDIT_TARGET,
                event = "ood_input",
                principal = %events::bounded(principal.subject()),
                detector = "envelope",
                statistic = "mahalanobis_distance",
                value = check.distance,
                threshold = self.envelope.threshold,
                reason = reason.as_str(),
                feature = match reason { OodReason::Bounds { feature } => Some(feature), _ => None },
                row = i,
                action = self.action.as_str(),
            );
            report.flagged_rows.push(i);
            if first.is_none() {
                first = Some((i, reason));
            }
        }
        match (self.action, first) {
            (OodAction::Reject, Some((row, reason))) => Err(ood_problem(row, reason, rows.len())),
            _ => Ok(report),
        }
    }
}

fn ood_problem(row: usize, reason: OodReason, n: usize) -> Problem {
    let what = match reason {
        OodReason::Bounds { feature } => format!("feature {feature} is outside the range seen in training"),
        OodReason::Distance => "the combination of features is unlike the training data".to_owned(),
        OodReason::Malformed => "it does not have one finite value per feature".to_owned(),
    };
    let detail = if n == 1 {
        format!("The input is out of distribution: {what}.")
    } else {
        format!("Row {row} is out of distribution: {what}.")
    };
    let mut p = Problem::unprocessable(detail)
        .with_type(PROBLEM_OUT_OF_DISTRIBUTION)
        .with_title("Input out of distribution")
        .with_extension("code", "out_of_distribution".into())
        .with_extension("row", row.into())
        .with_extension("reason", reason.as_str().into());
    if let OodReason::Bounds { feature } = reason {
        p = p.with_extension("feature", feature.into());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit2() -> Envelope {
        Envelope::new(
            vec![-2.0, -2.0],
            vec![2.0, 2.0],
            vec![0.0, 0.0],
            vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            2.5,
        )
        .unwrap()
    }

    #[test]
    fn distance_is_mahalanobis() {
        let env = Envelope::new(
            vec![-10.0; 2],
            vec![10.0; 2],
            vec![1.0, 1.0],
            vec![vec![0.25, 0.0], vec![0.0, 1.0]],
            9.0,
        )
        .unwrap();
        // (x - mean) = (2, 1): 0.25 * 4 + 1 * 1 = 2.
        assert!((env.distance(&[3.0, 2.0]) - 2.0f64.sqrt()).abs() < 1e-12);
        assert!(env.distance(&[1.0]).is_nan());
        assert!(env.distance(&[1.0, f64::INFINITY]).is_nan());
    }

    #[test]
    fn margin_widens_the_bounds() {
        let env = unit2();
        assert_eq!(env.bounds(0), Some((-2.4, 2.4)));
        assert!(env.check(&[2.3, 0.0]).reason.is_none());
        assert!(matches!(
            env.check(&[-2.5, 0.0]).reason,
            Some(OodReason::Bounds { feature: 0 })
        ));
        let tight = unit2().with_bounds_margin(0.0).unwrap();
        assert!(matches!(
            tight.check(&[0.0, 2.1]).reason,
            Some(OodReason::Bounds { feature: 1 })
        ));
        assert!(unit2().with_bounds_margin(-0.1).is_err());
        assert!(matches!(env.check(&[1.9, 1.9]).reason, Some(OodReason::Distance)));
        assert!(
            env.clone()
                .with_threshold_factor(2.0)
                .unwrap()
                .check(&[1.9, 1.9])
                .is_inside()
        );
    }

    #[test]
    fn bad_statistics_are_refused() {
        let id = || vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        assert_eq!(
            Envelope::new(vec![], vec![], vec![], vec![], 1.0),
            Err(EnvelopeError::Empty)
        );
        assert!(matches!(
            Envelope::new(vec![0.0], vec![1.0, 1.0], vec![0.0, 0.0], id(), 1.0),
            Err(EnvelopeError::Shape(2))
        ));
        assert!(matches!(
            Envelope::new(
                vec![0.0; 2],
                vec![1.0; 2],
                vec![0.0; 2],
                vec![vec![1.0], vec![1.0]],
                1.0
            ),
            Err(EnvelopeError::Shape(2))
        ));
        assert_eq!(
            Envelope::new(vec![0.0; 2], vec![1.0; 2], vec![f64::NAN; 2], id(), 1.0),
            Err(EnvelopeError::NotFinite)
        );
        assert!(matches!(
            Envelope::new(vec![2.0; 2], vec![1.0; 2], vec![0.0; 2], id(), 1.0),
            Err(EnvelopeError::Invalid(_))
        ));
        assert!(matches!(
            Envelope::new(vec![0.0; 2], vec![1.0; 2], vec![0.0; 2], id(), 0.0),
            Err(EnvelopeError::Invalid(_))
        ));
    }

    #[test]
    fn log_action_passes_and_reports() {
        let guard = OodGuard::new(unit2(), OodAction::Log);
        let p = Principal::builder("a").build();
        let report = guard
            .inspect(&p, &[vec![0.0, 0.0], vec![9.0, 0.0], vec![1.9, 1.9]])
            .unwrap();
        assert_eq!(report.flagged_rows, vec![1, 2]);
        assert_eq!(ModelSecStats::get(&guard.stats().ood_inputs), 2);
    }

    #[test]
    fn reject_names_the_row_and_reason_not_the_values() {
        let guard = OodGuard::new(unit2(), OodAction::Reject);
        let p = Principal::builder("a").build();
        let problem = guard
            .inspect(&p, &[vec![0.0, 0.0], vec![0.0, 1234.5]])
            .unwrap_err();
        let body = problem.to_json();
        assert_eq!(body["status"], 422);
        assert_eq!(body["type"], PROBLEM_OUT_OF_DISTRIBUTION);
        assert_eq!(body["code"], "out_of_distribution");
        assert_eq!(body["row"], 1);
        assert_eq!(body["reason"], "bounds");
        assert_eq!(body["feature"], 1);
        assert!(!body.to_string().contains("1234"));
        let malformed = guard.inspect(&p, &[vec![0.0]]).unwrap_err();
        assert_eq!(malformed.to_json()["reason"], "malformed");
    }

    #[test]
    fn action_parses_case_insensitively() {
        assert_eq!(" LOG ".parse::<OodAction>().unwrap(), OodAction::Log);
        assert_eq!(OodAction::default(), OodAction::Log);
        assert!("".parse::<OodAction>().is_err());
    }
}
