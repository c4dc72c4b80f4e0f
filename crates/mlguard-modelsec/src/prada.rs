//! Extraction detection with PRADA (MITRE ATLAS **M0015**, "Adversarial input detection";
//! OWASP ML Top 10 **ML05** model theft).
//!
//! PRADA (Juuti, Szyller, Marchal, Asokan: "PRADA: Protecting Against DNN Model Stealing
//! Attacks", IEEE EuroS&P 2019, arXiv:1805.02628, Algorithm 1) watches the *distribution of
//! distances* between a client's successive queries. Benign queries come from a natural
//! distribution and their minimum distances to earlier queries look roughly normal; the
//! synthetic queries of an extraction attack (random points, points perturbed around earlier
//! ones, line searches) do not.
//!
//! Per principal, and per **predicted class** `c`, PRADA keeps a *growing set* `G_c` of earlier
//! queries, the distances `D_Gc` that admitted them, and a threshold `T_c` (initially 0). For a
//! query `x` predicted as `c`:
//!
//! 1. if `G_c` is empty, `x` joins it; otherwise
//! 2. `d_min` = the smallest L2 distance between `x` and the members of `G_c`, and `d_min` is
//!    added to the principal's distance set `D`;
//! 3. if `d_min > T_c`, `x` joins `G_c`, `d_min` joins `D_Gc`, and
//!    `T_c = max(T_c, mean(D_Gc) - std(D_Gc))`;
//! 4. once `D` holds enough distances, the values within 3 standard deviations of its mean go
//!    through the Shapiro-Wilk test ([`crate::shapiro`]); `W < δ` raises an alarm (δ = 0.9,
//!    [`PradaConfig::delta`]).
//!
//! The outlier filter of step 4 follows our reading of the paper's Algorithm 1 (the paper's
//! text could not be re-checked while this was written; [`PradaConfig::outlier_sigmas`]
//! changes it), and "enough distances" ([`PradaConfig::min_distances`], 100) is our choice,
//! measured on iris traffic in this crate's tests, not the paper's.
//!
//! What differs from the paper, for bounded memory: `D` is a sliding window of the last
//! [`PradaConfig::max_distances`] distances, and each `G_c` keeps its last
//! [`PradaConfig::max_growing_set`] members (oldest dropped first). Features can be scaled
//! before distances are taken ([`PradaConfig::feature_scale`]); tabular features on different
//! scales otherwise let one feature dominate.
//!
//! **The second detector: out-of-distribution rate.** With an [`Envelope`]
//! ([`ExtractionDetectorBuilder::envelope`]), the detector also keeps, per principal, whether
//! each of its last [`OodRateConfig::window`] queries fell outside the envelope, and alarms when
//! more than [`OodRateConfig::max_fraction`] did. It exists because the evaluation on iris
//! showed PRADA alone blind to uniform random queries over the feature box (Tramèr et al.'s
//! first attack): in four dimensions the nearest-neighbour distances of uniform points are
//! themselves nearly normal (W 0.97 to 0.99), while about 85 % of those points are outside the
//! envelope. Natural traffic stays inside it.
//!
//! After an alarm the principal's history is cleared (the rest of the alarming request is not
//! fed to the new one): the cool-down is a penalty, not a life sentence, and a client that
//! keeps attacking after it alarms again within [`OodRateConfig::min_queries`] queries.
//!
//! What this does not stop (measure it, do not assume it): queries that really are natural
//! (replayed or lightly jittered real samples, which can still extract a model of the data
//! distribution), an attacker who spreads queries over many principals, or one who shapes the
//! distances to look normal while staying inside the envelope.
//!
//! **PRADA false-alarms on benign replays of a small data set.** Measured in this crate's tests
//! (`tests/extraction.rs`): 50 clients each sending 200 of iris's 45 held-out rows with ±0.1 cm
//! of noise: PRADA's W falls below 0.9 for about a third of them (lowest W about 0.78), because
//! revisiting the same few rows gives many tiny distances and some large ones, the same shape
//! as a perturbation attack. Over all 150 rows with the same noise it stays above 0.9. So
//! measure your own traffic before acting on PRADA: [`PradaConfig::alarms`] turns its alarms
//! off (W is still reported) and leaves the out-of-distribution rate, which raised no false
//! alarm on any of these benign streams.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::HeaderValue;
use http::header::RETRY_AFTER;
use mlguard_core::{Principal, Problem, SharedClock, SystemClock};
use serde::{Deserialize, Serialize};

use crate::envelope::Envelope;
use crate::events::{self, EXTRACTION_ALARMS, ModelSecStats, PROBLEM_EXTRACTION_SUSPECTED};
use crate::shapiro::{self, shapiro_wilk_w_sorted};
use crate::store::{DetectorStore, MemoryStore};

