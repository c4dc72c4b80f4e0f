//! `ml-api`: the mlguard example server, the tutorial "Securing ML APIs with FastAPI" as a
//! secured Rust service: an iris random forest behind every mlguard layer, over HTTPS.
//!
//! `cargo run --release -p ml-api` on a fresh clone creates `./mlguard-data` (secrets, a
//! self-signed certificate, the trained model, an `admin` user whose password is printed once)
//! and serves `https://127.0.0.1:8443`.
//!
//! **What it protects against:** everything the tutorial leaves open: plaintext passwords and
//! constant API keys (argon2id, hashed keys), tokens without expiry, unauthenticated crypto
//! endpoints, spoofed client addresses in rate limits, slow-loris connections, oversized bodies,
//! request floods (shed with 503), non-canonical paths that skip a route's checks, credentials in
//! logs, and responses without security headers.
//!
//! The library is the whole server, so tests (and other programs) can start it in-process:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ml_api::config::{Config, Settings};
//! let settings = Settings {
//!     data_dir: Some("/tmp/ml-api-demo".into()),
//!     listen: Some("127.0.0.1:0".parse()?),
//!     ..Settings::default()
//! };
//! let running = ml_api::run::start(Config::resolve(settings, None)?).await?;
//! println!("serving {}", running.url());
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Modules: [`config`] (settings and defaults), [`cli`] and [`commands`] (the verbs),
//! [`bootstrap`] and [`datadir`] (first run), [`routes`] and [`app`] (the API, composed with
//! the edge protections of [`mlguard_http`]), [`run`] (start/stop, on [`mlguard_http::server`]).

// `Problem` (mlguard-core) is about 224 bytes; handlers return it at most once per request.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod config;
pub mod datadir;
pub mod logging;
pub mod metrics;
pub mod model_guard;
pub mod openapi;
pub mod policy;
pub mod quotas;
pub mod routes;
pub mod run;
pub mod state;
