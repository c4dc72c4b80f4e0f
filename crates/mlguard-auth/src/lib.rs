//! API keys, JWT bearer authentication and the OAuth2 password grant, as tower layers.
//!
//! Work in progress.

// `Problem` (mlguard-core's rejection) is large; rejections are returned by value on purpose so
// that they need no allocation.
#![allow(clippy::result_large_err)]

mod error;
mod json_file;
mod layer;
mod service;

pub mod apikey;
pub mod credentials;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod revocation;
pub mod token;
pub mod users;

pub use apikey::{ApiKeyAuth, ApiKeyLayer};
pub use error::AuthError;
pub use jwt::{BearerAuth, BearerAuthLayer};
pub use layer::AuthLayer;
pub use service::{AuthFuture, AuthService};
