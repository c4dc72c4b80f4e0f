//! Shared helpers for the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mlguard_model::{ForestParams, Model, ModelKey};
use sha2::{Digest, Sha256};

/// A fixed training time, so files are byte-identical.
pub fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

/// A small model (20 trees), trained once per test binary.
pub fn small_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| ForestParams::new().n_trees(20).train_iris(at()).unwrap().model)
}

pub fn key_a() -> ModelKey {
    ModelKey::new(vec![0xA5; 32]).unwrap()
}

pub fn key_b() -> ModelKey {
    ModelKey::new(vec![0x5A; 32]).unwrap()
}

/// Splits a model file into (header JSON, body).
pub fn split(file: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let nl = file.iter().position(|&b| b == b'\n').unwrap();
    (
        serde_json::from_slice(&file[..nl]).unwrap(),
        file[nl + 1..].to_vec(),
    )
}

/// Writes a file from a header value and a body, recomputing `body_len` and `body_sha256`
/// (as an attacker or a buggy writer could).
pub fn join_fixing_digest(mut header: serde_json::Value, body: &[u8]) -> Vec<u8> {
    header["body_len"] = body.len().into();
    header["body_sha256"] = hex::encode(Sha256::digest(body)).into();
    join(&header, body)
}

/// Writes a file from a header value and a body as they are, header fields in the documented
/// order (then any extra field).
pub fn join(header: &serde_json::Value, body: &[u8]) -> Vec<u8> {
    const ORDER: [&str; 5] = ["format", "version", "body_len", "body_sha256", "hmac_sha256"];
    let map = header.as_object().unwrap();
    let mut fields: Vec<String> = ORDER
        .iter()
        .filter_map(|k| map.get(*k).map(|v| format!("{}:{}", serde_json::json!(k), v)))
        .collect();
    for (k, v) in map.iter().filter(|(k, _)| !ORDER.contains(&k.as_str())) {
        fields.push(format!("{}:{}", serde_json::json!(k), v));
    }
    let mut out = format!("{{{}}}", fields.join(",")).into_bytes();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}
