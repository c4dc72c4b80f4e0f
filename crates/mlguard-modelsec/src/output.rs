//! Output policy (MITRE ATLAS **M0002**, "Passive ML output obfuscation"; OWASP ML Top 10
//! **ML05** model theft, **ML03** model inversion, **ML04** membership inference).
//!
//! Full class probabilities are what makes extraction cheap: Tramèr et al. ("Stealing Machine
//! Learning Models via Prediction APIs", USENIX Security 2016) solve for a logistic regression's
//! weights from confidence values with about one query per parameter, and their path-finding
//! attack on trees uses the confidence to tell leaves apart; membership inference (Shokri et al.,
//! IEEE S&P 2017) and model inversion (Fredrikson et al., CCS 2015) also feed on confidences.
//! Rounding them raises the cost; answering with the label only raises it most (Tramèr et al.
//! section 7).
//!
//! - [`OutputPolicy`]: `Full`, `Rounded { decimals }` or `LabelOnly`, applied to any response
//!   type through the [`ModelOutput`] trait.
//! - [`OutputPolicyResolver`]: which policy a [`Principal`] gets, from a permission (for
//!   example `model:probabilities`: full probabilities with it, rounded or none without).
//! - [`OutputPolicyLayer`]: a tower layer that resolves the policy once per request and puts it
//!   in the request extensions, where the handler reads it.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use mlguard_core::Principal;
use tower_layer::Layer;
use tower_service::Service;

/// Most decimals a rounding policy may keep (beyond this `f64` rounding is meaningless).
pub const MAX_DECIMALS: u32 = 15;

/// How much of a model's output a caller sees.
///
/// ```
/// use mlguard_modelsec::{ModelOutput, OutputPolicy};
///
/// struct Answer { class: usize, probabilities: Option<Vec<f64>> }
/// impl ModelOutput for Answer {
///     fn round_probabilities(&mut self, decimals: u32) {
///         if let Some(p) = &mut self.probabilities {
///             mlguard_modelsec::output::round_all(p, decimals);
///         }
///     }
///     fn strip_probabilities(&mut self) { self.probabilities = None; }
/// }
///
/// let mut a = Answer { class: 1, probabilities: Some(vec![0.123456, 0.876544]) };
/// OutputPolicy::Rounded { decimals: 2 }.apply(&mut a);
/// assert_eq!(a.probabilities, Some(vec![0.12, 0.88]));
/// OutputPolicy::LabelOnly.apply(&mut a);
/// assert_eq!(a.probabilities, None);
/// assert_eq!(a.class, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutputPolicy {
    /// The model's output as it is.
    Full,
    /// Probabilities rounded to this many decimals (at most [`MAX_DECIMALS`]).
    Rounded {
        /// Decimals kept.
        decimals: u32,
    },
    /// The predicted label only: no probabilities.
    LabelOnly,
}

impl OutputPolicy {
    /// Applies the policy to one output.
    pub fn apply<O: ModelOutput + ?Sized>(self, output: &mut O) {
        match self {
            Self::Full => {}
            Self::Rounded { decimals } => output.round_probabilities(decimals.min(MAX_DECIMALS)),
            Self::LabelOnly => output.strip_probabilities(),
        }
    }

    /// Applies the policy to every output of a batch.
    pub fn apply_all<O: ModelOutput>(self, outputs: &mut [O]) {
        for o in outputs {
            self.apply(o);
        }
    }

    /// The more restrictive of two policies (`LabelOnly` < `Rounded` with fewer decimals <
    /// `Full`): what a caller gets when two rules apply (for example its permission, and a
    /// cool-down after an extraction alarm).
    ///
    /// ```
    /// use mlguard_modelsec::OutputPolicy;
    /// let r2 = OutputPolicy::Rounded { decimals: 2 };
    /// assert_eq!(OutputPolicy::Full.most_restrictive(r2), r2);
    /// assert_eq!(r2.most_restrictive(OutputPolicy::LabelOnly), OutputPolicy::LabelOnly);
    /// ```
    #[must_use]
    pub fn most_restrictive(self, other: Self) -> Self {
        fn rank(p: OutputPolicy) -> u64 {
            match p {
                OutputPolicy::LabelOnly => 0,
                OutputPolicy::Rounded { decimals } => 1 + u64::from(decimals.min(MAX_DECIMALS)),
                OutputPolicy::Full => u64::MAX,
            }
        }
        if rank(other) < rank(self) { other } else { self }
    }

    /// Whether the caller sees probabilities at all.
    #[must_use]
    pub fn includes_probabilities(self) -> bool {
        !matches!(self, Self::LabelOnly)
    }
}

impl fmt::Display for OutputPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("full"),
            Self::Rounded { decimals } => write!(f, "rounded({decimals})"),
            Self::LabelOnly => f.write_str("label_only"),
        }
    }
}

/// A model answer an [`OutputPolicy`] can be applied to. Implement it for your response type.
pub trait ModelOutput {
    /// Rounds every probability (or score) to `decimals` decimals.
    fn round_probabilities(&mut self, decimals: u32);
    /// Removes the probabilities, leaving the label.
    fn strip_probabilities(&mut self);
}

