//! [`JwtVerifier`]: signature and claim checks, with time from a [`Clock`](mlguard_core::Clock).
//!
//! The token is parsed by this module, not handed whole to a library: the header is checked
//! before any key is chosen, and the signature is checked with one key under the one
//! algorithm that key was configured for: HMAC here, with the key's keyed state built once
//! (a constant-time, full-length tag comparison), public-key signatures by `jsonwebtoken`. Claims are then checked here
//! against the injected clock, so expiry tests are exact.
//!
//! Checks, in order (each failure has its own [`TokenError`]):
//!
//! 1. size: more than [`DEFAULT_MAX_TOKEN_LEN`] (8 KiB) bytes is refused before parsing;
//! 2. shape: exactly three base64url parts (no padding; JWE's five parts are refused);
//! 3. header: `alg` must be one of [`JwtAlgorithm`]; `none` in any casing is refused with its
//!    own error; tokens carrying `jku`, `x5u`, `jwk` or `x5c` are **refused** (we never fetch
//!    or trust keys named by the token), as are tokens with `crit` (we understand no extensions);
//! 4. key: chosen by `kid` among the configured keys (and the remote JWKS); its configured
//!    algorithm must equal `alg` (no RS/HS confusion);
//! 5. signature: empty signatures are refused, all-zero signatures and ECDSA signatures with
//!    `r = 0` or `s = 0` are refused explicitly before the library is called;
//! 6. type: when required ([`JwtVerifierBuilder::require_typ`]), the header's `typ`;
//! 7. claims: `exp` required; `nbf` and `iat` checked when present (`iat` may not be in the
//!    future beyond the leeway); `iss` when configured; `aud` always (a string or an array
//!    naming a configured audience) unless the verifier was built with
//!    [`accept_any_audience`](JwtVerifierBuilder::accept_any_audience); `sub` required; then
//!    the roles, from the configured claim or mapper.
//!
//! Header and claims are parsed straight into the fields these checks need (no intermediate
//! JSON map); a header or claim that is checked and appears twice makes the token malformed,
//! since JSON parsers disagree on which duplicate counts. The full claims map
//! ([`VerifiedToken::claims`]) is built only when the application reads it.
//!
//! NumericDate claims (`exp`, `nbf`, `iat`) must be JSON numbers: strings, `null`, arrays,
//! booleans, objects and negative numbers are rejected, never ignored. Non-integer numbers
//! are accepted, because RFC 7519 section 2 defines NumericDate as a number of seconds that
//! may be non-integer; they are compared exactly (not rounded in the caller's favour).
//!
//! The default leeway is [`DEFAULT_LEEWAY`] (30 s), for clock skew between issuer and server.

use super::b64;
use super::cache::{DEFAULT_CACHE_CAPACITY, Dates, Entry, TokenCache};
use super::claims::{Audience, Claims, RawClaims};
pub use super::error::TokenError;
pub use super::header::FORBIDDEN_HEADER_PARAMS;
use super::header::{Header, normalize_typ};
use super::json::Scalar;
use super::key::{JwtAlgorithm, VerifyingKey};
use super::mapping::{DEFAULT_ROLES_CLAIM, RoleMapper, RolesSource};
use super::pointer::JsonPointer;
use crate::AuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_core::{AuthMethod, Principal, SharedClock, SystemClock};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Tokens longer than this (in bytes) are refused before parsing: 8 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;
/// Default clock-skew allowance for `exp`, `nbf` and `iat`: 30 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway [`JwtVerifierBuilder::leeway`] accepts (5 minutes). The revocation stores
/// keep a revoked `jti` this long past its token's `exp`, so no allowed leeway lets it back in.
pub use crate::revocation::MAX_LEEWAY;

/// The checked contents of a token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// `sub`.
    pub subject: String,
    /// The roles, from the configured roles claim (default `roles`) or mapper; empty when the
    /// claim is absent.
    pub roles: Vec<String>,
    /// The `scope` claim split on spaces, when present: all entries, as sent (the principal
    /// keeps only the permission-shaped ones).
    pub scopes: Option<Vec<String>>,
    /// `jti`, when present.
    pub jti: Option<String>,
    /// `exp`.
    pub expires_at: SystemTime,
    /// The header's `kid`, when present.
    pub kid: Option<String>,
    /// All claims, for application-specific ones (a JSON map, built on first use).
    pub claims: Claims,
}

