//! What every client saw: counts per attacker and outcome, how long connections were held, and
//! one sample per legitimate request.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// One legitimate request.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    /// Seconds since the soak started, when the request was sent.
    pub(crate) at: f64,
    /// `predict` or `encrypt`.
    pub(crate) route: &'static str,
    /// `jwt` or `api-key`.
    pub(crate) auth: &'static str,
    /// The status, or 0 when no response arrived (connection error or client timeout).
    pub(crate) status: u16,
    pub(crate) latency: Duration,
}

#[derive(Default)]
struct Inner {
    counts: BTreeMap<(&'static str, String), u64>,
    held: BTreeMap<&'static str, Duration>,
    legit: Vec<Sample>,
}

/// Shared by all tasks.
#[derive(Default)]
pub(crate) struct Tally {
    inner: Mutex<Inner>,
}

impl Tally {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut inner)
    }

    /// Counts one `outcome` of attacker `kind`.
    pub(crate) fn count(&self, kind: &'static str, outcome: &str) {
        self.with(|i| *i.counts.entry((kind, outcome.to_owned())).or_default() += 1);
    }

    /// Counts one response status of attacker `kind`.
    pub(crate) fn status(&self, kind: &'static str, status: u16) {
        self.count(kind, &status.to_string());
    }

    /// Records that a connection of `kind` was held for `d` (the longest is kept).
    pub(crate) fn held(&self, kind: &'static str, d: Duration) {
        self.with(|i| {
            let e = i.held.entry(kind).or_default();
            *e = (*e).max(d);
        });
    }

    /// Records a legitimate request.
    pub(crate) fn legit(&self, sample: Sample) {
        self.with(|i| i.legit.push(sample));
    }

    /// Every count, sorted by kind then outcome.
    pub(crate) fn counts(&self) -> Vec<(&'static str, String, u64)> {
        self.with(|i| i.counts.iter().map(|((k, o), n)| (*k, o.clone(), *n)).collect())
    }

    /// The longest-held connection per kind.
    pub(crate) fn longest_held(&self) -> Vec<(&'static str, Duration)> {
        self.with(|i| i.held.iter().map(|(k, d)| (*k, *d)).collect())
    }

    /// All legitimate samples.
    pub(crate) fn legit_samples(&self) -> Vec<Sample> {
        self.with(|i| i.legit.clone())
    }
}
