//! Whose bucket a request counts against: [`KeyExtractor`] and [`RateLimitKey`].

use http::request::Parts;
use http::{Extensions, HeaderMap, StatusCode};
use mlguard_core::principal::NO_AUTHENTICATION_FIX;
use mlguard_core::{ClientIpResolver, Principal, PrincipalId, PrincipalIdRef, PrincipalLookup};
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Text keys longer than this many bytes are cut (at a character boundary), so a client cannot
/// make the store hold large keys. Two keys that differ only after it share a bucket. Principal
/// keys ([`RateLimitKey::Principal`]) are never cut: a longer id is replaced by its SHA-256.
pub const MAX_KEY_LEN: usize = 128;

/// The default prefix length IPv6 client addresses are aggregated to (one subscriber's /64).
pub const DEFAULT_V6_PREFIX: u8 = 64;

/// The default bound on a buffered body when the key is a form or JSON field.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024;

/// A bucket's identity.
///
/// ```
/// use mlguard_ratelimit::RateLimitKey;
/// assert_eq!(RateLimitKey::custom("tenant-7").to_string(), "custom:tenant-7");
/// assert_eq!(RateLimitKey::Ip("192.0.2.1".parse().unwrap()).to_string(), "ip:192.0.2.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateLimitKey {
    /// One bucket for everyone.
    Global,
    /// A client address (IPv6 already aggregated to its prefix).
    Ip(IpAddr),
    /// A principal's subject (free text: an API key named `admin` and the user `admin` share
    /// it; prefer [`RateLimitKey::Principal`]).
    Subject(Box<str>),
    /// An API key id.
    ApiKey(Box<str>),
    /// A form or JSON field value (e.g. the username on a login route).
    Field(Box<str>),
    /// A value from a custom function.
    Custom(Box<str>),
    /// A principal's typed id ([`PrincipalId`]: kind, then key id or subject), in its
    /// unambiguous text form, or `#` and the hex SHA-256 of that form when it is longer than
    /// [`MAX_KEY_LEN`]. Build it with [`RateLimitKey::principal`].
    Principal(Box<str>),
}

fn bounded(s: &str) -> Box<str> {
    if s.len() <= MAX_KEY_LEN {
        return s.into();
    }
    let mut end = MAX_KEY_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].into()
}

impl RateLimitKey {
    /// A custom key, cut to [`MAX_KEY_LEN`] bytes.
    pub fn custom(s: &str) -> Self {
        Self::Custom(bounded(s))
    }

    /// A subject key, cut to [`MAX_KEY_LEN`] bytes.
    pub fn subject(s: &str) -> Self {
        Self::Subject(bounded(s))
    }

    /// An API key id key, cut to [`MAX_KEY_LEN`] bytes.
    pub fn api_key(s: &str) -> Self {
        Self::ApiKey(bounded(s))
    }

    /// A field key, cut to [`MAX_KEY_LEN`] bytes.
    pub fn field(s: &str) -> Self {
        Self::Field(bounded(s))
    }

    /// The key of a principal: its [`PrincipalId`], so that an API key and a user with the
    /// same name never share a bucket. Ids longer than [`MAX_KEY_LEN`] bytes are replaced by
    /// `#` and their hex SHA-256 (no id's text starts with `#`), never cut, so two principals
    /// never share a bucket however long their ids.
    ///
    /// ```
    /// use mlguard_core::{AuthMethod, Principal};
    /// use mlguard_ratelimit::RateLimitKey;
    ///
    /// let key = Principal::builder("admin").method(AuthMethod::ApiKey { key_id: "k1".into() }).build();
    /// let user = Principal::builder("admin").method(AuthMethod::Bearer { token_id: None }).build();
    /// assert_eq!(RateLimitKey::principal(&key.id()).to_string(), "principal:api_key:k1");
    /// assert_eq!(RateLimitKey::principal(&user.id()).to_string(), "principal:bearer:admin");
    /// ```
    pub fn principal(id: &PrincipalId) -> Self {
        Self::principal_ref(id.as_id_ref())
    }

