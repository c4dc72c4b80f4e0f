//! The pre-scan and the parser never panic, whatever the bytes, and agree with serde_json.

mod common;

use common::{Comment, PredictRequest};
use mlguard_validate::JsonConfig;
use mlguard_validate::content_type::is_json_media_type;
use mlguard_validate::scan::{ScanError, scan};
use proptest::prelude::*;

/// Bytes drawn mostly from JSON's structural alphabet, so deep and odd shapes are common.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> = b"[]{}\",:\\ 0123456789.eE-+truefalsnul\x00\xff".to_vec();
    prop::collection::vec(prop::sample::select(alphabet), 0..512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn scan_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024), depth in 1usize..8, len in 1usize..8) {
        let _ = scan(&bytes, depth, len);
    }

    #[test]
    fn parse_never_panics_on_jsonish_bytes(bytes in jsonish()) {
        let config = JsonConfig::builder().max_depth(4).max_array_len(4).build().unwrap();
        let _ = config.parse_validated::<PredictRequest>(&bytes);
        let _ = config.parse_validated::<Comment>(&bytes);
        let _ = config.parse::<serde_json::Value>(&bytes);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let config = JsonConfig::default();
        let _ = config.parse_validated::<PredictRequest>(&bytes);
        let _ = config.parse::<serde_json::Value>(&bytes);
    }

    /// Whatever passes the scan with a generous bound is parsed exactly as serde_json would,
    /// and whatever serde_json parses and is shallow and short passes the scan.
    #[test]
    fn scan_agrees_with_serde_json_on_valid_documents(bytes in jsonish()) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let (depth, widest) = shape(&v);
            let scanned = scan(&bytes, 64, 10_000);
            prop_assert_eq!(scanned, Ok(()));
            if depth > 0 {
                let too_deep = scan(&bytes, depth - 1, 10_000);
                prop_assert!(matches!(too_deep, Err(ScanError::TooDeep { .. })), "depth {} not caught", depth);
            }
            if widest > 1 {
                let too_long = scan(&bytes, 64, widest - 1);
                prop_assert!(matches!(too_long, Err(ScanError::TooManyItems { .. })), "len {} not caught", widest);
            }
        }
    }

    /// The same agreement on generated documents, which are valid by construction.
    #[test]
    fn scan_measures_generated_documents_exactly(v in json_value()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        let (depth, widest) = shape(&v);
        prop_assert_eq!(scan(&bytes, depth.max(1), widest.max(1)), Ok(()));
        if depth > 1 {
            prop_assert_eq!(scan(&bytes, depth - 1, 10_000), Err(ScanError::TooDeep { limit: depth - 1 }));
        }
        if widest > 1 {
            let too_long = scan(&bytes, 64, widest - 1);
            prop_assert!(matches!(too_long, Err(ScanError::TooManyItems { .. })), "len {} not caught", widest);
        }
    }

    #[test]
    fn media_type_check_never_panics(s in ".{0,64}") {
        let _ = is_json_media_type(&s);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[\\[\\]{}\",:\\\\a-z]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\\[\\]\"/~]{0,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// (nesting depth, longest array) of a parsed value.
fn shape(v: &serde_json::Value) -> (usize, usize) {
    match v {
        serde_json::Value::Array(items) => {
            let (d, w) = items
                .iter()
                .map(shape)
                .fold((0, 0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
            (d + 1, w.max(items.len()))
        }
        serde_json::Value::Object(map) => {
            let (d, w) = map
                .values()
                .map(shape)
                .fold((0, 0), |a, b| (a.0.max(b.0), a.1.max(b.1)));
            (d + 1, w)
        }
        _ => (0, 0),
    }
}
