//! [`ModelGuard`]: the four components in the order a prediction route runs them.

use mlguard_core::{Principal, Problem};

use crate::budget::QueryBudget;
use crate::envelope::{Envelope, OodAction, OodGuard, OodReport};
use crate::output::{ModelOutput, OutputPolicy, OutputPolicyResolver};
use crate::prada::{ConfigError, ExtractionDetector, ExtractionDetectorBuilder, Standing};

/// Output policy, query budget, input envelope and extraction detector, composed for a
/// prediction handler: [`admit`](Self::admit) before the model runs, [`release`](Self::release)
/// after it, then apply the returned [`OutputPolicy`] to the answer.
///
/// Order in `admit`: a principal blocked by the detector is refused first (403, the model does
/// not run, nothing is charged); then the budget is charged one unit per row (429), so that
/// queries the envelope refuses still cost (probing the envelope is not free); then the
/// envelope (422 with `reject`, or logged). Rows the envelope refuses are also fed to the
/// detector's out-of-distribution rate ([`ExtractionDetector::observe_refused`]).
///
/// ```
/// use mlguard_core::Principal;
/// use mlguard_modelsec::{
///     Envelope, ExtractionDetector, ModelGuard, ModelOutput, OodAction, OodGuard, OutputPolicy,
///     OutputPolicyResolver, QueryBudget,
/// };
///
/// struct Answer { class: usize, probabilities: Option<Vec<f64>> }
/// impl ModelOutput for Answer {
///     fn round_probabilities(&mut self, d: u32) {
///         if let Some(p) = &mut self.probabilities { mlguard_modelsec::output::round_all(p, d) }
///     }
///     fn strip_probabilities(&mut self) { self.probabilities = None }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let envelope = Envelope::new(vec![0.0], vec![10.0], vec![5.0], vec![vec![0.12]], 4.0)?;
/// let guard = ModelGuard::builder(
///         OutputPolicyResolver::new(OutputPolicy::Rounded { decimals: 2 })
///             .full_with_permission("model:probabilities"),
///     )
///     .budget(QueryBudget::builder("5000/day").build()?)
///     .envelope(OodGuard::new(envelope, OodAction::Reject))
///     .extraction(ExtractionDetector::builder().build()?)
///     .build();
///
/// let client = Principal::builder("c1").permission("model:predict").build();
/// let rows = vec![vec![4.2]];
/// let admission = guard.admit(&client, &rows).await.map_err(|p| p.to_string())?;          // 403 / 429 / 422
/// let mut answers = vec![Answer { class: 1, probabilities: Some(vec![0.123, 0.877]) }];
/// let classes: Vec<usize> = answers.iter().map(|a| a.class).collect();
/// let policy = guard.release(&client, &admission, &rows, &classes).await.map_err(|p| p.to_string())?; // 403 on a block
/// policy.apply_all(&mut answers);
/// assert_eq!(answers[0].probabilities, Some(vec![0.12, 0.88]));
///
/// assert_eq!(guard.admit(&client, &[vec![99.0]]).await.unwrap_err().status(), 422);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ModelGuard {
    output: OutputPolicyResolver,
    budget: Option<QueryBudget>,
    envelope: Option<OodGuard>,
    extraction: Option<ExtractionDetector>,
}

/// Builds a [`ModelGuard`]; see [`ModelGuard::builder`].
#[derive(Debug)]
#[must_use]
pub struct ModelGuardBuilder {
    guard: ModelGuard,
}

impl ModelGuardBuilder {
    /// Adds a query budget.
    pub fn budget(mut self, budget: QueryBudget) -> Self {
        self.guard.budget = Some(budget);
        self
    }

    /// Adds an input envelope (for example only when the model file has training statistics).
    pub fn envelope(mut self, envelope: OodGuard) -> Self {
        self.guard.envelope = Some(envelope);
        self
    }

    /// Adds the extraction detector.
    pub fn extraction(mut self, detector: ExtractionDetector) -> Self {
        self.guard.extraction = Some(detector);
        self
    }

    /// The input-side protection for a model with (`Some`) or without (`None`) training
    /// statistics: with an envelope, an [`OodGuard`] with `ood_action`; and the extraction
    /// detector from `detector` (action, cool-down, store as set there) configured by
    /// [`ExtractionDetectorBuilder::training_envelope`].
    ///
    /// ```
    /// use mlguard_modelsec::{Envelope, ExtractionDetector, ModelGuard, OodAction, OutputPolicy, OutputPolicyResolver};
    /// let envelope = Envelope::new(vec![0.0], vec![10.0], vec![5.0], vec![vec![0.12]], 4.0)?;
    /// let guard = ModelGuard::builder(OutputPolicyResolver::new(OutputPolicy::LabelOnly))
    ///     .training_envelope(Some(envelope), OodAction::Reject, ExtractionDetector::builder())?
    ///     .build();
    /// assert!(guard.envelope().is_some() && guard.extraction().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ConfigError`] from the detector's settings.
    pub fn training_envelope(
        mut self,
        envelope: Option<Envelope>,
        ood_action: OodAction,
        detector: ExtractionDetectorBuilder,
    ) -> Result<Self, ConfigError> {
        self.guard.extraction = Some(detector.training_envelope(envelope.clone()).build()?);
        if let Some(env) = envelope {
            self.guard.envelope = Some(OodGuard::new(env, ood_action));
        }
        Ok(self)
    }

    /// Finishes the guard.
    pub fn build(self) -> ModelGuard {
        self.guard
    }
}

