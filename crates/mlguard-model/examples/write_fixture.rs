//! Writes `tests/data/iris-v1-3trees-signed.model`, the checked-in format-1 fixture.
//!
//! `cargo run -p mlguard-model --example write_fixture`

use std::time::{Duration, UNIX_EPOCH};

use mlguard_model::{ForestParams, ModelKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let at = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let model = ForestParams::new().n_trees(3).train_iris(at)?.model;
    let key = ModelKey::new(vec![0xA5; 32])?;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/iris-v1-3trees-signed.model"
    );
    model.save(path, Some(&key))?;
    println!("wrote {path}");
    Ok(())
}