/// A verified token as the bearer layer uses it: the principal, and the claims for the
/// request's extensions.
pub(crate) struct Accepted {
    pub(crate) principal: Principal,
    pub(crate) claims: Claims,
}

impl From<VerifiedToken> for Accepted {
    fn from(verified: VerifiedToken) -> Self {
        let VerifiedToken {
            subject,
            roles,
            scopes,
            jti,
            expires_at,
            kid: _,
            claims,
        } = verified;
        Self {
            principal: principal_of(subject, roles, scopes.as_deref(), jti, expires_at),
            claims,
        }
    }
}

/// The principal of a token's parts, as [`VerifiedToken::into_principal`] builds it.
fn principal_of(
    subject: String,
    roles: Vec<String>,
    scopes: Option<&[String]>,
    jti: Option<String>,
    expires_at: SystemTime,
) -> Principal {
    let mut b = Principal::builder(subject)
        .roles(roles)
        .method(AuthMethod::Bearer { token_id: jti })
        .expires_at(expires_at);
    if let Some(scopes) = narrowing_scopes(scopes) {
        b = b.scopes(scopes.map(str::to_owned));
    }
    b.build()
}

impl VerifiedToken {
    /// The [`Principal`] for this token, consuming it: subject, roles, the permission-shaped
    /// scope entries (see [`is_permission_scope`]; a scope with none of them does not narrow),
    /// `AuthMethod::Bearer { jti }` and expiry.
    pub fn into_principal(self) -> Principal {
        principal_of(
            self.subject,
            self.roles,
            self.scopes.as_deref(),
            self.jti,
            self.expires_at,
        )
    }

    /// The [`Principal`] for this token, as [`into_principal`](Self::into_principal) builds it.
    pub fn to_principal(&self) -> Principal {
        let mut b = Principal::builder(self.subject.clone())
            .roles(self.roles.iter().cloned())
            .method(AuthMethod::Bearer {
                token_id: self.jti.clone(),
            })
            .expires_at(self.expires_at);
        if let Some(scopes) = narrowing_scopes(self.scopes.as_deref()) {
            b = b.scopes(scopes.map(str::to_owned));
        }
        b.build()
    }
}

/// The scope entries that narrow the principal's permissions: the permission-shaped ones
/// ([`is_permission_scope`]). `None` (not narrowed) when the token has no `scope`, or when its
/// scope has entries but none of them is a permission (`openid profile email`: OIDC scopes
/// say what the client may read about the user, not what it may do here). A present but
/// empty scope stays an empty set, which allows nothing.
fn narrowing_scopes(scopes: Option<&[String]>) -> Option<impl Iterator<Item = &str>> {
    let scopes = scopes?;
    let mut permissions = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| is_permission_scope(s))
        .peekable();
    if !scopes.is_empty() && permissions.peek().is_none() {
        return None;
    }
    Some(permissions)
}

/// Whether a scope entry is permission-shaped, i.e. narrows permissions: `*`, or anything with
/// a `:` and no `/` (`model:predict`, `model:*`). Single words (`openid`, `offline_access`)
/// and URLs (`api://ml/.default`, `https://example.com/read`) are not. A permission-shaped
/// entry that is not a valid permission (`Model:Predict`) still narrows, to nothing: a scope
/// meant to narrow never widens because it was misspelt.
///
/// ```
/// use mlguard_auth::jwt::verify::is_permission_scope;
/// assert!(is_permission_scope("model:predict") && is_permission_scope("model:*") && is_permission_scope("*"));
/// assert!(is_permission_scope("Model:Predict"));
/// assert!(!is_permission_scope("openid") && !is_permission_scope("api://ml/.default"));
/// ```
pub fn is_permission_scope(entry: &str) -> bool {
    entry == "*" || (entry.contains(':') && !entry.contains('/'))
}