/// PRADA's parameters.
///
/// ```
/// use mlguard_modelsec::PradaConfig;
/// let c = PradaConfig::default();
/// assert_eq!(c.delta, 0.9);
/// assert!(c.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PradaConfig {
    /// Alarm when the Shapiro-Wilk W of the distances is below this (0.9, as in the paper).
    pub delta: f64,
    /// Whether `W < delta` raises an alarm (default true). With false, W is still computed
    /// and reported ([`Observation::statistic`]) and only the out-of-distribution rate alarms:
    /// see the module docs for the traffic on which PRADA false-alarms.
    pub alarms: bool,
    /// Distances needed before the test runs (default 100: below that, W of natural traffic
    /// swings too much; measured in this crate's tests).
    pub min_distances: usize,
    /// The sliding window of distances tested (default 500; at most 5000, AS R94's limit;
    /// above 1000 the test recomputes its coefficients on every query instead of reusing them).
    pub max_distances: usize,
    /// Members kept per class growing set (default 100).
    pub max_growing_set: usize,
    /// Classes followed per principal (default 64); queries of further classes are ignored.
    pub max_classes: usize,
    /// Outliers beyond this many standard deviations from the mean of `D` are left out of the
    /// test (default 3).
    pub outlier_sigmas: f64,
    /// Each feature is divided by this before distances are taken (e.g. the training ranges,
    /// `max - min`); `None`: raw values.
    pub feature_scale: Option<Vec<f64>>,
    /// The out-of-distribution rate detector (used when the detector has an envelope).
    pub ood_rate: OodRateConfig,
}

/// The second detector: the share of a principal's recent queries that fall outside the input
/// envelope. Natural traffic stays inside it; queries spread over the feature box (Tramèr et
/// al.'s random and line-search queries, a surrogate's synthetic training set) mostly do not.
/// PRADA's normality test cannot see those in low dimensions: the nearest-neighbour distances
/// of uniform random points in a 4-dimensional box are themselves close to normal
/// (Shapiro-Wilk W about 0.97 to 0.99 on iris's box, measured in this crate's tests).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OodRateConfig {
    /// The last queries considered (default 50).
    pub window: usize,
    /// Queries needed before the rate is judged (default 20).
    pub min_queries: usize,
    /// Alarm when more than this share of the window is out of distribution (default 0.25).
    pub max_fraction: f64,
}

impl Default for OodRateConfig {
    fn default() -> Self {
        Self {
            window: 50,
            min_queries: 20,
            max_fraction: 0.25,
        }
    }
}

impl Default for PradaConfig {
    fn default() -> Self {
        Self {
            delta: 0.9,
            alarms: true,
            min_distances: 100,
            max_distances: 500,
            max_growing_set: 100,
            max_classes: 64,
            outlier_sigmas: 3.0,
            feature_scale: None,
            ood_rate: OodRateConfig::default(),
        }
    }
}

/// A [`PradaConfig`] or detector setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid extraction detector setting: {0}")]
pub struct ConfigError(&'static str);

impl PradaConfig {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(ConfigError("delta must be strictly between 0 and 1"));
        }
        if self.min_distances < shapiro::MIN_N || self.min_distances > self.max_distances {
            return Err(ConfigError(
                "min_distances must be at least 3 and at most max_distances",
            ));
        }
        if self.max_distances > shapiro::MAX_N {
            return Err(ConfigError("max_distances must be at most 5000"));
        }
        if self.max_growing_set == 0 || self.max_classes == 0 {
            return Err(ConfigError("max_growing_set and max_classes must be at least 1"));
        }
        if !(self.outlier_sigmas.is_finite() && self.outlier_sigmas > 0.0) {
            return Err(ConfigError("outlier_sigmas must be finite and positive"));
        }
        if let Some(s) = &self.feature_scale
            && s.iter().any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(ConfigError("every feature scale must be finite and positive"));
        }
        let r = &self.ood_rate;
        if r.window == 0 || r.min_queries == 0 || r.min_queries > r.window || r.window > 100_000 {
            return Err(ConfigError("ood_rate needs 1 <= min_queries <= window <= 100000"));
        }
        if !(r.max_fraction >= 0.0 && r.max_fraction < 1.0) {
            return Err(ConfigError("ood_rate.max_fraction must be in [0, 1)"));
        }
        Ok(())
    }
}

/// One class's growing set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassState {
    /// The class index.
    pub class: u32,
    /// `G_c`: members (scaled feature vectors), oldest first.
    pub members: VecDeque<Vec<f64>>,
    /// `D_Gc`: the distance that admitted each member after the first.
    pub admitted: VecDeque<f64>,
    /// `T_c`.
    pub threshold: f64,
}

/// Everything the detector remembers about one principal. Serializable, so a shared store can
/// keep it (in Redis, say).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrincipalState {
    /// One growing set per class seen.
    pub classes: Vec<ClassState>,
    /// `D`: the last minimum distances, oldest first.
    pub distances: VecDeque<f64>,
    /// Queries observed.
    pub queries: u64,
    /// End of the cool-down after the last alarm (Unix seconds); 0: none.
    pub alarm_until: u64,
    /// The last W computed.
    pub last_w: Option<f64>,
    /// Alarms raised for this principal.
    pub alarms: u64,
    /// Whether each of the last queries was outside the envelope (oldest first).
    #[serde(default)]
    pub outside: VecDeque<bool>,
    /// `distances` again, sorted by [`f64::total_cmp`]: not serialized, rebuilt (one sort)
    /// whenever its length differs from `distances`' (after deserializing, say).
    #[serde(skip)]
    sorted: SortedDistances,
}

