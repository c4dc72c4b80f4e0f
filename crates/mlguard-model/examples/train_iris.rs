//! Trains the default forest on iris and prints what `ml-api train` would report.
//!
//! `cargo run --release -p mlguard-model --example train_iris`

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let trained = mlguard_model::train_default()?;
    let m = trained.model.metadata();
    println!(
        "trees {} (features per tree {}, {}), seed {}, nodes {}",
        m.n_trees,
        m.features_per_tree,
        m.feature_sampling,
        m.seed,
        trained.model.forest().n_nodes()
    );
    println!(
        "held-out accuracy {:.4} on {} samples (trained on {}), trained in {:?}, replica fallbacks {}",
        trained.accuracy,
        m.test_samples,
        m.train_samples,
        start.elapsed(),
        trained.exact_fallbacks
    );
    Ok(())
}