/// Verifies JWTs against configured keys; build it with [`JwtVerifier::builder`].
///
/// ```
/// use std::time::Duration;
/// use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
///
/// let secret = [42u8; 32];
/// let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap())
///     .issuer("https://auth.example").audience("ml-api");
/// let verifier = JwtVerifier::builder()
///     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap().with_kid("k1"))
///     .issuer("https://auth.example")
///     .audience("ml-api")
///     .leeway(Duration::from_secs(10))
///     .build()
///     .unwrap();
///
/// let token = issuer.issue("alice", &["user".to_owned()], None).unwrap();
/// let verified = verifier.verify(token.access_token()).unwrap();
/// assert_eq!(verified.subject, "alice");
/// assert_eq!(verified.roles, ["user"]);
/// ```
pub struct JwtVerifier {
    keys: Vec<VerifyingKey>,
    issuers: Option<HashSet<String>>,
    audiences: Option<HashSet<String>>,
    leeway: Duration,
    max_len: usize,
    clock: SharedClock,
    roles: RolesSource,
    typ: Option<String>,
    cache: Option<TokenCache>,
    #[cfg(feature = "jwks")]
    pub(crate) jwks: Option<Arc<super::jwks::RemoteJwks>>,
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("leeway", &self.leeway)
            .field("max_len", &self.max_len)
            .field("roles", &self.roles)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}

/// Builds a [`JwtVerifier`]; configuration is checked once, in [`build`](Self::build).
#[derive(Default)]
#[must_use]
pub struct JwtVerifierBuilder {
    keys: Vec<VerifyingKey>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Option<Duration>,
    max_len: Option<usize>,
    clock: Option<SharedClock>,
    roles_claim: Option<String>,
    roles_mapper: Option<Arc<dyn RoleMapper>>,
    any_audience: bool,
    typ: Option<String>,
    cache_capacity: Option<usize>,
    #[cfg(feature = "jwks")]
    jwks: Option<Arc<super::jwks::RemoteJwks>>,
}