/// The window of distances in sorted order, kept up to date as distances arrive and leave so
/// that the per-query test needs no sort. A cache of `distances`: it takes no part in equality
/// and is not shown by `Debug`.
#[derive(Clone, Default)]
struct SortedDistances(Vec<f64>);

impl PartialEq for SortedDistances {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for SortedDistances {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("..")
    }
}

impl SortedDistances {
    /// Where `d` goes (after the values that sort before it).
    fn position(&self, d: f64) -> usize {
        self.0.partition_point(|v| v.total_cmp(&d).is_lt())
    }

    /// Rebuilds from `distances` if the lengths differ (one sort).
    fn sync(&mut self, distances: &VecDeque<f64>) {
        if self.0.len() != distances.len() {
            self.0.clear();
            self.0.extend(distances.iter().copied());
            self.0.sort_by(f64::total_cmp);
        }
    }

    fn insert(&mut self, d: f64) {
        let i = self.position(d);
        self.0.insert(i, d);
    }

    /// Removes one value equal to `d` (same bits); false if there is none.
    fn remove(&mut self, d: f64) -> bool {
        let i = self.position(d);
        match self.0.get(i) {
            Some(v) if v.total_cmp(&d).is_eq() => {
                self.0.remove(i);
                true
            }
            _ => false,
        }
    }
}

impl PrincipalState {
    /// Adds one query `x` (already scaled) predicted as `class`; returns W when the test ran.
    pub fn observe(&mut self, config: &PradaConfig, x: &[f64], class: u32) -> Option<f64> {
        self.queries += 1;
        let idx = match self.classes.iter().position(|c| c.class == class) {
            Some(i) => i,
            None if self.classes.len() < config.max_classes => {
                self.classes.push(ClassState {
                    class,
                    ..ClassState::default()
                });
                self.classes.len() - 1
            }
            None => return None,
        };
        let cs = &mut self.classes[idx];
        let nearest = cs
            .members
            .iter()
            .map(|y| l2(x, y))
            .filter(|d| d.is_finite())
            .min_by(f64::total_cmp);
        match nearest {
            None => {
                // `G_c` is empty (or holds only vectors of another length): start it.
                cs.members.push_back(x.to_vec());
                trim(&mut cs.members, config.max_growing_set);
                return None;
            }
            Some(d_min) => {
                self.sorted.sync(&self.distances);
                self.distances.push_back(d_min);
                self.sorted.insert(d_min);
                let mut in_step = true;
                while self.distances.len() > config.max_distances {
                    if let Some(old) = self.distances.pop_front() {
                        in_step &= self.sorted.remove(old);
                    }
                }
                if !in_step {
                    // Not reached while `sorted` mirrors `distances`; rebuild rather than
                    // test a wrong sample.
                    self.sorted.0.clear();
                    self.sorted.sync(&self.distances);
                }
                if d_min > cs.threshold {
                    cs.members.push_back(x.to_vec());
                    cs.admitted.push_back(d_min);
                    trim(&mut cs.members, config.max_growing_set);
                    trim(&mut cs.admitted, config.max_growing_set);
                    let (mean, std) = mean_std(cs.admitted.iter().copied());
                    cs.threshold = cs.threshold.max(mean - std);
                }
            }
        }
        if self.distances.len() < config.min_distances {
            return None;
        }
        // Over `distances` in arrival order, as before: the sums depend on the order.
        let (mean, std) = mean_std(self.distances.iter().copied());
        self.sorted.sync(&self.distances);
        let w = shapiro_wilk_w_sorted(kept(&self.sorted.0, mean, config.outlier_sigmas * std));
        self.last_w = w;
        w
    }
}

/// The values `d` of `sorted` (ascending by [`f64::total_cmp`]) with `|d - mean| <= limit`:
/// since `d - mean` does not decrease along `sorted`, they are one contiguous slice, found by
/// two binary searches. With a NaN `limit` it is empty, as the filter `|d - mean| <= limit`
/// keeps nothing.
fn kept(sorted: &[f64], mean: f64, limit: f64) -> &[f64] {
    let lo = sorted.partition_point(|d| d - mean < -limit);
    let hi = sorted.partition_point(|d| d - mean <= limit);
    sorted.get(lo..hi).unwrap_or(&[])
}

impl PrincipalState {
    /// Forgets the queries seen (growing sets, distances, envelope window), keeping the
    /// counters and the cool-down.
    pub fn reset(&mut self) {
        self.classes.clear();
        self.distances.clear();
        self.sorted.0.clear();
        self.outside.clear();
        self.last_w = None;
    }