/// Rounds `value` to `decimals` decimals (half away from zero); non-finite values unchanged.
///
/// ```
/// assert_eq!(mlguard_modelsec::output::round_to(0.126, 2), 0.13);
/// assert_eq!(mlguard_modelsec::output::round_to(1.0 / 3.0, 0), 0.0);
/// ```
#[must_use]
pub fn round_to(value: f64, decimals: u32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(i32::try_from(decimals.min(MAX_DECIMALS)).unwrap_or(15));
    let rounded = (value * scale).round() / scale;
    if rounded.is_finite() { rounded } else { value }
}

/// Rounds every value of `values` with [`round_to`].
pub fn round_all(values: &mut [f64], decimals: u32) {
    for v in values {
        *v = round_to(*v, decimals);
    }
}

type HasPermission = dyn Fn(&Principal, &str) -> bool + Send + Sync;

/// Which [`OutputPolicy`] a principal gets.
///
/// Principals holding the `full` permission get [`OutputPolicy::Full`]; the others get the
/// default (for ml-api: rounded to `MLGUARD_PROBABILITY_DECIMALS`, or label only). Requests
/// without a principal get [`OutputPolicy::LabelOnly`].
///
/// Whether a principal holds a permission is asked of a function: by default the principal's
/// directly granted permissions ([`Principal::permissions`], narrowed by its token scope when it
/// has one). A server with role-based policies passes its own, for example with mlguard-rbac:
/// `move |p, perm| policy.is_allowed(p, &perm.parse().unwrap()).is_allowed()` (parse the
/// permission once, outside the closure, in real code).
///
/// ```
/// use mlguard_core::Principal;
/// use mlguard_modelsec::{OutputPolicy, OutputPolicyResolver};
///
/// let resolver = OutputPolicyResolver::new(OutputPolicy::LabelOnly)
///     .full_with_permission("model:probabilities");
/// let admin = Principal::builder("root").permission("model:probabilities").build();
/// let client = Principal::builder("c1").permission("model:predict").build();
/// assert_eq!(resolver.resolve(Some(&admin)), OutputPolicy::Full);
/// assert_eq!(resolver.resolve(Some(&client)), OutputPolicy::LabelOnly);
/// assert_eq!(resolver.resolve(None), OutputPolicy::LabelOnly);
///
/// // Roles resolved by the server's own policy:
/// let by_role = OutputPolicyResolver::new(OutputPolicy::Rounded { decimals: 2 })
///     .full_with_permission("model:probabilities")
///     .permission_check(|p, _perm| p.has_role("admin"));
/// let admin = Principal::builder("root").role("admin").build();
/// assert_eq!(by_role.resolve(Some(&admin)), OutputPolicy::Full);
/// assert_eq!(by_role.resolve(Some(&client)), OutputPolicy::Rounded { decimals: 2 });
/// ```
#[derive(Clone)]
#[must_use]
pub struct OutputPolicyResolver {
    default: OutputPolicy,
    full: Option<Arc<str>>,
    check: Arc<HasPermission>,
    cap: OutputPolicy,
}

impl fmt::Debug for OutputPolicyResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputPolicyResolver")
            .field("default", &self.default)
            .field("full", &self.full)
            .field("cap", &self.cap)
            .finish_non_exhaustive()
    }
}

/// The default permission check: granted directly, and inside the token scope if narrowed.
fn direct_permission(p: &Principal, permission: &str) -> bool {
    p.permissions().contains(permission) && p.scopes().is_none_or(|s| s.contains(permission))
}

impl OutputPolicyResolver {
    /// Everyone with a principal gets `default` (until [`Self::full_with_permission`]).
    pub fn new(default: OutputPolicy) -> Self {
        Self {
            default,
            full: None,
            check: Arc::new(direct_permission),
            cap: OutputPolicy::Full,
        }
    }

    /// Nobody gets more than `cap` (default [`OutputPolicy::Full`]): with
    /// `Rounded { decimals: 4 }`, even holders of the [`full`](Self::full_with_permission)
    /// permission get probabilities rounded to 4 decimals.
    ///
    /// ```
    /// use mlguard_core::Principal;
    /// use mlguard_modelsec::{OutputPolicy, OutputPolicyResolver};
    /// let r = OutputPolicyResolver::new(OutputPolicy::LabelOnly)
    ///     .full_with_permission("model:probabilities")
    ///     .at_most(OutputPolicy::Rounded { decimals: 4 });
    /// let analyst = Principal::builder("a").permission("model:probabilities").build();
    /// assert_eq!(r.resolve(Some(&analyst)), OutputPolicy::Rounded { decimals: 4 });
    /// ```
    pub fn at_most(mut self, cap: OutputPolicy) -> Self {
        self.cap = cap;
        self
    }

    /// Principals holding `permission` get [`OutputPolicy::Full`].
    pub fn full_with_permission(mut self, permission: impl Into<String>) -> Self {
        self.full = Some(Arc::from(permission.into()));
        self
    }