impl fmt::Debug for JwtVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtVerifierBuilder")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl JwtVerifierBuilder {
    /// Adds a key. With several keys, each needs a distinct `kid`.
    pub fn key(mut self, key: VerifyingKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Accepts tokens whose `iss` equals `issuer` (call again to accept several). Without any,
    /// `iss` is not checked.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` (a string or an array of strings) contains `audience` (call
    /// again to accept several). An audience is required: [`build`](Self::build) fails without
    /// one, unless [`accept_any_audience`](Self::accept_any_audience) says otherwise.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Does not check `aud` at all. Only for a verifier whose keys sign tokens for this service
    /// alone: with an identity provider's keys, a token it issued for any other application
    /// would be accepted here.
    pub fn accept_any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Requires the header's `typ` to be this media type, compared case-insensitively and
    /// with or without `application/` (RFC 7515 section 4.1.9); tokens without `typ` are
    /// refused ([`TokenError::WrongType`]). Default: `typ` is not checked.
    pub fn require_typ(mut self, typ: &str) -> Self {
        self.typ = Some(normalize_typ(typ));
        self
    }

    /// Requires RFC 9068 access tokens: `typ` `at+jwt` (or `application/at+jwt`, any casing),
    /// so an ID token or another JWT signed by the same identity provider is not accepted as
    /// an access token.
    pub fn require_access_token_typ(self) -> Self {
        self.require_typ("at+jwt")
    }

    /// Clock-skew allowance (default [`DEFAULT_LEEWAY`], at most [`MAX_LEEWAY`], 5 minutes).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// Maximum token length in bytes (default [`DEFAULT_MAX_TOKEN_LEN`]).
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_len = Some(len);
        self
    }

    /// The clock for `exp`, `nbf` and `iat` (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Where the roles are: an RFC 6901 JSON Pointer into the claims (default
    /// [`DEFAULT_ROLES_CLAIM`], `/roles`), e.g. `/realm_access/roles` (Keycloak), `/groups`, or
    /// `/https:~1~1example.com~1roles` (a namespaced claim). The value may be a string or an
    /// array of strings; see [`RoleMapper`] for the rules. Checked in [`build`](Self::build).
    pub fn roles_claim(mut self, pointer: impl Into<String>) -> Self {
        self.roles_claim = Some(pointer.into());
        self
    }

    /// Maps the claims to roles with the application's own function instead of a pointer
    /// (not both: [`build`](Self::build) refuses that).
    pub fn roles_mapper(mut self, mapper: impl RoleMapper) -> Self {
        self.roles_mapper = Some(Arc::new(mapper));
        self
    }

    /// How many verified tokens to keep, so that a client sending the same token again is
    /// not checked from scratch (default [`DEFAULT_CACHE_CAPACITY`]; `0` turns the cache off).
    /// A hit repeats the `exp`, `nbf` and `iat` checks against the current time; tokens
    /// verified with a remote JWKS key or mapped by a [`RoleMapper`] are never cached. See
    /// [`cache`](super::cache) for why a hit cannot accept a token a full check would refuse.
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = Some(capacity);
        self
    }

    /// Also accepts keys from a remote JWKS (an external identity provider).
    #[cfg(feature = "jwks")]
    pub fn jwks(mut self, jwks: Arc<super::jwks::RemoteJwks>) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Checks the configuration: at least one key source, distinct `kid`s, a kid on every key
    /// when there are several, an audience (or the explicit opt-out), leeway at most 5
    /// minutes, a sane size bound, a valid roles claim.
    pub fn build(self) -> Result<JwtVerifier, AuthError> {
        #[cfg(feature = "jwks")]
        let has_remote = self.jwks.is_some();
        #[cfg(not(feature = "jwks"))]
        let has_remote = false;
        if self.keys.is_empty() && !has_remote {
            return Err(AuthError::Config("a JWT verifier needs at least one key".into()));
        }
        if self.keys.len() > 1 || has_remote {
            let mut seen = HashSet::new();
            for key in &self.keys {
                let kid = key
                    .kid()
                    .ok_or_else(|| AuthError::Config("with several keys, every key needs a kid".into()))?;
                if !seen.insert(kid) {
                    return Err(AuthError::DuplicateKid(kid.to_owned()));
                }
            }
        }
        let leeway = self.leeway.unwrap_or(DEFAULT_LEEWAY);
        if leeway > MAX_LEEWAY {
            return Err(AuthError::Config("leeway above 5 minutes".into()));
        }
        let max_len = self.max_len.unwrap_or(DEFAULT_MAX_TOKEN_LEN);
        if !(64..=64 * 1024).contains(&max_len) {
            return Err(AuthError::Config("max token length must be 64 B..64 KiB".into()));
        }
        let roles = match (self.roles_claim, self.roles_mapper) {
            (Some(_), Some(_)) => {
                return Err(AuthError::Config(
                    "set either a roles claim or a roles mapper, not both".into(),
                ));
            }
            (None, Some(mapper)) => RolesSource::Mapper(mapper),
            (None, None) => RolesSource::Default,
            (Some(pointer), None) if pointer == DEFAULT_ROLES_CLAIM => RolesSource::Default,
            (Some(pointer), None) => {
                let parsed = JsonPointer::parse(&pointer)
                    .map_err(|e| AuthError::Config(format!("roles claim {pointer:?}: {e}")))?;
                if parsed.tokens().is_empty() {
                    return Err(AuthError::Config(
                        "the roles claim must name a member, not the whole claims object".into(),
                    ));
                }
                RolesSource::Pointer(parsed)
            }
        };
        match (self.audiences.is_empty(), self.any_audience) {
            (true, false) => {
                return Err(AuthError::Config(
                    "a JWT verifier needs an audience (.audience(..)), or an explicit .accept_any_audience()"
                        .into(),
                ));
            }
            (false, true) => {
                return Err(AuthError::Config(
                    "audiences are configured and .accept_any_audience() was called: choose one".into(),
                ));
            }
            _ => {}
        }
        if self.typ.as_deref() == Some("") {
            return Err(AuthError::Config("required typ is empty".into()));
        }
        let set = |v: Vec<String>| (!v.is_empty()).then(|| v.into_iter().collect::<HashSet<_>>());
        // The application's role mapper may answer differently later: verify every time.
        let capacity = match roles {
            RolesSource::Mapper(_) => 0,
            _ => self.cache_capacity.unwrap_or(DEFAULT_CACHE_CAPACITY),
        };
        Ok(JwtVerifier {
            keys: self.keys,
            issuers: set(self.issuers),
            audiences: set(self.audiences),
            leeway,
            max_len,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            roles,
            typ: self.typ,
            cache: (capacity > 0).then(|| TokenCache::new(capacity)),
            #[cfg(feature = "jwks")]
            jwks: self.jwks,
        })
    }
}