    /// Records whether one query was outside the envelope; returns the share of the window
    /// outside it once [`OodRateConfig::min_queries`] queries were recorded.
    pub fn observe_envelope(&mut self, config: &OodRateConfig, outside: bool) -> Option<f64> {
        self.outside.push_back(outside);
        trim(&mut self.outside, config.window);
        if self.outside.len() < config.min_queries {
            return None;
        }
        let n = self.outside.iter().filter(|o| **o).count();
        #[allow(clippy::cast_precision_loss)]
        let share = n as f64 / self.outside.len() as f64;
        Some(share)
    }
}

fn trim<T>(q: &mut VecDeque<T>, max: usize) {
    while q.len() > max {
        q.pop_front();
    }
}

fn l2(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::NAN;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Mean and population standard deviation.
fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (n, sum) = values.clone().fold((0u32, 0.0), |(n, s), v| (n + 1, s + v));
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = sum / f64::from(n);
    let var = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / f64::from(n);
    (mean, var.sqrt())
}

/// What happens after an alarm.
///
/// ```
/// use mlguard_modelsec::ExtractionAction;
/// assert_eq!("degrade".parse::<ExtractionAction>().unwrap(), ExtractionAction::Degrade);
/// assert_eq!(ExtractionAction::default(), ExtractionAction::Degrade);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ExtractionAction {
    /// Count and audit only.
    Log,
    /// Answer with the label only (no probabilities) for the cool-down.
    #[default]
    Degrade,
    /// Refuse with 403 (`type` ending in `extraction-suspected`) for the cool-down.
    Block,
}

impl ExtractionAction {
    /// `log`, `degrade` or `block`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Degrade => "degrade",
            Self::Block => "block",
        }
    }
}

impl fmt::Display for ExtractionAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not `log`, `degrade` or `block`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?} (expected log, degrade or block)")]
pub struct ParseExtractionActionError(String);

impl FromStr for ExtractionAction {
    type Err = ParseExtractionActionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "log" => Ok(Self::Log),
            "degrade" => Ok(Self::Degrade),
            "block" => Ok(Self::Block),
            _ => Err(ParseExtractionActionError(s.chars().take(32).collect())),
        }
    }
}

/// How a principal stands with the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Standing {
    /// No restriction.
    Normal,
    /// In a cool-down with [`ExtractionAction::Degrade`]: answer with the label only.
    Degraded,
}

/// What [`ExtractionDetector::observe`] saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// How the principal stands now (after this request).
    pub standing: Standing,
    /// Whether this request raised an alarm.
    pub alarm: bool,
    /// The last Shapiro-Wilk W, once the test has run.
    pub statistic: Option<f64>,
}

/// Default cool-down after an alarm.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(3600);

/// PRADA per principal, with its action, cool-down, metrics and audit events.
///
/// Call [`Self::check`] before predicting (refuses a blocked principal before the model runs)
/// and [`Self::observe`] with the inputs and predicted classes before answering.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use mlguard_core::{ManualClock, Principal};
/// use mlguard_modelsec::{ExtractionAction, ExtractionDetector, Standing};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = ManualClock::at_unix(1_000_000);
/// let detector = ExtractionDetector::builder()
///     .action(ExtractionAction::Degrade)
///     .cooldown(Duration::from_secs(3600))
///     .clock(Arc::new(clock.clone()))
///     .build()?;
/// let eve = Principal::builder("eve").build();
/// assert_eq!(detector.check(&eve).await.map_err(|p| p.to_string())?, Standing::Normal);
/// let seen = detector.observe(&eve, &[vec![5.1, 3.5, 1.4, 0.2]], &[0]).await.map_err(|p| p.to_string())?;
/// assert!(!seen.alarm);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ExtractionDetector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: PradaConfig,
    action: ExtractionAction,
    cooldown: Duration,
    clock: SharedClock,
    store: Arc<dyn DetectorStore>,
    stats: Arc<ModelSecStats>,
    envelope: Option<Arc<Envelope>>,
}

/// Builds an [`ExtractionDetector`]; see [`ExtractionDetector::builder`].
#[derive(Debug)]
#[must_use]
pub struct ExtractionDetectorBuilder {
    config: PradaConfig,
    action: ExtractionAction,
    cooldown: Duration,
    clock: Option<SharedClock>,
    store: Option<Arc<dyn DetectorStore>>,
    envelope: Option<Arc<Envelope>>,
}

