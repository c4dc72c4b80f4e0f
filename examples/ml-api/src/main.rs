//! `ml-api`: the mlguard example server.

fn main() {
    eprintln!("ml-api: not yet: the example server lands with its own issue (examples/ml-api).");
}