struct Parts<'a> {
    message: &'a str,
    signature: &'a str,
    header: &'a str,
    payload: &'a str,
}

/// Decoded headers up to this size (about 340 base64 characters) stay on the stack.
const HEADER_STACK: usize = 256;
/// Decoded signatures up to this size (RSA-4096) stay on the stack.
const SIGNATURE_STACK: usize = 512;

/// Decodes base64url `part` into `stack` when it fits, else into `heap`.
fn decode_into<'b>(part: &str, stack: &'b mut [u8], heap: &'b mut Vec<u8>) -> Result<&'b [u8], TokenError> {
    let len = b64::decoded_len(part.len()).ok_or(TokenError::Malformed)?;
    let buf = if len <= stack.len() {
        stack
    } else {
        heap.resize(len, 0);
        heap.as_mut_slice()
    };
    let n = b64::decode(part.as_bytes(), buf).map_err(|()| TokenError::Malformed)?;
    Ok(&buf[..n])
}

/// Decodes the base64url payload into the UTF-8 text the claims are parsed from (and that
/// [`Claims`] keeps): one allocation, of the exact size.
fn decode_payload(part: &str) -> Result<String, TokenError> {
    let mut bytes = vec![0u8; b64::decoded_len(part.len()).ok_or(TokenError::Malformed)?];
    b64::decode(part.as_bytes(), &mut bytes).map_err(|()| TokenError::Malformed)?;
    String::from_utf8(bytes).map_err(|_| TokenError::Malformed)
}

