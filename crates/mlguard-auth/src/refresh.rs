//! Refresh tokens with rotation and reuse detection (RFC 9700 section 4.14.2).
//!
//! A refresh token is an opaque random string (`mrt_` + 32 random bytes, base64url), stored
//! only as its SHA-256. Each one works **once**: redeeming it returns a grant and the caller
//! issues a new refresh token in the same *family*. Presenting an already-used token means it
//! was copied (by an attacker or a confused client), so the whole family is revoked: the
//! legitimate holder's current token stops working too, and the access tokens issued in the
//! family are reported so they can be put on the `jti` denylist.
//!
//! Two races are closed by the store's contract:
//! - **reuse during a rotation.** A rotation redeems the token, then signs and records the new
//!   access token. [`RefreshTokenStore::record_access_token`] checks the family atomically with
//!   the revocation that a reuse performs: recorded before the reuse, the access token is in the
//!   list the reuse reports (and is denied); arriving after it, the recording is refused
//!   ([`Recorded::FamilyRevoked`]) and the token endpoint hands nothing out. Either way no
//!   access token of a revoked family stays valid.
//! - **refused requests spending tokens.** [`RefreshTokenStore::peek`] shows what a token
//!   grants without using it, so a request the endpoint refuses (an invalid `scope`) leaves the
//!   token unspent, and the client's corrected retry is not taken for a reuse.

use crate::AuthError;
use crate::apikey::sha256_bytes;
use crate::error::random_bytes;
use crate::revocation::BoxFuture;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_core::{SharedClock, SystemClock};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// Default refresh-token lifetime: 7 days.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a valid refresh token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The user.
    pub username: String,
    /// The scope granted at login (`None`: not narrowed).
    pub scope: Option<Vec<String>>,
    /// The rotation family.
    pub family: String,
}

/// The result of redeeming a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// Valid and now used up.
    Valid(RefreshGrant),
    /// Already used: the family is now revoked; these access tokens (`jti`, expiry) were
    /// issued in it.
    Reused {
        /// The access tokens issued in the family.
        access_tokens: Vec<(String, SystemTime)>,
    },
    /// Unknown, expired, or of a revoked family.
    Invalid,
}

/// The result of [`RefreshTokenStore::record_access_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Recorded {
    /// The access token is now listed in its family: a later reuse reports it.
    Recorded,
    /// The family was revoked (a reuse got there first): nothing recorded; the access token
    /// must not be handed out.
    FamilyRevoked,
}

/// Storage of refresh tokens and their families.
pub trait RefreshTokenStore: Send + Sync + fmt::Debug + 'static {
    /// Creates a refresh token for a grant; `family: None` starts a new family.
    fn issue(
        &self,
        username: &str,
        scope: Option<&[String]>,
        family: Option<&str>,
    ) -> Result<(Zeroizing<String>, String), AuthError>;

    /// What `token` grants if it can be redeemed now (known, unused, unexpired, family not
    /// revoked), **without** using it; `None` otherwise. Lets the caller validate a request
    /// before spending the token; [`redeem`](Self::redeem) stays the one decision.
    fn peek(&self, token: &str) -> Result<Option<RefreshGrant>, AuthError>;

    /// Redeems a token: at most once.
    fn redeem(&self, token: &str) -> Result<Redemption, AuthError>;

    /// Remembers that an access token was issued in `family` (for revocation on reuse),
    /// atomically with the family's state: when a reuse has revoked the family, nothing is
    /// recorded and [`Recorded::FamilyRevoked`] is returned, so the caller withholds the token.
    fn record_access_token(
        &self,
        family: &str,
        jti: &str,
        expires_at: SystemTime,
    ) -> Result<Recorded, AuthError>;

    /// [`issue`](Self::issue) without blocking the async runtime. The default calls `issue`; a
    /// store that talks to a database (`sql::SqlStore`, feature `sql`)
    /// overrides it, and async callers should prefer it.
    fn issue_async<'a>(
        &'a self,
        username: &'a str,
        scope: Option<&'a [String]>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(Zeroizing<String>, String), AuthError>> {
        Box::pin(std::future::ready(self.issue(username, scope, family)))
    }

    /// [`peek`](Self::peek) without blocking the async runtime (see
    /// [`issue_async`](Self::issue_async)).
    fn peek_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<RefreshGrant>, AuthError>> {
        Box::pin(std::future::ready(self.peek(token)))
    }

    /// [`redeem`](Self::redeem) without blocking the async runtime (see
    /// [`issue_async`](Self::issue_async)).
    fn redeem_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Redemption, AuthError>> {
        Box::pin(std::future::ready(self.redeem(token)))
    }

    /// [`record_access_token`](Self::record_access_token) without blocking the async runtime
    /// (see [`issue_async`](Self::issue_async)).
    fn record_access_token_async<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<Recorded, AuthError>> {
        Box::pin(std::future::ready(
            self.record_access_token(family, jti, expires_at),
        ))
    }
}

/// A shared store is a store: lets a server pick the backend at run time
/// (`Arc<dyn RefreshTokenStore>`: memory or SQL) and still wrap it. Every method forwards,
/// the `*_async` ones included, so a wrapped database store does not block.
impl<T: RefreshTokenStore + ?Sized> RefreshTokenStore for Arc<T> {
    fn issue(
        &self,
        username: &str,
        scope: Option<&[String]>,
        family: Option<&str>,
    ) -> Result<(Zeroizing<String>, String), AuthError> {
        (**self).issue(username, scope, family)
    }