    /// [`principal`](Self::principal) of a borrowed id ([`Principal::id_ref`]): the same key,
    /// with one allocation (the key's own text) for ids up to [`MAX_KEY_LEN`] bytes.
    ///
    /// ```
    /// use mlguard_core::{AuthMethod, Principal};
    /// use mlguard_ratelimit::RateLimitKey;
    ///
    /// let key = Principal::builder("admin").method(AuthMethod::ApiKey { key_id: "k1".into() }).build();
    /// assert_eq!(RateLimitKey::principal_ref(key.id_ref()), RateLimitKey::principal(&key.id()));
    /// ```
    pub fn principal_ref(id: PrincipalIdRef<'_>) -> Self {
        use fmt::Write as _;
        // The text's length first (formatting into a counter), so that the key is written into
        // a buffer of exactly its size: no growth, and no shrink into the boxed key.
        let mut len = TextLen(0);
        let _ = write!(len, "{id}");
        let mut text = String::with_capacity(len.0);
        let _ = write!(text, "{id}");
        if text.len() <= MAX_KEY_LEN {
            return Self::Principal(text.into_boxed_str());
        }
        let digest = Sha256::digest(text.as_bytes());
        let mut hashed = String::with_capacity(1 + 2 * digest.len());
        hashed.push('#');
        for byte in digest {
            use fmt::Write as _;
            let _ = write!(hashed, "{byte:02x}");
        }
        Self::Principal(hashed.into())
    }
}

/// A `fmt::Write` that only counts bytes.
struct TextLen(usize);

impl fmt::Write for TextLen {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

impl fmt::Display for RateLimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("global"),
            Self::Ip(ip) => write!(f, "ip:{ip}"),
            Self::Subject(s) => write!(f, "sub:{s}"),
            Self::ApiKey(s) => write!(f, "key:{s}"),
            Self::Field(s) => write!(f, "field:{s}"),
            Self::Custom(s) => write!(f, "custom:{s}"),
            Self::Principal(s) => write!(f, "principal:{s}"),
        }
    }
}

type CustomFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;

#[derive(Clone)]
pub(crate) enum KeyKind {
    ClientIp {
        resolver: ClientIpResolver,
        v6_prefix: u8,
    },
    Principal,
    Subject,
    ApiKeyId,
    BodyField {
        name: Arc<str>,
        max_body: usize,
    },
    Global,
    Custom(Arc<CustomFn>),
}

/// How to find a request's [`RateLimitKey`].
///
/// ```
/// use mlguard_core::{ClientIpResolver, TrustedProxies};
/// use mlguard_ratelimit::KeyExtractor;
///
/// let by_ip = KeyExtractor::client_ip(
///     ClientIpResolver::new().with_trusted_proxies("10.0.0.0/8".parse::<TrustedProxies>().unwrap()),
/// );
/// let by_principal = KeyExtractor::principal();
/// let by_username = KeyExtractor::body_field("username");
/// let by_tenant = KeyExtractor::custom(|parts| {
///     parts.headers.get("x-tenant").and_then(|v| v.to_str().ok()).map(str::to_owned)
/// });
/// assert_eq!(by_username.describe(), "the `username` field of the body");
/// # let _ = (by_ip, by_principal, by_tenant);
/// ```
#[derive(Clone)]
pub struct KeyExtractor {
    pub(crate) kind: KeyKind,
}

impl fmt::Debug for KeyExtractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("KeyExtractor").field(&self.describe()).finish()
    }
}

impl KeyExtractor {
    /// The client address, resolved through `resolver` (forwarding headers believed only from
    /// trusted proxies); IPv6 aggregated to a /64 (see [`with_v6_prefix`](Self::with_v6_prefix)).
    /// The request needs a `mlguard_core::PeerAddr`, axum's `ConnectInfo<SocketAddr>` or a
    /// `ClientIp` in its extensions.
    pub fn client_ip(resolver: ClientIpResolver) -> Self {
        Self {
            kind: KeyKind::ClientIp {
                resolver,
                v6_prefix: DEFAULT_V6_PREFIX,
            },
        }
    }

    /// For a client-IP extractor: the IPv6 prefix length addresses are cut to (0..=128).
    /// Other extractors are returned unchanged.
    #[must_use]
    pub fn with_v6_prefix(mut self, prefix: u8) -> Self {
        if let KeyKind::ClientIp { v6_prefix, .. } = &mut self.kind {
            *v6_prefix = prefix.min(128);
        }
        self
    }