impl JwtVerifier {
    /// Starts a builder.
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::default()
    }

    /// The clock-skew leeway: a token is accepted until `exp` plus this (never above
    /// [`MAX_LEEWAY`], which the revocation stores cover).
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// The largest token accepted, in bytes.
    pub fn max_token_len(&self) -> usize {
        self.max_len
    }

    /// Verifies `token` now (by the configured clock).
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        self.verify_at(token, self.clock.now())
    }

    /// How many verified tokens the cache holds now (see
    /// [`cache_capacity`](JwtVerifierBuilder::cache_capacity)).
    ///
    /// ```
    /// use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
    /// let secret = [42u8; 32];
    /// let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap())
    ///     .audience("ml-api");
    /// let verifier = JwtVerifier::builder()
    ///     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap().with_kid("k1"))
    ///     .audience("ml-api")
    ///     .build()
    ///     .unwrap();
    /// let token = issuer.issue("alice", &[], None).unwrap();
    /// assert!(verifier.verify(token.access_token()).is_ok());
    /// assert_eq!(verifier.cached_tokens(), 1);
    /// ```
    pub fn cached_tokens(&self) -> usize {
        self.cache.as_ref().map_or(0, TokenCache::len)
    }

    /// How many verifications were answered from the cache since the verifier was built (its
    /// hit rate, with the number of verifications you count yourself); 0 without a cache.
    ///
    /// ```
    /// use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
    /// let secret = [42u8; 32];
    /// let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap())
    ///     .audience("ml-api");
    /// let verifier = JwtVerifier::builder()
    ///     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap().with_kid("k1"))
    ///     .audience("ml-api")
    ///     .build()
    ///     .unwrap();
    /// let token = issuer.issue("alice", &[], None).unwrap();
    /// for _ in 0..3 {
    ///     assert!(verifier.verify(token.access_token()).is_ok());
    /// }
    /// assert_eq!(verifier.cache_hits(), 2);
    /// ```
    pub fn cache_hits(&self) -> u64 {
        self.cache.as_ref().map_or(0, TokenCache::hits)
    }

    /// Verifies `token` as of `now`.
    pub fn verify_at(&self, token: &str, now: SystemTime) -> Result<VerifiedToken, TokenError> {
        let Some(cache) = &self.cache else {
            return self.verify_uncached(token, now).map(|(verified, _)| verified);
        };
        if let Some((dates, token)) = cache.get_with(token, |hit| (hit.dates, hit.token.clone())) {
            // Everything but time was checked when the entry was made, and depends only on
            // the token and this verifier's fixed configuration.
            self.check_dates(dates, now)?;
            return Ok(token);
        }
        self.verify_and_cache(cache, token, now)
    }

    /// What the bearer layer needs from `token`, verified as [`verify`](Self::verify) does:
    /// its principal and claims. A cache hit shares the principal built when the token was
    /// first verified and the claims' text, so it copies nothing (the dates are checked again
    /// against the clock, as in [`verify_at`](Self::verify_at)).
    pub(crate) fn accept(&self, token: &str) -> Result<Accepted, TokenError> {
        let now = self.clock.now();
        let Some(cache) = &self.cache else {
            return self
                .verify_uncached(token, now)
                .map(|(verified, _)| Accepted::from(verified));
        };
        let hit = cache.get_with(token, |hit| {
            let accepted = Accepted {
                principal: hit.principal.clone(),
                claims: hit.token.claims.clone(),
            };
            (hit.dates, accepted)
        });
        if let Some((dates, accepted)) = hit {
            self.check_dates(dates, now)?;
            return Ok(accepted);
        }
        self.verify_and_cache(cache, token, now).map(Accepted::from)
    }

    /// The full checks, and the token stored in `cache` when it may be.
    fn verify_and_cache(
        &self,
        cache: &TokenCache,
        token: &str,
        now: SystemTime,
    ) -> Result<VerifiedToken, TokenError> {
        let (verified, cacheable) = self.verify_uncached(token, now)?;
        if let Some(dates) = cacheable {
            cache.insert(
                token,
                Entry {
                    principal: verified.to_principal(),
                    token: verified.clone(),
                    dates,
                },
            );
        }
        Ok(verified)
    }

    /// The full checks; with the token's dates when it may be cached (its key is one of
    /// this verifier's own, not a remote JWKS key).
    fn verify_uncached(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<(VerifiedToken, Option<Dates>), TokenError> {
        let parts = split(token, self.max_len)?;
        let (mut stack, mut heap) = ([0u8; HEADER_STACK], Vec::new());
        let header = decode_into(parts.header, &mut stack, &mut heap)?;
        let header = Header::parse(header)?;
        let typ_ok = self.typ.as_deref().is_none_or(|want| header.typ_is(want));
        let (alg, kid) = header.check()?;
        let key = self.find_key(kid.as_deref()).ok_or(TokenError::UnknownKey)?;
        if key.algorithm() != alg {
            return Err(TokenError::AlgorithmMismatch);
        }
        check_signature(&parts, &key, alg)?;
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        let payload = decode_payload(parts.payload)?;
        let own_key = matches!(key, Cow::Borrowed(_));
        let (verified, dates) = self.check_claims(payload, kid.map(Cow::into_owned), now)?;
        Ok((verified, own_key.then_some(dates)))
    }

    /// The time checks, in order: `exp` (required), `nbf`, `iat`, each with the leeway.
    fn check_dates(&self, dates: Dates, now: SystemTime) -> Result<(), TokenError> {
        let now = now.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let leeway = self.leeway.as_secs_f64();
        if now >= dates.exp + leeway {
            return Err(TokenError::Expired);
        }
        if dates.nbf.is_some_and(|nbf| nbf > now + leeway) {
            return Err(TokenError::NotYetValid);
        }
        if dates.iat.is_some_and(|iat| iat > now + leeway) {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(())
    }

    fn find_key(&self, kid: Option<&str>) -> Option<Cow<'_, VerifyingKey>> {
        match kid {
            Some(kid) => {
                if let Some(k) = self.keys.iter().find(|k| k.kid() == Some(kid)) {
                    return Some(Cow::Borrowed(k));
                }
                if let [only] = self.keys.as_slice()
                    && only.kid().is_none()
                {
                    return Some(Cow::Borrowed(only));
                }
                #[cfg(feature = "jwks")]
                if let Some(jwks) = &self.jwks {
                    return jwks.cached(kid).map(Cow::Owned);
                }
                None
            }
            None => match self.keys.as_slice() {
                [only] => Some(Cow::Borrowed(only)),
                _ => None,
            },
        }
    }

    fn check_claims(
        &self,
        payload: String,
        kid: Option<String>,
        now: SystemTime,
    ) -> Result<(VerifiedToken, Dates), TokenError> {
        let claims =
            RawClaims::parse(&payload, self.audiences.as_ref()).map_err(|_| TokenError::Malformed)?;
        let exp = numeric_date(claims.exp, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
        let nbf = numeric_date(claims.nbf, "nbf")?;
        let iat = numeric_date(claims.iat, "iat")?;
        let dates = Dates { exp, nbf, iat };
        self.check_dates(dates, now)?;

        if let Some(issuers) = &self.issuers {
            match &claims.iss {
                None => return Err(TokenError::MissingClaim("iss")),
                Some(Scalar::Str(iss)) if issuers.contains(&**iss) => {}
                Some(Scalar::Str(_)) => return Err(TokenError::WrongIssuer),
                Some(_) => return Err(TokenError::InvalidClaimType("iss")),
            }
        }
        if self.audiences.is_some() {
            match claims.aud {
                None => return Err(TokenError::MissingClaim("aud")),
                Some(Audience::Match) => {}
                Some(Audience::NoMatch) => return Err(TokenError::WrongAudience),
                Some(Audience::Invalid) => return Err(TokenError::InvalidClaimType("aud")),
            }
        }

        let subject = match claims.sub {
            Some(Scalar::Str(s)) if !s.is_empty() => s.into_owned(),
            Some(Scalar::Str(_)) | None => return Err(TokenError::MissingClaim("sub")),
            Some(_) => return Err(TokenError::InvalidClaimType("sub")),
        };
        let jti = match claims.jti {
            None => None,
            Some(Scalar::Str(s)) => Some(s.into_owned()),
            Some(_) => return Err(TokenError::InvalidClaimType("jti")),
        };
        let default_roles = claims.roles;
        let scopes = match &claims.scope {
            None => None,
            Some(Scalar::Str(s)) => Some(
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Some(_) => return Err(TokenError::InvalidClaimType("scope")),
        };
        // `exp` is finite and non-negative here; clamp absurd values instead of panicking.
        let expires_at =
            UNIX_EPOCH + Duration::try_from_secs_f64(exp).unwrap_or(Duration::from_secs(u64::from(u32::MAX)));
        let claims = Claims::new(payload);
        let roles = self.roles.roles(default_roles, &claims)?;
        Ok((
            VerifiedToken {
                subject,
                roles,
                scopes,
                jti,
                expires_at,
                kid,
                claims,
            },
            dates,
        ))
    }
}

/// Splits and size-checks a compact JWS and decodes its header.
fn split(token: &str, max_len: usize) -> Result<Parts<'_>, TokenError> {
    if token.len() > max_len {
        return Err(TokenError::TooLarge);
    }
    let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = message.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') || header.is_empty() || payload.is_empty() {
        return Err(TokenError::Malformed);
    }
    if ![header, payload, signature].iter().all(|p| is_b64url(p)) {
        return Err(TokenError::Malformed);
    }
    Ok(Parts {
        message,
        signature,
        header,
        payload,
    })
}

