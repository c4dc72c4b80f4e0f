//! The endpoints. Each handler assumes the layers in front of it (see [`crate::app`]) have
//! authenticated, rate-limited and authorized the request.

pub mod crypto;
pub mod health;
pub mod predict;

/// The RFC 9457 problem body's schema (`Problem`), from mlguard-core's `openapi` feature.
pub use mlguard_core::openapi::ProblemDoc;