    /// The typed id of the [`Principal`] an authentication layer wrote
    /// ([`Principal::id`]: the key id for an API key, the subject for a bearer token, the
    /// method and subject otherwise), as a [`RateLimitKey::Principal`]. The key for
    /// per-principal quotas: an API key *named* `admin` and the user `admin` are two principals
    /// with two buckets, so neither can spend the other's quota.
    ///
    /// Put the layer *after* authorization (inside the permission check), so that requests the
    /// principal is not allowed to make are refused before they are charged.
    pub fn principal() -> Self {
        Self {
            kind: KeyKind::Principal,
        }
    }

    /// The subject of the [`Principal`] an authentication layer wrote.
    ///
    /// The subject is free text chosen by whoever names the credential: an API key named
    /// `admin` has the same subject as the user `admin`, and the two share one bucket (one can
    /// spend the other's quota). Use [`principal`](Self::principal) for per-principal quotas;
    /// this is for when several credentials of one subject should deliberately share a bucket
    /// and every authenticator's subjects come from one namespace.
    pub fn principal_subject() -> Self {
        Self {
            kind: KeyKind::Subject,
        }
    }

    /// The API key id of the [`Principal`] (missing when it did not use an API key).
    pub fn api_key_id() -> Self {
        Self {
            kind: KeyKind::ApiKeyId,
        }
    }

    /// A field of a form (`application/x-www-form-urlencoded`) or JSON object body, e.g.
    /// `username` on a login route. The body is buffered up to [`DEFAULT_MAX_BODY`] bytes (see
    /// [`with_max_body`](Self::with_max_body); larger bodies get 413), read, and re-attached
    /// for the inner service, so the request's body type must implement `From<Bytes>`.
    pub fn body_field(name: impl Into<String>) -> Self {
        Self {
            kind: KeyKind::BodyField {
                name: Arc::from(name.into()),
                max_body: DEFAULT_MAX_BODY,
            },
        }
    }

    /// For a body-field extractor: the largest body buffered. Others are returned unchanged.
    #[must_use]
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        if let KeyKind::BodyField { max_body, .. } = &mut self.kind {
            *max_body = bytes;
        }
        self
    }

    /// One bucket shared by every request.
    pub fn global() -> Self {
        Self {
            kind: KeyKind::Global,
        }
    }

    /// A key computed by `f` from the request head; `None` means "no key".
    pub fn custom<F>(f: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        Self {
            kind: KeyKind::Custom(Arc::new(f)),
        }
    }

    /// What this extractor reads, for logs and problem details.
    pub fn describe(&self) -> String {
        match &self.kind {
            KeyKind::ClientIp { .. } => "the client address".to_owned(),
            KeyKind::Principal => "the authenticated principal".to_owned(),
            KeyKind::Subject => "the authenticated principal's subject".to_owned(),
            KeyKind::ApiKeyId => "the API key".to_owned(),
            KeyKind::BodyField { name, .. } => format!("the `{name}` field of the body"),
            KeyKind::Global => "nothing (global)".to_owned(),
            KeyKind::Custom(_) => "a custom key".to_owned(),
        }
    }

    pub(crate) fn needs_body(&self) -> bool {
        matches!(self.kind, KeyKind::BodyField { .. })
    }

    /// The key from the request head; `None` when missing (and for body fields, which need
    /// [`crate::body_key`]).
    pub(crate) fn key_of(&self, parts: &Parts) -> Option<RateLimitKey> {
        match &self.kind {
            KeyKind::Custom(f) => f(parts).map(|s| RateLimitKey::custom(&s)),
            _ => self.key_of_head(&parts.headers, &parts.extensions),
        }
    }

    /// Whether [`key_of_head`](Self::key_of_head) can find this extractor's key: everything
    /// but a custom function (which is given the whole [`Parts`]).
    pub(crate) fn reads_head_only(&self) -> bool {
        !matches!(self.kind, KeyKind::Custom(_))
    }

    /// The key from a request's headers and extensions, without taking the request apart;
    /// `None` when missing, for body fields, and for custom functions (see
    /// [`reads_head_only`](Self::reads_head_only)).
    #[inline]
    pub(crate) fn key_of_head(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<RateLimitKey> {
        match &self.kind {
            KeyKind::ClientIp { resolver, v6_prefix } => {
                let ip = resolve(resolver, headers, extensions)?;
                Some(RateLimitKey::Ip(match ip.0 {
                    // Kept whole by `aggregated` (its documented contract): skip the call.
                    v4 @ IpAddr::V4(_) => v4,
                    IpAddr::V6(_) => ip.aggregated(*v6_prefix),
                }))
            }
            KeyKind::Principal => {
                Principal::from_extensions(extensions).map(|p| RateLimitKey::principal_ref(p.id_ref()))
            }
            KeyKind::Subject => Principal::from_extensions(extensions)
                .map(|p| p.subject())
                .filter(|s| !s.is_empty())
                .map(RateLimitKey::subject),
            KeyKind::ApiKeyId => Principal::from_extensions(extensions)
                .and_then(|p| p.api_key_id())
                .filter(|s| !s.is_empty())
                .map(RateLimitKey::api_key),
            KeyKind::BodyField { .. } | KeyKind::Custom(_) => None,
            KeyKind::Global => Some(RateLimitKey::Global),
        }
    }
}