    /// How to tell whether a principal holds a permission (default: directly granted).
    pub fn permission_check<F>(mut self, check: F) -> Self
    where
        F: Fn(&Principal, &str) -> bool + Send + Sync + 'static,
    {
        self.check = Arc::new(check);
        self
    }

    /// The policy for `principal`.
    #[must_use]
    pub fn resolve(&self, principal: Option<&Principal>) -> OutputPolicy {
        let Some(p) = principal else {
            return OutputPolicy::LabelOnly;
        };
        let policy = match &self.full {
            Some(perm) if (self.check)(p, perm) => OutputPolicy::Full,
            _ => self.default,
        };
        policy.most_restrictive(self.cap)
    }

    /// The default policy (for principals without the `full` permission).
    #[must_use]
    pub fn default_policy(&self) -> OutputPolicy {
        self.default
    }
}

/// A tower layer that resolves each request's [`OutputPolicy`] from the [`Principal`] in its
/// extensions (put there by authentication, so place this layer inside it) and inserts it into
/// the extensions. The handler reads it (in axum: `Extension<OutputPolicy>`) and applies it.
///
/// ```
/// use std::convert::Infallible;
/// use http::Request;
/// use mlguard_core::Principal;
/// use mlguard_modelsec::{OutputPolicy, OutputPolicyLayer, OutputPolicyResolver};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let layer = OutputPolicyLayer::new(
///     OutputPolicyResolver::new(OutputPolicy::LabelOnly).full_with_permission("model:probabilities"),
/// );
/// let svc = ServiceBuilder::new().layer(layer).service_fn(|req: Request<()>| async move {
///     Ok::<_, Infallible>(*req.extensions().get::<OutputPolicy>().unwrap())
/// });
/// let mut req = Request::new(());
/// req.extensions_mut().insert(Principal::builder("a").permission("model:probabilities").build());
/// assert_eq!(svc.oneshot(req).await.unwrap(), OutputPolicy::Full);
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct OutputPolicyLayer {
    resolver: OutputPolicyResolver,
}

impl OutputPolicyLayer {
    /// A layer resolving with `resolver`.
    pub fn new(resolver: OutputPolicyResolver) -> Self {
        Self { resolver }
    }
}

impl<S> Layer<S> for OutputPolicyLayer {
    type Service = ResolveOutputPolicy<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResolveOutputPolicy {
            inner,
            resolver: self.resolver.clone(),
        }
    }
}

/// The service made by [`OutputPolicyLayer`].
#[derive(Debug, Clone)]
pub struct ResolveOutputPolicy<S> {
    inner: S,
    resolver: OutputPolicyResolver,
}

impl<S, B> Service<Request<B>> for ResolveOutputPolicy<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let policy = self
            .resolver
            .resolve(Principal::from_extensions(req.extensions()));
        req.extensions_mut().insert(policy);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Out(Option<Vec<f64>>);
    impl ModelOutput for Out {
        fn round_probabilities(&mut self, decimals: u32) {
            if let Some(p) = &mut self.0 {
                round_all(p, decimals);
            }
        }
        fn strip_probabilities(&mut self) {
            self.0 = None;
        }
    }

    #[test]
    fn each_policy_does_what_it_says() {
        let mut batch = vec![Out(Some(vec![0.333_333, 0.666_667])), Out(Some(vec![0.05, 0.95]))];
        OutputPolicy::Full.apply_all(&mut batch);
        assert_eq!(batch[0].0, Some(vec![0.333_333, 0.666_667]));
        OutputPolicy::Rounded { decimals: 1 }.apply_all(&mut batch);
        assert_eq!(batch[0].0, Some(vec![0.3, 0.7]));
        assert_eq!(batch[1].0, Some(vec![0.1, 1.0]));
        OutputPolicy::LabelOnly.apply_all(&mut batch);
        assert!(batch.iter().all(|o| o.0.is_none()));
    }

    #[test]
    fn scope_narrows_the_direct_permission() {
        let r = OutputPolicyResolver::new(OutputPolicy::Rounded { decimals: 2 })
            .full_with_permission("model:probabilities");
        let narrowed = Principal::builder("a")
            .permission("model:probabilities")
            .scopes(["model:predict"])
            .build();
        assert_eq!(r.resolve(Some(&narrowed)), OutputPolicy::Rounded { decimals: 2 });
        // Without a `full` permission configured, everyone gets the default.
        let plain = OutputPolicyResolver::new(OutputPolicy::Full);
        assert_eq!(plain.resolve(Some(&narrowed)), OutputPolicy::Full);
    }

    #[test]
    fn huge_decimals_are_capped_and_rounding_never_makes_nan() {
        assert_eq!(round_to(0.5, u32::MAX), 0.5);
        assert_eq!(round_to(f64::MAX, 3), f64::MAX);
        assert!(round_to(f64::NAN, 2).is_nan());
        assert_eq!(
            OutputPolicy::Rounded { decimals: 99 }.most_restrictive(OutputPolicy::Rounded { decimals: 20 }),
            OutputPolicy::Rounded { decimals: 99 }
        );
    }
}
