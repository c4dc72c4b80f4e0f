//! The endpoints. Each handler assumes the layers in front of it (see [`crate::app`]) have
//! authenticated, rate-limited and authorized the request.

pub mod crypto;
pub mod health;
pub mod predict;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An RFC 9457 problem body (`application/problem+json`), as every error except the token
/// endpoint's is answered. Extra members may follow (`errors` for validation failures).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[schema(example = "about:blank")]
    pub r#type: String,
    /// The status's reason phrase.
    #[schema(example = "Unauthorized")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 401)]
    pub status: u16,
    /// What went wrong, for humans (FastAPI clients read this member).
    #[schema(example = "Not authenticated")]
    pub detail: String,
    /// A URI for this occurrence.
    #[schema(nullable = false)]
    pub instance: Option<String>,
}