    fn peek(&self, token: &str) -> Result<Option<RefreshGrant>, AuthError> {
        (**self).peek(token)
    }

    fn redeem(&self, token: &str) -> Result<Redemption, AuthError> {
        (**self).redeem(token)
    }

    fn record_access_token(
        &self,
        family: &str,
        jti: &str,
        expires_at: SystemTime,
    ) -> Result<Recorded, AuthError> {
        (**self).record_access_token(family, jti, expires_at)
    }

    fn issue_async<'a>(
        &'a self,
        username: &'a str,
        scope: Option<&'a [String]>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(Zeroizing<String>, String), AuthError>> {
        (**self).issue_async(username, scope, family)
    }

    fn peek_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<RefreshGrant>, AuthError>> {
        (**self).peek_async(token)
    }

    fn redeem_async<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Redemption, AuthError>> {
        (**self).redeem_async(token)
    }

    fn record_access_token_async<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<Recorded, AuthError>> {
        (**self).record_access_token_async(family, jti, expires_at)
    }
}

/// A new refresh token: `mrt_` + 32 random bytes, base64url.
pub(crate) fn new_token() -> Result<Zeroizing<String>, AuthError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    random_bytes(&mut secret[..])?;
    Ok(Zeroizing::new(format!(
        "mrt_{}",
        URL_SAFE_NO_PAD.encode(&secret[..])
    )))
}

/// A new family id: 12 random bytes, base64url.
pub(crate) fn new_family_id() -> Result<String, AuthError> {
    let mut id = [0u8; 12];
    random_bytes(&mut id)?;
    Ok(URL_SAFE_NO_PAD.encode(id))
}

struct Entry {
    family: String,
    username: String,
    scope: Option<Vec<String>>,
    expires_at: SystemTime,
    used: bool,
}

#[derive(Default)]
struct State {
    tokens: HashMap<[u8; 32], Entry>,
    revoked_families: HashSet<String>,
    family_access: HashMap<String, Vec<(String, SystemTime)>>,
}

/// Refresh tokens in memory (one process; tokens are lost on restart, which logs users out).
pub struct MemoryRefreshStore {
    state: Mutex<State>,
    ttl: Duration,
    clock: SharedClock,
}

impl fmt::Debug for MemoryRefreshStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRefreshStore")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryRefreshStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryRefreshStore {
    /// Tokens live [`DEFAULT_REFRESH_TTL`], on the system clock.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::default()),
            ttl: DEFAULT_REFRESH_TTL,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the lifetime.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    fn purge(state: &mut State, now: SystemTime) {
        state.tokens.retain(|_, e| e.expires_at > now);
        let live: HashSet<&String> = state.tokens.values().map(|e| &e.family).collect();
        state.family_access.retain(|f, _| live.contains(f));
        state.revoked_families.retain(|f| live.contains(f));
    }
}

impl RefreshTokenStore for MemoryRefreshStore {
    fn issue(
        &self,
        username: &str,
        scope: Option<&[String]>,
        family: Option<&str>,
    ) -> Result<(Zeroizing<String>, String), AuthError> {
        let token = new_token()?;
        let family = match family {
            Some(f) => f.to_owned(),
            None => new_family_id()?,
        };
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.tokens.len() % 1024 == 1023 {
            Self::purge(&mut state, now);
        }
        state.tokens.insert(
            sha256_bytes(token.as_bytes()),
            Entry {
                family: family.clone(),
                username: username.to_owned(),
                scope: scope.map(<[String]>::to_vec),
                expires_at: now + self.ttl,
                used: false,
            },
        );
        Ok((token, family))
    }

    fn peek(&self, token: &str) -> Result<Option<RefreshGrant>, AuthError> {
        let now = self.clock.now();
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let grant = state
            .tokens
            .get(&sha256_bytes(token.as_bytes()))
            .filter(|e| !e.used && e.expires_at > now && !state.revoked_families.contains(&e.family))
            .map(|e| RefreshGrant {
                username: e.username.clone(),
                scope: e.scope.clone(),
                family: e.family.clone(),
            });
        Ok(grant)
    }

    fn redeem(&self, token: &str) -> Result<Redemption, AuthError> {
        let now = self.clock.now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        let Some(entry) = state.tokens.get_mut(&sha256_bytes(token.as_bytes())) else {
            return Ok(Redemption::Invalid);
        };
        if state.revoked_families.contains(&entry.family) || entry.expires_at <= now {
            return Ok(Redemption::Invalid);
        }
        if entry.used {
            let family = entry.family.clone();
            tracing::warn!(
                family,
                user = entry.username,
                "refresh token reused: revoking its family"
            );
            state.revoked_families.insert(family.clone());
            let access_tokens = state.family_access.remove(&family).unwrap_or_default();
            return Ok(Redemption::Reused { access_tokens });
        }
        entry.used = true;
        Ok(Redemption::Valid(RefreshGrant {
            username: entry.username.clone(),
            scope: entry.scope.clone(),
            family: entry.family.clone(),
        }))
    }

    fn record_access_token(
        &self,
        family: &str,
        jti: &str,
        expires_at: SystemTime,
    ) -> Result<Recorded, AuthError> {
        // One lock with `redeem`'s revocation: a reuse either sees this token or refuses it.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.revoked_families.contains(family) {
            return Ok(Recorded::FamilyRevoked);
        }
        state
            .family_access
            .entry(family.to_owned())
            .or_default()
            .push((jti.to_owned(), expires_at));
        Ok(Recorded::Recorded)
    }
}
