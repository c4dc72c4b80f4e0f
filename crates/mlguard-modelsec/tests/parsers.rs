//! Property tests of the parsers and of the numeric routines that take client input.

use mlguard_modelsec::shapiro::shapiro_wilk_w;
use mlguard_modelsec::{Envelope, ExtractionAction, OodAction, OutputPolicy};
use proptest::prelude::*;

proptest! {
    #[test]
    fn action_parsers_never_panic_and_accept_exactly_their_words(s in "\\PC{0,40}") {
        let ood = s.parse::<OodAction>();
        let ext = s.parse::<ExtractionAction>();
        let word = s.trim().to_ascii_lowercase();
        prop_assert_eq!(ood.is_ok(), word == "log" || word == "reject");
        prop_assert_eq!(ext.is_ok(), word == "log" || word == "degrade" || word == "block");
    }

    #[test]
    fn action_names_round_trip(i in 0usize..3, upper in any::<bool>(), pad in " {0,3}") {
        let a = [ExtractionAction::Log, ExtractionAction::Degrade, ExtractionAction::Block][i];
        let mut text = a.to_string();
        if upper { text = text.to_uppercase(); }
        prop_assert_eq!(format!("{pad}{text}{pad}").parse::<ExtractionAction>().unwrap(), a);
    }

    #[test]
    fn shapiro_w_is_in_range_for_any_finite_sample(v in prop::collection::vec(-1e6f64..1e6, 3..300)) {
        if let Some(w) = shapiro_wilk_w(&v) {
            prop_assert!((0.0..=1.0).contains(&w));
        } else {
            // Only a sample without spread has no W.
            prop_assert!(v.iter().all(|x| *x == v[0]));
        }
    }

    #[test]
    fn envelope_check_never_panics(x in prop::collection::vec(prop::num::f64::ANY, 0..6)) {
        let env = Envelope::new(vec![0.0; 4], vec![1.0; 4], vec![0.5; 4],
            (0..4).map(|i| (0..4).map(|j| if i == j { 12.0 } else { 0.0 }).collect()).collect(), 4.0).unwrap();
        let check = env.check(&x);
        if x.len() != 4 || x.iter().any(|v| !v.is_finite()) {
            prop_assert!(!check.is_inside());
        }
    }

    #[test]
    fn rounding_keeps_values_within_half_a_unit(v in prop::collection::vec(0.0f64..1.0, 1..10), d in 0u32..8) {
        struct O(Vec<f64>);
        impl mlguard_modelsec::ModelOutput for O {
            fn round_probabilities(&mut self, d: u32) { mlguard_modelsec::output::round_all(&mut self.0, d) }
            fn strip_probabilities(&mut self) { self.0.clear() }
        }
        let mut o = O(v.clone());
        OutputPolicy::Rounded { decimals: d }.apply(&mut o);
        let half = 0.5 * 10f64.powi(-i32::try_from(d).unwrap()) + 1e-12;
        for (a, b) in v.iter().zip(&o.0) {
            prop_assert!((a - b).abs() <= half);
        }
    }
}