impl ExtractionDetectorBuilder {
    /// The input envelope, which turns on the out-of-distribution rate detector
    /// ([`OodRateConfig`]). Without one, only PRADA runs.
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = Some(Arc::new(envelope));
        self
    }

    /// The setup for a model with (`Some`) or without (`None`) training statistics, applied
    /// to the parameters set so far (call it after [`config`](Self::config)).
    ///
    /// With an envelope: the out-of-distribution rate detector runs on it, PRADA's distances
    /// are scaled by the training ranges ([`Envelope::training_ranges`]) and PRADA's alarm is
    /// off ([`PradaConfig::alarms`]: it false-alarms on benign replays of a small data set,
    /// see the module docs; W is still reported). Without one, PRADA is the only detector
    /// left, so its alarm is on.
    pub fn training_envelope(mut self, envelope: Option<Envelope>) -> Self {
        self.config.alarms = envelope.is_none();
        if let Some(env) = envelope {
            self.config.feature_scale = Some(env.training_ranges());
            self.envelope = Some(Arc::new(env));
        }
        self
    }

    /// PRADA's parameters (default [`PradaConfig::default`]).
    pub fn config(mut self, config: PradaConfig) -> Self {
        self.config = config;
        self
    }

    /// The action after an alarm (default [`ExtractionAction::Degrade`]).
    pub fn action(mut self, action: ExtractionAction) -> Self {
        self.action = action;
        self
    }

    /// How long `degrade` or `block` lasts after an alarm (default one hour).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The clock for cool-downs (default the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Where states are kept (default a [`MemoryStore`] of
    /// [`crate::store::DEFAULT_MAX_PRINCIPALS`] principals).
    pub fn store(mut self, store: Arc<dyn DetectorStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Checks the settings and builds the detector.
    ///
    /// # Errors
    /// [`ConfigError`] for bad PRADA parameters or a zero cool-down with `degrade`/`block`.
    pub fn build(self) -> Result<ExtractionDetector, ConfigError> {
        self.config.validate()?;
        if self.cooldown.is_zero() && self.action != ExtractionAction::Log {
            return Err(ConfigError(
                "the cool-down must be above zero for degrade and block",
            ));
        }
        if self.cooldown > Duration::from_secs(366 * 86_400) {
            return Err(ConfigError("the cool-down must be at most 366 days"));
        }
        Ok(ExtractionDetector {
            inner: Arc::new(Inner {
                config: self.config,
                action: self.action,
                cooldown: self.cooldown,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::default())),
                stats: Arc::default(),
                envelope: self.envelope,
            }),
        })
    }
}

/// Rows of up to this many features are scaled on the stack (no allocation per request).
const SCALED_ON_STACK: usize = 32;

/// `x` divided by `scale` feature by feature (when the lengths agree; else `x` as it is),
/// written into `stack` when it fits, else into `heap`.
fn scale<'a>(
    x: &'a [f64],
    scale: Option<&[f64]>,
    stack: &'a mut [f64; SCALED_ON_STACK],
    heap: &'a mut Vec<f64>,
) -> &'a [f64] {
    let Some(s) = scale.filter(|s| s.len() == x.len()) else {
        return x;
    };
    let scaled = x.iter().zip(s).map(|(v, s)| v / s);
    if x.len() <= SCALED_ON_STACK {
        let out = &mut stack[..x.len()];
        for (o, v) in out.iter_mut().zip(scaled) {
            *o = v;
        }
        out
    } else {
        heap.clear();
        heap.extend(scaled);
        heap
    }
}

impl ExtractionDetector {
    /// A builder with the defaults: PRADA as in [`PradaConfig::default`], `degrade` for one
    /// hour, system clock, memory store.
    pub fn builder() -> ExtractionDetectorBuilder {
        ExtractionDetectorBuilder {
            config: PradaConfig::default(),
            action: ExtractionAction::default(),
            cooldown: DEFAULT_COOLDOWN,
            clock: None,
            store: None,
            envelope: None,
        }
    }

    /// The action after an alarm.
    #[must_use]
    pub fn action(&self) -> ExtractionAction {
        self.inner.action
    }

