//! Problem types, metric names and audit events, in one place.
//!
//! | metric (`metrics` facade) | type | labels |
//! |---|---|---|
//! | [`EXTRACTION_ALARMS`] `mlguard_extraction_alarms_total` | counter | `detector` (`prada`), `action` (`log`, `degrade`, `block`) |
//! | [`OOD_INPUTS`] `mlguard_ood_inputs_total` | counter | `reason` (`bounds`, `distance`), `action` (`log`, `reject`) |
//! | [`BUDGET_EXHAUSTED`] `mlguard_query_budget_exhausted_total` | counter | none |
//!
//! No label carries a principal (unbounded cardinality); the audit events do. Audit events are
//! `tracing` events with target `audit` and an `event` field (`extraction_alarm`,
//! `ood_input`, `query_budget_exhausted`), the `principal` (its subject), the `detector` and the
//! `statistic` with its `value`; never the raw input.
//!
//! The same counts are kept in [`ModelSecStats`], for servers that export their metrics from
//! their own recorder rather than the global one.

use std::sync::atomic::{AtomicU64, Ordering};

/// `tracing` target of the audit events.
pub const AUDIT_TARGET: &str = "audit";
/// Counter of extraction alarms.
pub const EXTRACTION_ALARMS: &str = "mlguard_extraction_alarms_total";
/// Counter of out-of-distribution inputs (rows).
pub const OOD_INPUTS: &str = "mlguard_ood_inputs_total";
/// Counter of requests refused because the principal's query budget was spent.
pub const BUDGET_EXHAUSTED: &str = "mlguard_query_budget_exhausted_total";

/// `type` of the 422 problem for an out-of-distribution input (its `code` member is
/// `out_of_distribution`).
pub const PROBLEM_OUT_OF_DISTRIBUTION: &str = "urn:mlguard:problem:out-of-distribution";
/// `type` of the 403 problem for a principal blocked after an extraction alarm.
pub const PROBLEM_EXTRACTION_SUSPECTED: &str = "urn:mlguard:problem:extraction-suspected";
/// `type` of the 429 problem for a spent query budget.
pub const PROBLEM_QUERY_BUDGET: &str = "urn:mlguard:problem:query-budget-exhausted";

/// Longest principal subject written to an audit event (longer ones are cut).
pub const MAX_SUBJECT: usize = 128;

/// A principal subject, cut to [`MAX_SUBJECT`] bytes at a character boundary.
pub(crate) fn bounded(subject: &str) -> &str {
    if subject.len() <= MAX_SUBJECT {
        return subject;
    }
    let mut end = MAX_SUBJECT;
    while !subject.is_char_boundary(end) {
        end -= 1;
    }
    &subject[..end]
}

/// Counters of what this crate's components saw; shared (`Arc`) by a component's clones.
#[derive(Debug, Default)]
pub struct ModelSecStats {
    /// Extraction alarms raised.
    pub extraction_alarms: AtomicU64,
    /// Out-of-distribution rows seen (logged or rejected).
    pub ood_inputs: AtomicU64,
    /// Requests refused for a spent query budget.
    pub budget_exhausted: AtomicU64,
}

impl ModelSecStats {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads a counter.
    #[must_use]
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
