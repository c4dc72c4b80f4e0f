//! Keys bound to exactly one algorithm, for verifying ([`VerifyingKey`]) and signing
//! ([`SigningKey`]).
//!
//! A key remembers the single algorithm it was configured for and verifies nothing else: an
//! RSA public key configured for `RS256` cannot be abused as an HMAC secret by a token that
//! says `HS256` (the classic RS/HS confusion), and `none` is not an algorithm at all.

use super::mac::HmacKey;
use crate::AuthError;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use std::fmt;

/// The signature algorithms mlguard accepts (RFC 7518 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 (secret of at least 32 bytes).
    HS256,
    /// HMAC with SHA-384 (secret of at least 48 bytes).
    HS384,
    /// HMAC with SHA-512 (secret of at least 64 bytes).
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses an `alg` value; exact, case-sensitive match (RFC 7515 section 4.1.1).
    ///
    /// ```
    /// use mlguard_auth::jwt::JwtAlgorithm;
    /// assert_eq!(JwtAlgorithm::from_name("ES256"), Some(JwtAlgorithm::ES256));
    /// assert_eq!(JwtAlgorithm::from_name("none"), None);
    /// assert_eq!(JwtAlgorithm::from_name("hs256"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            "RS256" => Self::RS256,
            "PS256" => Self::PS256,
            "ES256" => Self::ES256,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }

    /// Whether this is an HMAC algorithm (shared secret).
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    pub(crate) fn to_jwt(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::HS512 => Algorithm::HS512,
            Self::RS256 => Algorithm::RS256,
            Self::PS256 => Algorithm::PS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }

    fn min_secret_len(self) -> usize {
        match self {
            Self::HS384 => 48,
            Self::HS512 => 64,
            _ => 32,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key (or HMAC secret) that verifies tokens of exactly one algorithm.
///
/// ```
/// use mlguard_auth::jwt::{JwtAlgorithm, VerifyingKey};
/// let key = VerifyingKey::hmac(JwtAlgorithm::HS256, &[7u8; 32]).unwrap().with_kid("2024-06");
/// assert_eq!(key.kid(), Some("2024-06"));
/// assert!(VerifyingKey::hmac(JwtAlgorithm::HS256, b"short").is_err());
/// assert!(VerifyingKey::from_pem(JwtAlgorithm::HS256, b"x").is_err());
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    alg: JwtAlgorithm,
    kid: Option<String>,
    material: Material,
}

/// What a [`VerifyingKey`] checks signatures with.
#[derive(Clone)]
enum Material {
    /// An HMAC secret, keyed once (the key schedule is not redone per token). Boxed: the
    /// keyed SHA-512 state is about 300 bytes.
    Hmac(Box<HmacKey>),
    /// A public key, checked by jsonwebtoken's crypto backend.
    Public(DecodingKey),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// An HMAC secret for `alg` (HS256/384/512); at least as long as the hash output.
    pub fn hmac(alg: JwtAlgorithm, secret: &[u8]) -> Result<Self, AuthError> {
        check_hmac(alg, secret)?;
        let keyed = HmacKey::new(alg, secret).ok_or(AuthError::InvalidKey { alg: alg.as_str() })?;
        Ok(Self {
            alg,
            kid: None,
            material: Material::Hmac(Box::new(keyed)),
        })
    }

    /// A PEM public key (SPKI `PUBLIC KEY`, or `RSA PUBLIC KEY`) for an asymmetric `alg`.
    pub fn from_pem(alg: JwtAlgorithm, pem: &[u8]) -> Result<Self, AuthError> {
        let invalid = |_| AuthError::InvalidKey { alg: alg.as_str() };
        let key = match alg {
            JwtAlgorithm::RS256 | JwtAlgorithm::PS256 => DecodingKey::from_rsa_pem(pem).map_err(invalid)?,
            JwtAlgorithm::ES256 => DecodingKey::from_ec_pem(pem).map_err(invalid)?,
            JwtAlgorithm::EdDSA => DecodingKey::from_ed_pem(pem).map_err(invalid)?,
            _ => return Err(AuthError::InvalidKey { alg: alg.as_str() }),
        };
        Ok(Self {
            alg,
            kid: None,
            material: Material::Public(key),
        })
    }

    /// A key from a JWK (RFC 7517), as published by an identity provider.
    ///
    /// The algorithm comes from the JWK's `alg` member; without one it is inferred from the key
    /// type: RSA -> `RS256`, EC P-256 -> `ES256`, OKP Ed25519 -> `EdDSA`. Symmetric (`oct`)
    /// keys, encryption keys (`use: enc`) and other curves are refused.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, AuthError> {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            return Err(AuthError::Config("JWK is not a signature key".into()));
        }
        let declared = match &jwk.common.key_algorithm {
            None => None,
            Some(KeyAlgorithm::RS256) => Some(JwtAlgorithm::RS256),
            Some(KeyAlgorithm::PS256) => Some(JwtAlgorithm::PS256),
            Some(KeyAlgorithm::ES256) => Some(JwtAlgorithm::ES256),
            Some(KeyAlgorithm::EdDSA) => Some(JwtAlgorithm::EdDSA),
            Some(_) => return Err(AuthError::Config("unsupported JWK algorithm".into())),
        };
        let (alg, key) = match &jwk.algorithm {
            AlgorithmParameters::RSA(p) => {
                let alg = declared.unwrap_or(JwtAlgorithm::RS256);
                if !matches!(alg, JwtAlgorithm::RS256 | JwtAlgorithm::PS256) {
                    return Err(AuthError::InvalidKey { alg: alg.as_str() });
                }
                let key = DecodingKey::from_rsa_components(&p.n, &p.e)
                    .map_err(|_| AuthError::InvalidKey { alg: alg.as_str() })?;
                (alg, key)
            }
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                let alg = declared.unwrap_or(JwtAlgorithm::ES256);
                if alg != JwtAlgorithm::ES256 {
                    return Err(AuthError::InvalidKey { alg: alg.as_str() });
                }
                let key = DecodingKey::from_ec_components(&p.x, &p.y)
                    .map_err(|_| AuthError::InvalidKey { alg: alg.as_str() })?;
                (alg, key)
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                let alg = declared.unwrap_or(JwtAlgorithm::EdDSA);
                if alg != JwtAlgorithm::EdDSA {
                    return Err(AuthError::InvalidKey { alg: alg.as_str() });
                }
                let key = DecodingKey::from_ed_components(&p.x)
                    .map_err(|_| AuthError::InvalidKey { alg: alg.as_str() })?;
                (alg, key)
            }
            _ => return Err(AuthError::Config("unsupported JWK key type".into())),
        };
        Ok(Self {
            alg,
            kid: jwk.common.key_id.clone(),
            material: Material::Public(key),
        })
    }

    /// Sets the key id (`kid`) tokens name this key by.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether `signature` (decoded; `encoded` is the same signature as it appears in the
    /// token) is this key's signature of `message` under its one algorithm. The caller has
    /// already checked that the token's `alg` is this key's.
    pub(super) fn signed(&self, message: &[u8], signature: &[u8], encoded: &str) -> bool {
        match &self.material {
            Material::Hmac(keyed) => keyed.verify(message, signature),
            Material::Public(key) => {
                matches!(
                    jsonwebtoken::crypto::verify(encoded, message, key, self.alg.to_jwt()),
                    Ok(true)
                )
            }
        }
    }
}

