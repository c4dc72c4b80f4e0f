//! Allocation-free views of JSON values for the header and claims parsers.
//!
//! A [`Scalar`] is what the checks need to know about one JSON value: a string (borrowed from
//! the decoded token when it has no escapes), a number, or anything else. Arrays and objects
//! are walked with [`IgnoredAny`] so they are still fully parsed (a syntax error anywhere
//! fails the token) without being built.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// One JSON value, reduced to what the checks look at.
#[derive(Debug)]
pub(super) enum Scalar<'de> {
    /// A string; borrowed unless it contained escapes.
    Str(Cow<'de, str>),
    /// A number, as `f64` (what `serde_json::Number::as_f64` would give).
    Num(f64),
    /// `null`, a boolean, an array or an object.
    Other,
}

impl<'de> Scalar<'de> {
    /// The string, if this is one.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    // Same conversions as `serde_json::Number::as_f64`.
    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v as f64))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Num(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// An object key (JSON keys are always strings; escapes are decoded, so `"j\u006bu"` is `jku`).
pub(super) fn key<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    match map.next_key::<Scalar<'de>>()? {
        None => Ok(None),
        Some(Scalar::Str(k)) => Ok(Some(k)),
        Some(_) => Err(de::Error::custom("object key is not a string")),
    }
}

/// Stores `value` in `slot`, refusing a second occurrence of the same member: with duplicate
/// members, different JSON parsers disagree on which one counts.
pub(super) fn once<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom("duplicate member"));
    }
    *slot = Some(value);
    Ok(())
}
