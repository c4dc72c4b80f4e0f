//! [`JwtIssuer`]: signs short-lived access tokens.

use super::key::SigningKey;
use crate::AuthError;
use crate::error::random_bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use mlguard_core::{SharedClock, SystemClock};
use serde_json::{Map, Value, json};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Default access-token lifetime: 15 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

/// A freshly signed access token. `Debug` shows its `jti`, never the token.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct IssuedToken {
    token: String,
    jti: String,
    #[zeroize(skip)]
    expires_at: SystemTime,
    expires_in: u64,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("jti", &self.jti)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl IssuedToken {
    /// The compact JWS to hand to the client.
    pub fn access_token(&self) -> &str {
        &self.token
    }

    /// The token's unique id.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// When it expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Its lifetime in seconds (the `expires_in` of the token response).
    pub fn expires_in(&self) -> u64 {
        self.expires_in
    }
}

/// Signs access tokens: `sub`, `roles`, optional `scope`, `iss`, `aud`, `iat`, `exp`, a random
/// `jti`, and `kid` + `typ: at+jwt` in the header (RFC 9068).
///
/// ```
/// use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, SigningKey};
/// let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &[1u8; 32]).unwrap())
///     .issuer("ml-api")
///     .audience("ml-api");
/// let a = issuer.issue("alice", &["user".to_owned()], Some(&["model:predict".to_owned()])).unwrap();
/// let b = issuer.issue("alice", &["user".to_owned()], None).unwrap();
/// assert_ne!(a.jti(), b.jti());
/// assert_eq!(a.expires_in(), 900);
/// ```
#[derive(Clone)]
#[must_use]
pub struct JwtIssuer {
    key: SigningKey,
    iss: Option<String>,
    aud: Option<String>,
    ttl: Duration,
    clock: SharedClock,
}

impl fmt::Debug for JwtIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtIssuer")
            .field("key", &self.key)
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl JwtIssuer {
    /// Signs with `key`; tokens live [`DEFAULT_ACCESS_TTL`].
    pub fn new(key: SigningKey) -> Self {
        Self {
            key,
            iss: None,
            aud: None,
            ttl: DEFAULT_ACCESS_TTL,
            clock: Arc::new(SystemClock),
        }
    }

    /// The `iss` claim.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// The `aud` claim.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.aud = Some(aud.into());
        self
    }

    /// Token lifetime (clamped to 1 s .. 24 h).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.clamp(Duration::from_secs(1), Duration::from_secs(24 * 3600));
        self
    }

    /// The clock for `iat` and `exp`.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The configured lifetime.
    pub fn lifetime(&self) -> Duration {
        self.ttl
    }

    /// Signs a token for `subject`.
    pub fn issue(
        &self,
        subject: &str,
        roles: &[String],
        scope: Option<&[String]>,
    ) -> Result<IssuedToken, AuthError> {
        self.issue_with(subject, roles, scope, Map::new())
    }

    /// Signs a token with extra claims (they cannot override the registered ones).
    pub fn issue_with(
        &self,
        subject: &str,
        roles: &[String],
        scope: Option<&[String]>,
        extra: Map<String, Value>,
    ) -> Result<IssuedToken, AuthError> {
        let now = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let ttl = self.ttl.as_secs();
        let mut id = [0u8; 16];
        random_bytes(&mut id)?;
        let jti = URL_SAFE_NO_PAD.encode(id);
        let mut claims = extra;
        claims.insert("sub".into(), json!(subject));
        claims.insert("roles".into(), json!(roles));
        if let Some(scope) = scope {
            claims.insert("scope".into(), json!(scope.join(" ")));
        }
        if let Some(iss) = &self.iss {
            claims.insert("iss".into(), json!(iss));
        }
        if let Some(aud) = &self.aud {
            claims.insert("aud".into(), json!(aud));
        }
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + ttl));
        claims.insert("jti".into(), json!(jti));
        let mut header = Header::new(self.key.algorithm().to_jwt());
        header.kid = Some(self.key.kid().to_owned());
        header.typ = Some("at+jwt".to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &self.key.key).map_err(|_| AuthError::Signing)?;
        Ok(IssuedToken {
            token,
            jti,
            expires_at: UNIX_EPOCH + Duration::from_secs(now + ttl),
            expires_in: ttl,
        })
    }
}
