//! Model files: round trip, and a distinct typed error for each way a file can be bad.

mod common;

use common::*;
use mlguard_model::{FORMAT_VERSION, LoadError, Model, iris};

fn all_predictions(model: &Model) -> Vec<mlguard_model::Prediction> {
    let rows: Vec<Vec<f64>> = iris().features().rows().into_iter().map(|r| r.to_vec()).collect();
    model.predict_batch(&rows).unwrap()
}

#[test]
fn save_load_round_trip_gives_identical_model_and_predictions() {
    let model = small_model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iris.model");
    model.save(&path, None).unwrap();
    let loaded = Model::load(&path, None).unwrap();
    assert_eq!(&loaded, model);
    assert_eq!(all_predictions(&loaded), all_predictions(model));
    // Saving the loaded model reproduces the file byte for byte.
    assert_eq!(loaded.to_bytes(None).unwrap(), std::fs::read(&path).unwrap());
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn default_model_round_trips_through_bytes() {
    let trained = mlguard_model::ForestParams::new().train_iris(at()).unwrap();
    let bytes = trained.model.to_bytes(Some(&key_a())).unwrap();
    let loaded = Model::from_bytes(&bytes, Some(&key_a())).unwrap();
    assert_eq!(all_predictions(&loaded), all_predictions(&trained.model));
    assert_eq!(loaded.metadata().accuracy, trained.accuracy);
    assert_eq!(loaded.metadata().trained_at_unix, 1_790_000_000);
    assert_eq!(loaded.metadata().seed, 0);
    assert_eq!(loaded.metadata().n_trees, 100);
    assert_eq!(loaded.schema().names().collect::<Vec<_>>()[2], "petal length");
    assert_eq!(loaded.classes(), ["setosa", "versicolor", "virginica"]);
}

#[test]
fn file_carries_the_documented_header() {
    let file = small_model().to_bytes(Some(&key_a())).unwrap();
    assert!(file.starts_with(b"{\"format\":\"mlguard-model\",\"version\":2,"));
    let (header, body) = split(&file);
    assert_eq!(header["version"], FORMAT_VERSION);
    assert_eq!(header["body_len"], body.len());
    assert_eq!(header["hmac_sha256"].as_str().unwrap().len(), 64);
    let unsigned = small_model().to_bytes(None).unwrap();
    assert!(split(&unsigned).0["hmac_sha256"].is_null());
}

#[test]
fn signed_file_loads_with_the_right_key_and_without_one() {
    let file = small_model().to_bytes(Some(&key_a())).unwrap();
    assert_eq!(&Model::from_bytes(&file, Some(&key_a())).unwrap(), small_model());
    assert_eq!(&Model::from_bytes(&file, None).unwrap(), small_model());
}

#[test]
fn truncated_file_is_truncated() {
    let file = small_model().to_bytes(None).unwrap();
    let header_len = file.iter().position(|&b| b == b'\n').unwrap() + 1;
    for cut in [file.len() - 1, file.len() - 100, header_len, header_len + 10] {
        match Model::from_bytes(&file[..cut], None) {
            Err(LoadError::Truncated { expected, found }) => {
                assert_eq!(expected, (file.len() - header_len) as u64);
                assert_eq!(found, (cut - header_len) as u64);
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    for cut in [0, 5, 30, header_len - 1] {
        assert!(
            matches!(
                Model::from_bytes(&file[..cut], None),
                Err(LoadError::Truncated { .. })
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn corrupted_file_is_corrupted() {
    let file = small_model().to_bytes(None).unwrap();
    let (header, body) = split(&file);

    // Not a model file at all.
    let not_ours = b"\x80\x04\x95pickle".to_vec();
    // Trailing bytes after the body.
    let mut trailing = file.clone();
    trailing.extend_from_slice(b"extra");
    // Header that is not JSON.
    let mut bad_header = file.clone();
    let pos = file.iter().position(|&b| b == b'\n').unwrap() - 1; // the closing brace
    bad_header[pos] = b'!';
    // Unknown header field.
    let mut extra_field = header.clone();
    extra_field["exec"] = "rm -rf /".into();
    // Body that is not a model (digest recomputed so only the body parse can catch it).
    let not_json_body = join_fixing_digest(header.clone(), b"{\"features\": 3}");
    // Digest that is not hex.
    let mut bad_digest = header.clone();
    bad_digest["body_sha256"] = "zz".into();

    for (name, bytes) in [
        ("not ours", not_ours),
        ("trailing", trailing),
        ("bad header", bad_header),
        ("extra field", join(&extra_field, &body)),
        ("body", not_json_body),
        ("digest not hex", join(&bad_digest, &body)),
    ] {
        assert!(
            matches!(Model::from_bytes(&bytes, None), Err(LoadError::Corrupted(_))),
            "{name}: {:?}",
            Model::from_bytes(&bytes, None)
        );
    }
}

#[test]
fn tampered_body_is_a_digest_mismatch() {
    let file = small_model().to_bytes(Some(&key_a())).unwrap();
    let (header, body) = split(&file);
    // Change one threshold digit: the body is still valid JSON of the same length.
    let text = String::from_utf8(body).unwrap();
    let i = text.find("\"threshold\":").unwrap() + "\"threshold\":".len();
    let mut tampered = text.into_bytes();
    tampered[i] = if tampered[i] == b'1' { b'2' } else { b'1' };
    let bytes = join(&header, &tampered);
    assert!(matches!(
        Model::from_bytes(&bytes, None),
        Err(LoadError::DigestMismatch)
    ));
    assert!(matches!(
        Model::from_bytes(&bytes, Some(&key_a())),
        Err(LoadError::DigestMismatch)
    ));
}

#[test]
fn wrong_version_is_unsupported() {
    let file = small_model().to_bytes(None).unwrap();
    let (mut header, body) = split(&file);
    header["version"] = 3.into();
    match Model::from_bytes(&join(&header, &body), None) {
        Err(LoadError::UnsupportedVersion {
            found: 3,
            supported: 2,
        }) => {}
        other => panic!("{other:?}"),
    }
    // A future header may carry fields we do not know: still reported as a version problem.
    header["compression"] = "zstd".into();
    assert!(matches!(
        Model::from_bytes(&join(&header, &body), None),
        Err(LoadError::UnsupportedVersion { .. })
    ));
}

#[test]
fn unsigned_file_is_refused_when_a_key_is_required() {
    let file = small_model().to_bytes(None).unwrap();
    assert!(matches!(
        Model::from_bytes(&file, Some(&key_a())),
        Err(LoadError::MissingSignature)
    ));
}

#[test]
fn wrong_key_or_resigned_body_is_a_bad_signature() {
    let file = small_model().to_bytes(Some(&key_a())).unwrap();
    assert!(matches!(
        Model::from_bytes(&file, Some(&key_b())),
        Err(LoadError::BadSignature)
    ));

    // An attacker replaces the model and fixes the digest, but cannot sign with key A.
    let (header, _) = split(&file);
    let other = mlguard_model::ForestParams::new()
        .n_trees(3)
        .seed(99)
        .train_iris(at())
        .unwrap();
    let (_, evil_body) = split(&other.model.to_bytes(None).unwrap());
    let evil = join_fixing_digest(header.clone(), &evil_body);
    assert!(matches!(
        Model::from_bytes(&evil, Some(&key_a())),
        Err(LoadError::BadSignature)
    ));
    // Without a key the digest alone cannot tell (documented).
    assert!(Model::from_bytes(&evil, None).is_ok());

    // A signature that is not hex.
    let mut garbled = header;
    garbled["hmac_sha256"] = "not hex".into();
    let (_, body) = split(&file);
    assert!(matches!(
        Model::from_bytes(&join(&garbled, &body), Some(&key_a())),
        Err(LoadError::BadSignature)
    ));
}

#[test]
fn structurally_impossible_model_is_invalid() {
    let file = small_model().to_bytes(None).unwrap();
    let (header, body) = split(&file);
    let mut value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "child out of range",
            Box::new(|v| v["forest"]["trees"][0][0]["split"]["right"] = 100_000.into()),
        ),
        (
            "feature out of range",
            Box::new(|v| v["forest"]["trees"][0][0]["split"]["feature"] = 9.into()),
        ),
        (
            "self loop",
            Box::new(|v| v["forest"]["trees"][0][0]["split"]["left"] = 0.into()),
        ),
        (
            "no trees",
            Box::new(|v| v["forest"]["trees"] = serde_json::json!([])),
        ),
        ("tree count", Box::new(|v| v["metadata"]["n_trees"] = 7.into())),
        (
            "duplicate classes",
            Box::new(|v| v["classes"][1] = "setosa".into()),
        ),
        (
            "bad range",
            Box::new(|v| v["features"][0]["range"]["min"] = 1000.0.into()),
        ),
    ];
    for (name, edit) in cases {
        let original = value.clone();
        edit(&mut value);
        let bytes = join_fixing_digest(header.clone(), &serde_json::to_vec(&value).unwrap());
        assert!(
            matches!(Model::from_bytes(&bytes, None), Err(LoadError::InvalidModel(_))),
            "{name}: {:?}",
            Model::from_bytes(&bytes, None)
        );
        value = original;
    }
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Model::load(dir.path().join("nope"), None),
        Err(LoadError::Io { .. })
    ));
}

#[test]
fn checked_in_v1_file_still_loads() {
    // Written by this crate's format version 1 (3 trees, signed with key A); must keep loading.
    let bytes = include_bytes!("data/iris-v1-3trees-signed.model");
    let model = Model::from_bytes(bytes, Some(&key_a())).unwrap();
    assert_eq!(model.metadata().n_trees, 3);
    // Format 1 has no training statistics: no envelope.
    assert!(model.training_stats().is_none());
    assert_eq!(model.predict(&[5.1, 3.5, 1.4, 0.2]).unwrap().class_name, "setosa");
    assert_eq!(
        model.predict(&[6.9, 3.1, 5.4, 2.1]).unwrap().class_name,
        "virginica"
    );
}

#[cfg(unix)]
#[test]
fn saved_file_is_owner_only_and_a_failed_save_leaves_no_temporary_file() {
    use std::os::unix::fs::PermissionsExt;
    let model = small_model();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iris.model");
    model.save(&path, None).unwrap();
    // The model is the asset extraction attacks go after: not readable by other users.
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    // Saving over an existing file keeps working.
    model.save(&path, None).unwrap();
    // A rename onto a non-empty directory fails; the temporary file is removed.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("x"), b"").unwrap();
    assert!(matches!(
        model.save(&busy, None),
        Err(mlguard_model::SaveError::Io { .. })
    ));
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["busy", "iris.model"]);
}

#[test]
fn v2_file_carries_the_training_statistics_and_round_trips_them() {
    let model = small_model();
    let stats = model.training_stats().expect("trained models have statistics");
    assert_eq!(stats.samples, model.metadata().train_samples);
    let file = model.to_bytes(Some(&key_a())).unwrap();
    let (_, body) = split(&file);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    for field in [
        "samples",
        "min",
        "max",
        "mean",
        "inv_covariance",
        "ridge",
        "threshold",
        "max_training_distance",
    ] {
        assert!(!value["training_stats"][field].is_null(), "{field}");
    }
    let loaded = Model::from_bytes(&file, Some(&key_a())).unwrap();
    assert_eq!(loaded.training_stats(), Some(stats));
}

#[test]
fn v1_fixture_resaved_is_v2_with_null_statistics() {
    let v1 = Model::from_bytes(include_bytes!("data/iris-v1-3trees-signed.model"), Some(&key_a())).unwrap();
    let file = v1.to_bytes(None).unwrap();
    let (header, body) = split(&file);
    assert_eq!(header["version"], 2);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(value.as_object().unwrap().contains_key("training_stats"));
    assert!(value["training_stats"].is_null());
    assert_eq!(Model::from_bytes(&file, None).unwrap(), v1);
}

#[test]
fn v1_file_written_the_v1_way_loads_without_statistics() {
    // A version-1 file built by hand from a v2 body: drop `training_stats`, say version 1.
    let file = small_model().to_bytes(None).unwrap();
    let (mut header, body) = split(&file);
    let mut value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    value.as_object_mut().unwrap().remove("training_stats");
    header["version"] = 1.into();
    let v1 = join_fixing_digest(header.clone(), &serde_json::to_vec(&value).unwrap());
    let model = Model::from_bytes(&v1, None).unwrap();
    assert!(model.training_stats().is_none());
    assert_eq!(model.forest(), small_model().forest());

    // A version-1 file may not carry statistics (they are a version-2 field)...
    let v1_with_stats = join_fixing_digest(header.clone(), &body);
    assert!(matches!(
        Model::from_bytes(&v1_with_stats, None),
        Err(LoadError::Corrupted(_))
    ));
    // ...and a version-2 body must name them (null when absent).
    header["version"] = 2.into();
    let v2_without = join_fixing_digest(header, &serde_json::to_vec(&value).unwrap());
    assert!(matches!(
        Model::from_bytes(&v2_without, None),
        Err(LoadError::Corrupted(_))
    ));
}

#[test]
fn the_signature_covers_the_training_statistics() {
    let file = small_model().to_bytes(Some(&key_a())).unwrap();
    let (header, body) = split(&file);
    let mut value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    // An attacker widens the envelope so their probes pass as in-distribution.
    value["training_stats"]["threshold"] = 1.0e6.into();
    let evil = join_fixing_digest(header, &serde_json::to_vec(&value).unwrap());
    assert!(matches!(
        Model::from_bytes(&evil, Some(&key_a())),
        Err(LoadError::BadSignature)
    ));
    // The same edit is structurally valid: without a key it loads (documented).
    let loaded = Model::from_bytes(&evil, None).unwrap();
    assert_eq!(loaded.training_stats().unwrap().threshold, 1.0e6);
}

#[test]
fn impossible_training_statistics_are_invalid() {
    let file = small_model().to_bytes(None).unwrap();
    let (header, body) = split(&file);
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "short mean",
            Box::new(|v| v["training_stats"]["mean"] = serde_json::json!([1.0])),
        ),
        (
            "min above max",
            Box::new(|v| v["training_stats"]["min"][0] = 1000.0.into()),
        ),
        (
            "zero threshold",
            Box::new(|v| v["training_stats"]["threshold"] = 0.0.into()),
        ),
        (
            "ragged inverse",
            Box::new(|v| v["training_stats"]["inv_covariance"][1] = serde_json::json!([1.0])),
        ),
        (
            "asymmetric inverse",
            Box::new(|v| v["training_stats"]["inv_covariance"][0][1] = 123.0.into()),
        ),
        (
            "negative diagonal",
            Box::new(|v| v["training_stats"]["inv_covariance"][2][2] = (-1.0).into()),
        ),
    ];
    for (name, edit) in cases {
        let mut v = value.clone();
        edit(&mut v);
        let bytes = join_fixing_digest(header.clone(), &serde_json::to_vec(&v).unwrap());
        assert!(
            matches!(Model::from_bytes(&bytes, None), Err(LoadError::InvalidModel(_))),
            "{name}: {:?}",
            Model::from_bytes(&bytes, None)
        );
    }
}
