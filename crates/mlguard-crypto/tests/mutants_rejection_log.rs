//! A refused token's reason exists only in the `tracing::debug!` event (target
//! `mlguard_crypto`): the error itself is opaque on purpose. Under `scripts/mutants fernet`
//! (issue 20) the base64 reasons could be replaced by "" and no test noticed. This binary holds
//! one test only: tracing's per-callsite interest is process-wide, and a scoped subscriber
//! beside other tests has missed events before (see the modelsec alarm test).

use mlguard_crypto::Fernet;
use std::fmt;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Collects the `reason` field of every event.
struct Reasons(Arc<Mutex<Vec<String>>>);

struct ReasonField(Option<String>);

impl Visit for ReasonField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "reason" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "reason" && self.0.is_none() {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl Subscriber for Reasons {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        if event.metadata().target().starts_with("mlguard_crypto") {
            let mut reason = ReasonField(None);
            event.record(&mut reason);
            if let Some(r) = reason.0 {
                self.0.lock().unwrap().push(r);
            }
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn base64_rejections_log_their_reason_and_the_error_stays_opaque() {
    let fernet = Fernet::new(&Fernet::generate_key()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let errors = tracing::subscriber::with_default(Reasons(seen.clone()), || {
        [
            // Not ASCII: Python's decoder raises ValueError.
            fernet.decrypt("gAAAAAé").unwrap_err(),
            // Five data characters: not a complete base64 group ("Incorrect padding").
            fernet.decrypt("QUJDR").unwrap_err(),
        ]
    });
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "token is not ASCII",
            "base64 data does not end on a complete group"
        ]
    );
    // What the caller gets says nothing of either.
    assert_eq!(errors[0], errors[1]);
    assert_eq!(errors[0].to_string(), "invalid token");
}
