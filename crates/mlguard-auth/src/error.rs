//! The crate's error type: configuration and backend failures.
//!
//! Request-time rejections are not errors of this type: they become RFC 9457 problem bodies
//! (layers) or RFC 6749 error JSON (the token endpoint). No variant ever carries a secret.

/// Everything that can go wrong when building or running the authentication components.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The configuration is invalid (caught at construction, never per request).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An HMAC secret is shorter than its algorithm's hash output (RFC 7518 section 3.2).
    #[error("HMAC secret too short: {alg} needs at least {min} bytes")]
    WeakSecret {
        /// The algorithm the secret was meant for.
        alg: &'static str,
        /// The minimum length in bytes.
        min: usize,
    },
    /// Key material could not be parsed for the algorithm it was configured for.
    #[error("invalid key material for {alg}")]
    InvalidKey {
        /// The algorithm the key was meant for.
        alg: &'static str,
    },
    /// Two keys share one `kid`.
    #[error("duplicate key id {0:?}")]
    DuplicateKid(String),
    /// A store's file could not be read or written.
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A store's file is not in the expected format.
    #[error("store format error: {0}")]
    Format(String),
    /// A backend (Redis, a JWKS endpoint) failed.
    #[error("backend error: {0}")]
    Backend(String),
    /// Password hashing failed (bad parameters or a corrupt hash).
    #[error("password hashing failed")]
    PasswordHash,
    /// Too many password hashes or verifications are running and waiting: retry shortly
    /// (the token endpoint answers 503 with `Retry-After`).
    #[error("too many password verifications in progress")]
    Busy,
    /// The password hasher's work budget ([`HashBudget`](crate::password::HashBudget)) is
    /// spent: the next hash or verification may start after `retry_after` (the token endpoint
    /// answers 503 with that `Retry-After`, rounded up to whole seconds).
    #[error("password hashing is over its work budget")]
    OverBudget {
        /// How long until the budget allows the next run.
        retry_after: std::time::Duration,
    },
    /// A token could not be signed.
    #[error("token signing failed")]
    Signing,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
}

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), AuthError> {
    getrandom::fill(buf).map_err(|_| AuthError::Rng)
}