/// How to fix a client-address key that finds no peer address, for the error the layer logs.
pub(crate) const NO_PEER_ADDRESS_FIX: &str = "the request carries no peer address: serve axum with \
     `into_make_service_with_connect_info::<SocketAddr>()` and turn on the `axum` feature of \
     mlguard-ratelimit (or of mlguard), or insert `mlguard_core::PeerAddr` (or a `ClientIp`, e.g. \
     with `ClientIpLayer`) into each request where you accept connections";

impl KeyExtractor {
    /// When [`key_of`](Self::key_of) found no key because the *server* did not provide what
    /// this extractor reads (a peer address, a principal from an authentication layer): the fix
    /// to log. `None` when the request itself lacks it (the client's doing).
    pub(crate) fn server_gap(&self, parts: &Parts) -> Option<&'static str> {
        match &self.kind {
            KeyKind::ClientIp { .. } => (parts.extensions.get::<mlguard_core::ClientIp>().is_none()
                && mlguard_core::client_ip::peer_addr(&parts.extensions).is_none())
            .then_some(NO_PEER_ADDRESS_FIX),
            KeyKind::Principal | KeyKind::Subject | KeyKind::ApiKeyId => {
                (PrincipalLookup::of(&parts.extensions) == PrincipalLookup::NoAuthentication)
                    .then_some(NO_AUTHENTICATION_FIX)
            }
            KeyKind::BodyField { .. } | KeyKind::Global | KeyKind::Custom(_) => None,
        }
    }
}

fn resolve(
    resolver: &ClientIpResolver,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Option<mlguard_core::ClientIp> {
    if let Some(ip) = extensions.get::<mlguard_core::ClientIp>() {
        return Some(*ip);
    }
    let peer = mlguard_core::client_ip::peer_addr(extensions)?;
    Some(mlguard_core::ClientIp(resolver.resolve(peer.ip(), headers)))
}

/// What happens to a request for which the extractor finds no key. Either way it is logged
/// (`tracing` warn, target `mlguard_ratelimit`) and counted ([`crate::RateLimitStats`]).
///
/// A key the *server* failed to provide is not the client's mistake and gets neither: a
/// client-address key with no peer address (the app was served without connect info), or a
/// principal key with no authentication layer in front (no principal and no
/// [`mlguard_core::Anonymous`] mark) answers 500 `server misconfigured` and logs an error
/// naming the fix (once a minute per layer), unless a [`Fallback`](Self::Fallback) finds a key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum MissingKey {
    /// Reject with this 4xx status and a problem body (401 carries `WWW-Authenticate: Bearer`).
    Reject(StatusCode),
    /// Use this extractor instead (its own missing key is rejected with 400).
    Fallback(KeyExtractor),
}

impl Default for MissingKey {
    /// Reject with 400.
    fn default() -> Self {
        Self::Reject(StatusCode::BAD_REQUEST)
    }
}
