//! `cargo run -p quickstart`: the quickstart app on 127.0.0.1:8080 with one API key of role
//! `user`, printed once at startup.

use mlguard::auth::apikey::{MemoryKeyStore, generate};
use mlguard::prelude::Fernet;
use std::net::SocketAddr;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = Arc::new(MemoryKeyStore::new());
    let (key, record) = generate("demo", ["user"])?;
    keys.insert(record);
    println!("API key (role user), shown once: {}", key.expose_secret());
    let fernet = Fernet::new(&std::env::var("FERNET_KEY").unwrap_or_else(|_| Fernet::generate_key()))?;

    let app = quickstart::app(keys, fernet)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