    /// This detector's counters.
    #[must_use]
    pub fn stats(&self) -> &Arc<ModelSecStats> {
        &self.inner.stats
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn DetectorStore> {
        &self.inner.store
    }

    fn now(&self) -> u64 {
        self.inner
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn standing(&self, alarm_until: u64, now: u64) -> Result<Standing, Problem> {
        if alarm_until <= now {
            return Ok(Standing::Normal);
        }
        match self.inner.action {
            ExtractionAction::Log => Ok(Standing::Normal),
            ExtractionAction::Degrade => Ok(Standing::Degraded),
            ExtractionAction::Block => Err(blocked_problem(alarm_until - now)),
        }
    }

    /// How `principal` stands now, before its request runs.
    ///
    /// # Errors
    /// 403 (`type` [`PROBLEM_EXTRACTION_SUSPECTED`], `Retry-After` the rest of the cool-down)
    /// for a principal in a `block` cool-down.
    pub async fn check(&self, principal: &Principal) -> Result<Standing, Problem> {
        let key = events::bounded(principal.subject());
        let mut until = 0;
        let mut read = |s: Option<&PrincipalState>| until = s.map_or(0, |s| s.alarm_until);
        let store = &self.inner.store;
        let read = match store.try_read_sync(key, &mut read) {
            Some(done) => done,
            None => store.read(key, &mut read).await,
        };
        if let Err(e) = read {
            tracing::warn!(target: "mlguard_modelsec", error = %e, "extraction detector store unavailable; not checked");
            return Ok(Standing::Normal);
        }
        self.standing(until, self.now())
    }

    /// Feeds one request's inputs and their predicted classes (same length; extra items of
    /// the longer one are ignored) to the detector. An alarm is counted
    /// (`mlguard_extraction_alarms_total`), audited (principal, detector `prada` with statistic
    /// `shapiro_wilk_w`, or detector `ood_rate` with statistic `ood_fraction`, and its value;
    /// never the inputs), starts the cool-down and clears the principal's query history, so
    /// that only what it sends afterwards counts; while a cool-down runs, no new alarm is
    /// raised.
    ///
    /// A store failure is logged and the request passes (the detector fails open: it is a
    /// signal, the budget is the hard limit).
    ///
    /// # Errors
    /// 403 as in [`Self::check`] when this request raised an alarm with `block`.
    pub async fn observe(
        &self,
        principal: &Principal,
        inputs: &[Vec<f64>],
        classes: &[usize],
    ) -> Result<Observation, Problem> {
        let n = inputs.len().min(classes.len());
        self.observe_inner(principal, &inputs[..n], Some(&classes[..n]))
            .await
    }

    /// Feeds the inputs of a request the server refused without predicting (for example,
    /// rejected by the envelope) to the out-of-distribution rate detector only: probing the
    /// envelope is probing too. Without an envelope this does nothing.
    ///
    /// # Errors
    /// 403 as in [`Self::check`] when this request raised an alarm with `block`.
    pub async fn observe_refused(
        &self,
        principal: &Principal,
        inputs: &[Vec<f64>],
    ) -> Result<Observation, Problem> {
        if self.inner.envelope.is_none() {
            return Ok(Observation {
                standing: Standing::Normal,
                alarm: false,
                statistic: None,
            });
        }
        self.observe_inner(principal, inputs, None).await
    }

    async fn observe_inner(
        &self,
        principal: &Principal,
        inputs: &[Vec<f64>],
        classes: Option<&[usize]>,
    ) -> Result<Observation, Problem> {
        let key = events::bounded(principal.subject());
        let now = self.now();
        let config = &self.inner.config;
        let cooldown = self.inner.cooldown.as_secs().max(1);
        let envelope = self.inner.envelope.as_ref();
        let mut result = Outcome::default();
        // Each row scaled into this buffer (on the stack for up to `SCALED_ON_STACK` features).
        let mut stack = [0.0; SCALED_ON_STACK];
        let mut heap = Vec::new();
        let mut update = |state: &mut PrincipalState| {
            let mut out = Outcome {
                statistic: state.last_w,
                ..Outcome::default()
            };
            for (i, input) in inputs.iter().enumerate() {
                let x = scale(input, config.feature_scale.as_deref(), &mut stack, &mut heap);
                let outside = envelope.map(|env| !env.check(input).is_inside());
                let mut fired: Option<(&'static str, &'static str, f64)> = None;
                let class = classes
                    .and_then(|c| c.get(i))
                    .map(|&c| u32::try_from(c).unwrap_or(u32::MAX));
                if let Some(class) = class
                    && x.iter().all(|v| v.is_finite())
                    && let Some(w) = state.observe(config, x, class)
                {
                    out.statistic = Some(w);
                    if config.alarms && w < config.delta {
                        fired = Some(("prada", "shapiro_wilk_w", w));
                    }
                }
                if let Some(o) = outside
                    && let Some(share) = state.observe_envelope(&config.ood_rate, o)
                    && share > config.ood_rate.max_fraction
                    && fired.is_none()
                {
                    fired = Some(("ood_rate", "ood_fraction", share));
                }
                if let Some(f) = fired
                    && state.alarm_until <= now
                    && out.alarm.is_none()
                {
                    out.alarm = Some(f);
                    state.alarms += 1;
                    state.alarm_until = now.saturating_add(cooldown);
                    // A fresh start: what the principal sends from now on is judged on its
                    // own, so the cool-down ends for one who stopped (a blocked principal
                    // sends nothing the detector sees until then). The rest of this request
                    // is judged with it: not fed to the new history.
                    state.reset();
                    break;
                }
            }
            out.until = state.alarm_until;
            result = out;
        };
        let store = &self.inner.store;
        let updated = match store.try_update_sync(key, &mut update) {
            Some(done) => done,
            None => store.update(key, &mut update).await,
        };
        if let Err(e) = updated {
            tracing::warn!(target: "mlguard_modelsec", error = %e, "extraction detector store unavailable; not observed");
            return Ok(Observation {
                standing: Standing::Normal,
                alarm: false,
                statistic: None,
            });
        }
        let Outcome {
            alarm: fired,
            statistic,
            until,
        } = result;
        let alarm = fired.is_some();
        if let Some((detector, name, value)) = fired {
            ModelSecStats::bump(&self.inner.stats.extraction_alarms);
            metrics::counter!(EXTRACTION_ALARMS, "detector" => detector, "action" => self.inner.action.as_str())
                .increment(1);
            tracing::warn!(
                target: events::AUDIT_TARGET,
                event = "extraction_alarm",
                principal = %key,
                detector,
                statistic = name,
                value,
                action = self.inner.action.as_str(),
                cooldown_secs = cooldown,
            );
        }
        let standing = self.standing(until, now)?;
        Ok(Observation {
            standing,
            alarm,
            statistic,
        })
    }
}

/// What one update found: the alarm (detector, statistic name, value), the last W, and the end
/// of the cool-down.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    alarm: Option<(&'static str, &'static str, f64)>,
    statistic: Option<f64>,
    until: u64,
}

fn blocked_problem(remaining_secs: u64) -> Problem {
    Problem::forbidden("Access to the model is suspended: the queries of this principal look like a model extraction attack.")
        .with_type(PROBLEM_EXTRACTION_SUSPECTED)
        .with_title("Model extraction suspected")
        .with_extension("code", "extraction_suspected".into())
        .with_header(RETRY_AFTER, HeaderValue::from(remaining_secs.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapiro::shapiro_wilk_w;
    use proptest::prelude::*;

    /// `PrincipalState::observe` as it was before the sorted window (issue 17): filter the
    /// distances in arrival order into a new Vec, and let `shapiro_wilk_w` copy and sort it.
    /// The reference the sorted path must match bit for bit.
    fn observe_reference(s: &mut PrincipalState, config: &PradaConfig, x: &[f64], class: u32) -> Option<f64> {
        s.queries += 1;
        let idx = match s.classes.iter().position(|c| c.class == class) {
            Some(i) => i,
            None if s.classes.len() < config.max_classes => {
                s.classes.push(ClassState {
                    class,
                    ..ClassState::default()
                });
                s.classes.len() - 1
            }
            None => return None,
        };
        let cs = &mut s.classes[idx];
        let nearest = cs
            .members
            .iter()
            .map(|y| l2(x, y))
            .filter(|d| d.is_finite())
            .min_by(f64::total_cmp);
        match nearest {
            None => {
                cs.members.push_back(x.to_vec());
                trim(&mut cs.members, config.max_growing_set);
                return None;
            }
            Some(d_min) => {
                s.distances.push_back(d_min);
                trim(&mut s.distances, config.max_distances);
                if d_min > cs.threshold {
                    cs.members.push_back(x.to_vec());
                    cs.admitted.push_back(d_min);
                    trim(&mut cs.members, config.max_growing_set);
                    trim(&mut cs.admitted, config.max_growing_set);
                    let (mean, std) = mean_std(cs.admitted.iter().copied());
                    cs.threshold = cs.threshold.max(mean - std);
                }
            }
        }
        if s.distances.len() < config.min_distances {
            return None;
        }
        let (mean, std) = mean_std(s.distances.iter().copied());
        let kept: Vec<f64> = s
            .distances
            .iter()
            .copied()
            .filter(|d| (d - mean).abs() <= config.outlier_sigmas * std)
            .collect();
        let w = shapiro_wilk_w(&kept);
        s.last_w = w;
        w
    }

    fn same_w(a: Option<f64>, b: Option<f64>) -> bool {
        a.map(f64::to_bits) == b.map(f64::to_bits)
    }

    /// One query: a coordinate pattern from a small set of values (repeats, zeros of both
    /// signs, outliers) so that equal distances, `-0.0` and trimmed outliers all occur.
    fn coordinate() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -10.0..10.0f64,
            2 => prop::sample::select(vec![0.0, -0.0, 1.0, 2.0, 0.5]),
            1 => prop::sample::select(vec![1e3, -1e3, 1e-9]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sorted_window_gives_the_same_w_bit_for_bit(
            queries in prop::collection::vec(
                (prop::collection::vec(coordinate(), 0..=4usize), 0u32..4),
                1..400,
            ),
            min_distances in 3usize..12,
            extra in 0usize..30,
            sigmas in prop::sample::select(vec![0.5, 1.0, 2.0, 3.0]),
            round_trip_at in 0usize..400,
        ) {
            let config = PradaConfig {
                min_distances,
                max_distances: min_distances + extra,
                max_growing_set: 6,
                max_classes: 3,
                outlier_sigmas: sigmas,
                ..PradaConfig::default()
            };
            let (mut new, mut old) = (PrincipalState::default(), PrincipalState::default());
            for (i, (x, class)) in queries.iter().enumerate() {
                if i == round_trip_at {
                    // The sorted copy is not serialized: it must come back on its own.
                    let json = serde_json::to_string(&new).unwrap();
                    prop_assert_eq!(&json, &serde_json::to_string(&old).unwrap());
                    new = serde_json::from_str(&json).unwrap();
                    prop_assert!(new.sorted.0.is_empty());
                }
                let a = new.observe(&config, x, *class);
                let b = observe_reference(&mut old, &config, x, *class);
                prop_assert!(same_w(a, b), "step {}: {:?} != {:?}", i, a, b);
                prop_assert_eq!(&new, &old);
                // The sorted copy is either the window sorted, or of another length (not
                // rebuilt yet, after the round trip, until the next distance arrives).
                if new.sorted.0.len() == new.distances.len() {
                    let mut want: Vec<f64> = new.distances.iter().copied().collect();
                    want.sort_by(f64::total_cmp);
                    let bits = |v: &f64| v.to_bits();
                    prop_assert!(want.iter().map(bits).eq(new.sorted.0.iter().map(bits)));
                } else {
                    prop_assert!(i >= round_trip_at && new.sorted.0.is_empty());
                }
            }
        }
    }

    #[test]
    fn an_edited_window_is_sorted_again() {
        let config = PradaConfig {
            min_distances: 3,
            max_distances: 5,
            ..PradaConfig::default()
        };
        let (mut new, mut old) = (PrincipalState::default(), PrincipalState::default());
        for i in 0..8u32 {
            let x = [f64::from(i * i), 1.0];
            assert!(same_w(
                new.observe(&config, &x, 0),
                observe_reference(&mut old, &config, &x, 0)
            ));
        }
        // Someone replaces the pub window (another length): the sorted copy follows.
        for s in [&mut new, &mut old] {
            s.distances = [9.0, 0.5, 3.0, -0.0, 0.0, 7.0].into();
        }
        let x = [100.0, 1.0];
        let (a, b) = (
            new.observe(&config, &x, 0),
            observe_reference(&mut old, &config, &x, 0),
        );
        assert!(a.is_some() && same_w(a, b), "{a:?} != {b:?}");
        assert_eq!(new.sorted.0.len(), 5);
        assert!(new.sorted.0.windows(2).all(|w| w[0] <= w[1]));
        // Equality and the serialized form ignore the sorted copy.
        assert_eq!(new, old);
        assert!(!serde_json::to_string(&new).unwrap().contains("sorted"));
    }

    #[test]
    fn kept_is_the_filtered_slice() {
        let sorted = [-0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 10.0];
        assert_eq!(kept(&sorted, 2.0, 1.0), [1.0, 2.0, 2.0, 3.0]);
        assert_eq!(kept(&sorted, 2.0, 2.0), [-0.0, 0.0, 1.0, 2.0, 2.0, 3.0]);
        assert!(kept(&sorted, 2.0, f64::NAN).is_empty());
        assert_eq!(kept(&sorted, f64::INFINITY, f64::INFINITY).len(), 7);
    }

    #[test]
    fn growing_set_follows_the_algorithm() {
        let config = PradaConfig {
            min_distances: 3,
            ..PradaConfig::default()
        };
        let mut s = PrincipalState::default();
        // First query of class 0 starts G_0, no distance.
        assert_eq!(s.observe(&config, &[0.0, 0.0], 0), None);
        assert!(s.distances.is_empty());
        // Distance 5 > T_0 = 0: admitted; T_0 = mean - std of {5} = 5.
        s.observe(&config, &[3.0, 4.0], 0);
        assert_eq!(s.distances, [5.0]);
        assert_eq!(s.classes[0].members.len(), 2);
        assert_eq!(s.classes[0].threshold, 5.0);
        // Distance 1 (to (0,0)) <= 5: counted in D, not admitted.
        s.observe(&config, &[1.0, 0.0], 0);
        assert_eq!(s.distances, [5.0, 1.0]);
        assert_eq!(s.classes[0].members.len(), 2);
        // Another class has its own set.
        s.observe(&config, &[100.0, 100.0], 1);
        assert_eq!(s.classes.len(), 2);
        assert_eq!(s.distances.len(), 2);
        // Distance 10 to (3,4)... the nearest member is (3,4): |(13,4)-(3,4)| = 10 > 5.
        let w = s.observe(&config, &[13.0, 4.0], 0);
        assert_eq!(s.distances, [5.0, 1.0, 10.0]);
        assert!(w.is_some());
        // T_0 = max(5, mean{5,10} - std{5,10}) = max(5, 7.5 - 2.5) = 5.
        assert_eq!(s.classes[0].threshold, 5.0);
        assert_eq!(s.queries, 5);
    }

    #[test]
    fn memory_is_bounded() {
        let config = PradaConfig {
            max_distances: 10,
            min_distances: 5,
            max_growing_set: 4,
            max_classes: 2,
            ..PradaConfig::default()
        };
        let mut s = PrincipalState::default();
        for i in 0..1000u32 {
            let v = f64::from(i);
            s.observe(&config, &[v * v, -v], i % 5);
        }
        assert!(s.distances.len() <= 10);
        assert_eq!(s.classes.len(), 2);
        assert!(
            s.classes
                .iter()
                .all(|c| c.members.len() <= 4 && c.admitted.len() <= 4)
        );
    }

    #[test]
    fn config_is_checked() {
        let bad = |f: fn(&mut PradaConfig)| {
            let mut c = PradaConfig::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.delta = 1.0));
        assert!(bad(|c| c.min_distances = 2));
        assert!(bad(|c| c.max_distances = 6000));
        assert!(bad(|c| c.min_distances = c.max_distances + 1));
        assert!(bad(|c| c.max_growing_set = 0));
        assert!(bad(|c| c.feature_scale = Some(vec![1.0, 0.0])));
        assert!(
            ExtractionDetector::builder()
                .cooldown(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            ExtractionDetector::builder()
                .action(ExtractionAction::Log)
                .cooldown(Duration::ZERO)
                .build()
                .is_ok()
        );
    }
}