/// A private key (or HMAC secret) that signs tokens with one algorithm, under a `kid`.
///
/// ```
/// use mlguard_auth::jwt::{JwtAlgorithm, SigningKey};
/// let key = SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[7u8; 32]).unwrap();
/// assert_eq!(key.kid(), "k1");
/// assert!(!format!("{key:?}").contains("7, 7"));
/// ```
#[derive(Clone)]
pub struct SigningKey {
    alg: JwtAlgorithm,
    kid: String,
    pub(crate) key: EncodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// An HMAC secret for `alg`; at least as long as the hash output.
    pub fn hmac(alg: JwtAlgorithm, kid: impl Into<String>, secret: &[u8]) -> Result<Self, AuthError> {
        check_hmac(alg, secret)?;
        Ok(Self {
            alg,
            kid: kid.into(),
            key: EncodingKey::from_secret(secret),
        })
    }

    /// A PEM private key (PKCS#8 `PRIVATE KEY`; `RSA PRIVATE KEY` also works for RSA).
    pub fn from_pem(alg: JwtAlgorithm, kid: impl Into<String>, pem: &[u8]) -> Result<Self, AuthError> {
        let invalid = |_| AuthError::InvalidKey { alg: alg.as_str() };
        let key = match alg {
            JwtAlgorithm::RS256 | JwtAlgorithm::PS256 => EncodingKey::from_rsa_pem(pem).map_err(invalid)?,
            JwtAlgorithm::ES256 => EncodingKey::from_ec_pem(pem).map_err(invalid)?,
            JwtAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem).map_err(invalid)?,
            _ => return Err(AuthError::InvalidKey { alg: alg.as_str() }),
        };
        Ok(Self {
            alg,
            kid: kid.into(),
            key,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.alg
    }

    /// The key id written into each token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

fn check_hmac(alg: JwtAlgorithm, secret: &[u8]) -> Result<(), AuthError> {
    if !alg.is_hmac() {
        return Err(AuthError::InvalidKey { alg: alg.as_str() });
    }
    let min = alg.min_secret_len();
    if secret.len() < min {
        return Err(AuthError::WeakSecret {
            alg: alg.as_str(),
            min,
        });
    }
    Ok(())
}