/// What [`ModelGuard::admit`] found; pass it to [`ModelGuard::release`].
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// The principal's standing with the extraction detector before this request.
    pub standing: Standing,
    /// The envelope's report (rows logged as out of distribution), when there is an envelope.
    pub ood: Option<OodReport>,
}

impl ModelGuard {
    /// A guard with only an output policy; add the other components with the builder.
    pub fn builder(output: OutputPolicyResolver) -> ModelGuardBuilder {
        ModelGuardBuilder {
            guard: Self {
                output,
                budget: None,
                envelope: None,
                extraction: None,
            },
        }
    }

    /// The output policy resolver.
    pub fn output(&self) -> &OutputPolicyResolver {
        &self.output
    }

    /// The query budget, if any.
    #[must_use]
    pub fn budget(&self) -> Option<&QueryBudget> {
        self.budget.as_ref()
    }

    /// The envelope, if any.
    #[must_use]
    pub fn envelope(&self) -> Option<&OodGuard> {
        self.envelope.as_ref()
    }

    /// The extraction detector, if any.
    #[must_use]
    pub fn extraction(&self) -> Option<&ExtractionDetector> {
        self.extraction.as_ref()
    }

    /// Runs before the model: detector standing, budget (one unit per row), envelope.
    ///
    /// # Errors
    /// 403 for a blocked principal, 429 for a spent budget (503 if its store refuses), 422 for
    /// an input outside the envelope with `reject`.
    pub async fn admit(&self, principal: &Principal, rows: &[Vec<f64>]) -> Result<Admission, Problem> {
        let standing = match &self.extraction {
            Some(d) => d.check(principal).await?,
            None => Standing::Normal,
        };
        if let Some(b) = &self.budget {
            b.charge(principal, rows.len()).await?;
        }
        let ood = match &self.envelope {
            Some(e) => match e.inspect(principal, rows) {
                Ok(report) => Some(report),
                Err(refused) => {
                    // Probing the envelope counts towards the detector's out-of-distribution
                    // rate; an alarm with `block` answers 403 rather than 422.
                    if let Some(d) = &self.extraction {
                        d.observe_refused(principal, rows).await?;
                    }
                    return Err(refused);
                }
            },
            None => None,
        };
        Ok(Admission { standing, ood })
    }

    /// The whole sequence around a model call: [`admit`](Self::admit), `predict` on the rows,
    /// [`release`](Self::release) with the classes `class` reads from each answer, then the
    /// output policy applied to the answers. Use it instead of the three calls, so none is
    /// forgotten (a skipped `release` leaves the detector blind).
    ///
    /// ```
    /// use mlguard_core::Principal;
    /// use mlguard_modelsec::{ModelGuard, ModelOutput, OutputPolicy, OutputPolicyResolver};
    /// struct Answer { class: usize, probabilities: Option<Vec<f64>> }
    /// impl ModelOutput for Answer {
    ///     fn round_probabilities(&mut self, _: u32) {}
    ///     fn strip_probabilities(&mut self) { self.probabilities = None }
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let guard = ModelGuard::builder(OutputPolicyResolver::new(OutputPolicy::LabelOnly)).build();
    /// let who = Principal::builder("c").build();
    /// let answers = guard
    ///     .run(&who, &[vec![1.0]], |rows| Ok(rows.iter().map(|_| Answer { class: 1, probabilities: Some(vec![0.2, 0.8]) }).collect()), |a| a.class)
    ///     .await
    ///     .unwrap();
    /// assert_eq!(answers[0].probabilities, None);
    /// # }
    /// ```
    ///
    /// # Errors
    /// Those of `admit` and `release`, and `predict`'s own.
    pub async fn run<O, F, C>(
        &self,
        principal: &Principal,
        rows: &[Vec<f64>],
        predict: F,
        class: C,
    ) -> Result<Vec<O>, Problem>
    where
        O: ModelOutput,
        F: FnOnce(&[Vec<f64>]) -> Result<Vec<O>, Problem>,
        C: Fn(&O) -> usize,
    {
        let admission = self.admit(principal, rows).await?;
        let mut answers = predict(rows)?;
        // The classes of a small batch (one row, on `/predict`) on the stack.
        let mut stack = [0usize; 16];
        let heap: Vec<usize>;
        let classes: &[usize] = if answers.len() <= stack.len() {
            for (c, a) in stack.iter_mut().zip(&answers) {
                *c = class(a);
            }
            &stack[..answers.len()]
        } else {
            heap = answers.iter().map(class).collect();
            &heap
        };
        let policy = self.release(principal, &admission, rows, classes).await?;
        policy.apply_all(&mut answers);
        Ok(answers)
    }

    /// Runs after the model, before answering: feeds the detector, and returns the output
    /// policy for this answer (the principal's, or label-only in a `degrade` cool-down).
    ///
    /// # Errors
    /// 403 when this request raised an alarm and the action is `block`.
    pub async fn release(
        &self,
        principal: &Principal,
        admission: &Admission,
        rows: &[Vec<f64>],
        classes: &[usize],
    ) -> Result<OutputPolicy, Problem> {
        let mut policy = self.output.resolve(Some(principal));
        let mut standing = admission.standing;
        if let Some(d) = &self.extraction {
            let seen = d.observe(principal, rows, classes).await?;
            if seen.standing == Standing::Degraded {
                standing = Standing::Degraded;
            }
        }
        if standing == Standing::Degraded {
            policy = policy.most_restrictive(OutputPolicy::LabelOnly);
        }
        Ok(policy)
    }
}
