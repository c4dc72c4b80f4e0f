//! The claims of a token: parsed once into what the checks need ([`RawClaims`]), without
//! building a JSON map; the full map ([`Claims`]) is built only if the application asks.

use super::json::{Scalar, key, once};
use serde::de::{Deserialize as _, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// All claims of a verified token, for application-specific ones.
///
/// [`BearerAuth`](super::BearerAuth) (alone or in an [`AuthLayer`](crate::AuthLayer)) writes
/// them into the request's extensions next to the `Principal`; read them with
/// [`from_extensions`](Self::from_extensions), axum's `Extension<Claims>`, or typed with
/// [`custom`](Self::custom) or the `VerifiedClaims<T>` extractor (feature `axum`).
///
/// Dereferences to a `serde_json` map, built from the payload on first use (verification
/// itself does not need it).
///
/// ```
/// use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
///
/// let secret = [42u8; 32];
/// let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap())
///     .audience("ml-api");
/// let verifier = JwtVerifier::builder()
///     .key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap().with_kid("k1"))
///     .audience("ml-api")
///     .build()
///     .unwrap();
/// let token = issuer.issue("alice", &[], None).unwrap();
/// let verified = verifier.verify(token.access_token()).unwrap();
/// assert_eq!(verified.claims["sub"], "alice");
/// assert!(verified.claims.json().starts_with('{'));
/// ```
#[derive(Clone)]
pub struct Claims {
    // Shared, so that the copy a cached token hands to each request is not a copy of the text.
    json: Arc<str>,
    map: OnceLock<Map<String, Value>>,
}

impl Claims {
    pub(crate) fn new(json: String) -> Self {
        Self {
            json: json.into(),
            map: OnceLock::new(),
        }
    }

    /// The payload's JSON text, exactly as signed.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The claims as the application's own type: standard and custom claims, typed.
    ///
    /// ```
    /// # use mlguard_auth::jwt::{JwtAlgorithm, JwtIssuer, JwtVerifier, SigningKey, VerifyingKey};
    /// # use serde_json::json;
    /// #[derive(serde::Deserialize)]
    /// struct MyClaims {
    ///     sub: String,
    ///     tenant: String,
    /// }
    /// # let secret = [42u8; 32];
    /// # let issuer = JwtIssuer::new(SigningKey::hmac(JwtAlgorithm::HS256, "k1", &secret).unwrap());
    /// # let verifier = JwtVerifier::builder().key(VerifyingKey::hmac(JwtAlgorithm::HS256, &secret).unwrap())
    /// #     .accept_any_audience().build().unwrap();
    /// # let extra = json!({"tenant": "acme"});
    /// # let token = issuer.issue_with("alice", &[], None, extra.as_object().unwrap().clone()).unwrap();
    /// let verified = verifier.verify(token.access_token()).unwrap();
    /// let mine: MyClaims = verified.claims.custom().unwrap();
    /// assert_eq!((mine.sub.as_str(), mine.tenant.as_str()), ("alice", "acme"));
    /// ```
    pub fn custom<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.json)
    }

    /// The verified claims a bearer-token layer wrote into a request's extensions (absent for
    /// a caller that used an API key).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&Claims> {
        extensions.get::<Claims>()
    }
}

impl Deref for Claims {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Self::Target {
        // The payload was parsed as one JSON object before the token was accepted, so this
        // cannot fail; an empty map is the fail-safe answer if it ever did.
        self.map
            .get_or_init(|| serde_json::from_str(&self.json).unwrap_or_default())
    }
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A NumericDate claim as found: a number (range checked by the caller) or another type.
pub(super) type Date = Result<f64, ()>;

/// The `aud` claim as found, checked against the accepted audiences while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Audience {
    /// Names an accepted audience (or no audiences are configured).
    Match,
    /// Well-typed, names none of them.
    NoMatch,
    /// Neither a string nor an array of strings.
    Invalid,
}

/// What the claim checks need, borrowed from the decoded payload where possible.
#[derive(Debug, Default)]
pub(super) struct RawClaims<'de> {
    pub(super) exp: Option<Date>,
    pub(super) nbf: Option<Date>,
    pub(super) iat: Option<Date>,
    pub(super) iss: Option<Scalar<'de>>,
    pub(super) aud: Option<Audience>,
    pub(super) sub: Option<Scalar<'de>>,
    pub(super) jti: Option<Scalar<'de>>,
    /// `Err` when not an array of strings.
    pub(super) roles: Option<Result<Vec<String>, ()>>,
    pub(super) scope: Option<Scalar<'de>>,
}

