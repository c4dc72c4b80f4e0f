//! `docs/defaults.md`, the table of what each failure answers, for the tests that pin the code
//! to it (each crate's `tests/defaults_doc.rs`): a changed status, detail or header fails
//! the test until the document says the same.
//!
//! ```
//! let row = mlguard_testkit::defaults_doc::row("request too slow");
//! assert!(row.starts_with("| request too slow |"));
//! ```

/// The whole of `docs/defaults.md`.
pub const DEFAULTS: &str = include_str!("../../../docs/defaults.md");

/// The row of the section "Status codes per failure" whose first cell is `failure`.
///
/// # Panics
/// When the document has no such section or no such row: the document and the code disagree.
pub fn row(failure: &str) -> &'static str {
    let table = DEFAULTS
        .split("## Status codes per failure")
        .nth(1)
        .unwrap_or_else(|| panic!("docs/defaults.md has no status table"));
    let first_cell = format!("| {failure} |");
    table
        .lines()
        .find(|l| l.starts_with(&first_cell))
        .unwrap_or_else(|| panic!("docs/defaults.md has no row {failure:?}"))
}

#[cfg(test)]
mod tests {
    #[test]
    #[should_panic(expected = "no row")]
    fn a_failure_the_document_does_not_list_is_a_disagreement() {
        let _ = super::row("a failure nobody documented");
    }
}
