//! [`TokenError`]: why a token was refused (its own module, so the header and claims parsers
//! and the verifier all depend on it and not on each other).

/// Why a token was refused. Logged (never the token itself); clients only see
/// `invalid_token`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than the configured bound.
    #[error("token too large")]
    TooLarge,
    /// Not three base64url parts of JSON objects.
    #[error("malformed token")]
    Malformed,
    /// `alg: none` in some casing.
    #[error("unsigned token (alg none)")]
    AlgNone,
    /// An `alg` we do not support.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// A header parameter that names or embeds a key (`jku`, `x5u`, `jwk`, `x5c`).
    #[error("forbidden header parameter {0}")]
    ForbiddenHeader(&'static str),
    /// A `crit` header (extensions we do not understand).
    #[error("critical header extension")]
    CriticalHeader,
    /// No configured key for the token's `kid`.
    #[error("unknown key id")]
    UnknownKey,
    /// The key's configured algorithm differs from the token's `alg`.
    #[error("algorithm does not match the key")]
    AlgorithmMismatch,
    /// An empty signature part.
    #[error("empty signature")]
    EmptySignature,
    /// An all-zero signature, or an ECDSA signature with a zero `r` or `s`.
    #[error("zero signature")]
    ZeroSignature,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A required claim is missing.
    #[error("missing claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type (e.g. a string `exp`).
    #[error("claim {0} has the wrong type")]
    InvalidClaimType(&'static str),
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` is not an accepted issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` names none of the accepted audiences.
    #[error("wrong audience")]
    WrongAudience,
    /// The configured [`RoleMapper`](super::RoleMapper) returned `None`.
    #[error("claims not mapped to roles")]
    RolesUnmapped,
    /// The header's `typ` is not the required one.
    #[error("wrong token type (typ)")]
    WrongType,
    /// The `jti` is on the denylist.
    #[error("token revoked")]
    Revoked,
}