impl<'de> RawClaims<'de> {
    /// Parses a decoded payload; anything but one JSON object, or a checked claim appearing
    /// twice, is an error. `aud` is compared with `audiences` (when some are configured).
    pub(super) fn parse(
        json: &'de str,
        audiences: Option<&HashSet<String>>,
    ) -> Result<Self, serde_json::Error> {
        // From `str`: the text is already UTF-8, so strings are not validated again.
        let mut de = serde_json::Deserializer::from_str(json);
        let claims = ClaimsSeed { audiences }.deserialize(&mut de)?;
        de.end()?;
        Ok(claims)
    }
}

struct ClaimsSeed<'a> {
    audiences: Option<&'a HashSet<String>>,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = RawClaims<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = RawClaims<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut c = RawClaims::default();
        while let Some(name) = key(&mut map)? {
            match &*name {
                "exp" => once(&mut c.exp, date(map.next_value()?))?,
                "nbf" => once(&mut c.nbf, date(map.next_value()?))?,
                "iat" => once(&mut c.iat, date(map.next_value()?))?,
                "iss" => once(&mut c.iss, map.next_value()?)?,
                "aud" => once(
                    &mut c.aud,
                    map.next_value_seed(AudienceSeed {
                        audiences: self.audiences,
                    })?,
                )?,
                "sub" => once(&mut c.sub, map.next_value()?)?,
                "jti" => once(&mut c.jti, map.next_value()?)?,
                "roles" => once(&mut c.roles, map.next_value_seed(RolesSeed)?)?,
                "scope" => once(&mut c.scope, map.next_value()?)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(c)
    }
}

/// A NumericDate: a finite, non-negative JSON number (integer or not).
fn date(value: Scalar<'_>) -> Date {
    match value {
        Scalar::Num(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(()),
    }
}

/// `aud`: a string or an array of strings, compared as it is read.
struct AudienceSeed<'a> {
    audiences: Option<&'a HashSet<String>>,
}

impl<'de> DeserializeSeed<'de> for AudienceSeed<'_> {
    type Value = Audience;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let Some(audiences) = self.audiences else {
            // Not checked: parse and skip it.
            IgnoredAny::deserialize(deserializer)?;
            return Ok(Audience::Match);
        };
        deserializer.deserialize_any(AudienceVisitor { audiences })
    }
}

struct AudienceVisitor<'a> {
    audiences: &'a HashSet<String>,
}

impl AudienceVisitor<'_> {
    fn one(&self, aud: &str) -> Audience {
        if self.audiences.contains(aud) {
            Audience::Match
        } else {
            Audience::NoMatch
        }
    }
}

impl<'de> Visitor<'de> for AudienceVisitor<'_> {
    type Value = Audience;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.one(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut result = Audience::NoMatch;
        while let Some(item) = seq.next_element::<Scalar<'de>>()? {
            result = match (item.as_str(), result) {
                (None, _) | (_, Audience::Invalid) => Audience::Invalid,
                (Some(_), Audience::Match) => Audience::Match,
                (Some(aud), Audience::NoMatch) => self.one(aud),
            };
        }
        Ok(result)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Audience::Invalid)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Audience::Invalid)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Audience::Invalid)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Audience::Invalid)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Audience::Invalid)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Audience::Invalid)
    }
}

/// `roles`: a string or an array of strings (`Err` for anything else, after parsing all of it).
struct RolesSeed;

impl<'de> DeserializeSeed<'de> for RolesSeed {
    type Value = Result<Vec<String>, ()>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RolesSeed {
    type Value = Result<Vec<String>, ()>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut roles = Ok(Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16)));
        while let Some(item) = seq.next_element::<Scalar<'de>>()? {
            match (item, &mut roles) {
                (Scalar::Str(role), Ok(list)) => list.push(role.into_owned()),
                (_, roles) => *roles = Err(()),
            }
        }
        Ok(roles)
    }

    /// One string is one role (as with any roles claim; see `RoleMapper`).
    fn visit_str<E: serde::de::Error>(self, role: &str) -> Result<Self::Value, E> {
        Ok(Ok(vec![role.to_owned()]))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(()))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err(()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err(()))
    }
}