/// Parses just the header of a compact JWS: its `alg` and `kid`, after the checks of step 3.
///
/// ```
/// use mlguard_auth::jwt::{parse_header, JwtAlgorithm, TokenError};
/// // {"alg":"none"} . {} . (empty)
/// assert_eq!(parse_header("eyJhbGciOiJub25lIn0.e30.", 8192), Err(TokenError::AlgNone));
/// // {"alg":"HS256","kid":"k1"}
/// let (alg, kid) = parse_header("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln", 8192).unwrap();
/// assert_eq!((alg, kid.as_deref()), (JwtAlgorithm::HS256, Some("k1")));
/// ```
pub fn parse_header(token: &str, max_len: usize) -> Result<(JwtAlgorithm, Option<String>), TokenError> {
    let parts = split(token, max_len)?;
    let (mut stack, mut heap) = ([0u8; HEADER_STACK], Vec::new());
    let header = decode_into(parts.header, &mut stack, &mut heap)?;
    let (alg, kid) = Header::parse(header)?.check()?;
    Ok((alg, kid.map(Cow::into_owned)))
}

/// The `iss` of a compact JWS, read WITHOUT verifying anything: only to choose which verifier
/// checks the token (which then checks `iss` again). `None` when absent, not a string, or the
/// token does not parse.
pub(crate) fn peek_issuer(token: &str, max_len: usize) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let parts = split(token, max_len).ok()?;
    let payload = URL_SAFE_NO_PAD.decode(parts.payload).ok()?;
    serde_json::from_slice::<Iss>(&payload).ok()?.iss
}

