//! The endpoints. Each handler assumes the layers in front of it (see [`crate::app`]) have
//! authenticated, rate-limited and authorized the request.

pub mod crypto;
pub mod health;
pub mod predict;
pub mod token;
