//! The JOSE header of a compact JWS, parsed without building a JSON map.
//!
//! Only `alg`, `kid`, `crit` and the key-naming parameters are looked at; other members are
//! parsed and skipped. A member that matters appearing twice makes the header malformed.

use super::error::TokenError;
use super::json::{Scalar, key, once};
use super::key::JwtAlgorithm;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Header parameters that name or embed keys; a token carrying one is refused.
pub const FORBIDDEN_HEADER_PARAMS: [&str; 4] = ["jku", "x5u", "jwk", "x5c"];

/// What the checks need from a header.
#[derive(Debug, Default)]
pub(super) struct Header<'de> {
    alg: Option<Scalar<'de>>,
    kid: Option<Scalar<'de>>,
    typ: Option<Scalar<'de>>,
    /// Which of [`FORBIDDEN_HEADER_PARAMS`] appeared.
    forbidden: [bool; FORBIDDEN_HEADER_PARAMS.len()],
    crit: Option<()>,
}

impl<'de> Header<'de> {
    /// Parses a decoded header; anything but one JSON object is [`TokenError::Malformed`].
    pub(super) fn parse(json: &'de [u8]) -> Result<Self, TokenError> {
        // Validated as UTF-8 once, so the parser does not validate each string again.
        let json = std::str::from_utf8(json).map_err(|_| TokenError::Malformed)?;
        let mut de = serde_json::Deserializer::from_str(json);
        let header = HeaderSeed
            .deserialize(&mut de)
            .map_err(|_| TokenError::Malformed)?;
        de.end().map_err(|_| TokenError::Malformed)?;
        Ok(header)
    }

    /// Whether `typ` is present, a string, and names the media type `want` (already
    /// normalized by [`normalize_typ`]): compared case-insensitively, with or without the
    /// `application/` prefix (RFC 7515 section 4.1.9, RFC 9068 section 4).
    pub(super) fn typ_is(&self, want: &str) -> bool {
        match &self.typ {
            Some(Scalar::Str(typ)) => typ_matches(typ, want),
            _ => false,
        }
    }

    /// The checks of step 3, in order: `alg` a string, not `none` in any casing, supported;
    /// no key-naming parameter; no `crit`; `kid` a string when present.
    pub(super) fn check(self) -> Result<(JwtAlgorithm, Option<Cow<'de, str>>), TokenError> {
        let alg = match &self.alg {
            Some(Scalar::Str(alg)) => alg,
            _ => return Err(TokenError::Malformed),
        };
        if alg.eq_ignore_ascii_case("none") {
            return Err(TokenError::AlgNone);
        }
        let alg = JwtAlgorithm::from_name(alg).ok_or(TokenError::UnsupportedAlgorithm)?;
        if let Some((name, _)) = FORBIDDEN_HEADER_PARAMS
            .iter()
            .zip(self.forbidden)
            .find(|(_, seen)| *seen)
        {
            return Err(TokenError::ForbiddenHeader(name));
        }
        if self.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let kid = match self.kid {
            None => None,
            Some(Scalar::Str(kid)) => Some(kid),
            Some(_) => return Err(TokenError::Malformed),
        };
        Ok((alg, kid))
    }
}

struct HeaderSeed;

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = Header<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut header = Header::default();
        while let Some(name) = key(&mut map)? {
            match &*name {
                "alg" => once(&mut header.alg, map.next_value()?)?,
                "kid" => once(&mut header.kid, map.next_value()?)?,
                // Checked only when a verifier requires a type, so a repeated `typ` does not
                // make every token malformed; it just never matches a required type.
                "typ" => {
                    let typ = map.next_value()?;
                    header.typ = Some(if header.typ.is_some() { Scalar::Other } else { typ });
                }
                "crit" => {
                    map.next_value::<IgnoredAny>()?;
                    once(&mut header.crit, ())?;
                }
                other => {
                    map.next_value::<IgnoredAny>()?;
                    if let Some(i) = FORBIDDEN_HEADER_PARAMS.iter().position(|p| *p == other) {
                        header.forbidden[i] = true;
                    }
                }
            }
        }
        Ok(header)
    }
}

/// Whether `typ` normalizes to `want` (already normalized), without allocating: the same
/// answer as `normalize_typ(typ) == want`.
fn typ_matches(typ: &str, want: &str) -> bool {
    let typ = typ.trim();
    let prefix = "application/";
    let typ = match typ.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => &typ[prefix.len()..],
        _ => typ,
    };
    typ.eq_ignore_ascii_case(want)
}

/// A `typ` value in canonical form: lowercase, without an `application/` prefix.
pub(super) fn normalize_typ(typ: &str) -> String {
    let lower = typ.trim().to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::{normalize_typ, typ_matches};

    #[test]
    fn typ_matches_agrees_with_normalizing() {
        let typs = [
            "at+jwt",
            "AT+JWT",
            " application/at+jwt ",
            "Application/At+Jwt",
            "application/",
            "applicationat+jwt",
            "application/application/at+jwt",
            "JWT",
            "",
            "applicatio\u{e9}/at+jwt",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}/at+jwt",
            "at+jwt\u{e9}",
        ];
        for typ in typs {
            for want in typs.map(normalize_typ) {
                assert_eq!(
                    typ_matches(typ, &want),
                    normalize_typ(typ) == want,
                    "{typ:?} vs {want:?}"
                );
            }
        }
    }
}