fn check_signature(parts: &Parts<'_>, key: &VerifyingKey, alg: JwtAlgorithm) -> Result<(), TokenError> {
    if parts.signature.is_empty() {
        return Err(TokenError::EmptySignature);
    }
    let (mut stack, mut heap) = ([0u8; SIGNATURE_STACK], Vec::new());
    let sig = decode_into(parts.signature, &mut stack, &mut heap)?;
    if sig.is_empty() {
        return Err(TokenError::EmptySignature);
    }
    if sig.iter().all(|b| *b == 0) {
        return Err(TokenError::ZeroSignature);
    }
    if alg == JwtAlgorithm::ES256 {
        // IEEE P1363 r || s, 32 bytes each. r = 0 or s = 0 is never a valid signature
        // (the "psychic signatures" bug, CVE-2022-21449, accepted exactly those).
        if sig.len() != 64 {
            return Err(TokenError::BadSignature);
        }
        let (r, s) = sig.split_at(32);
        if r.iter().all(|b| *b == 0) || s.iter().all(|b| *b == 0) {
            return Err(TokenError::ZeroSignature);
        }
    }
    if key.signed(parts.message.as_bytes(), sig, parts.signature) {
        Ok(())
    } else {
        Err(TokenError::BadSignature)
    }
}

/// Whether `s` is only base64url characters (RFC 4648 section 5: `A-Z a-z 0-9 - _`). No
/// early exit, so the compiler checks many bytes per instruction (this runs over the whole
/// token before anything else).
fn is_b64url(s: &str) -> bool {
    s.bytes().fold(true, |ok, b| {
        ok & (b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_'))
    })
}

/// A NumericDate claim: absent, or a finite non-negative JSON number (integer or not).
fn numeric_date(found: Option<Result<f64, ()>>, name: &'static str) -> Result<Option<f64>, TokenError> {
    found.transpose().map_err(|()| TokenError::InvalidClaimType(name))
}

#[cfg(test)]
mod b64url_tests {
    use super::is_b64url;

    #[test]
    fn exactly_the_base64url_alphabet() {
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for c in (0u8..128).map(char::from) {
            let long = format!("{}{c}{}", "A".repeat(40), "b".repeat(40));
            assert_eq!(is_b64url(&c.to_string()), alphabet.contains(c), "{c:?}");
            assert_eq!(is_b64url(&long), alphabet.contains(c), "{c:?} inside a long part");
        }
        assert!(is_b64url(""));
        assert!(!is_b64url(&format!("{}\u{e9}", "A".repeat(64))));
        assert!(!is_b64url("AAAA="));
    }
}
