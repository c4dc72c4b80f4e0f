//! From a parsed JSON tree to a `T`, strictly and listing every error.
//!
//! serde_json's own deserializers stop at the first error and let a derived struct be read
//! from an array of its fields (`[5.1, 3.5, 1.4, 0.2]`). This deserializer runs over a
//! [`Node`] tree instead, and:
//!
//! - reads a struct (`deserialize_struct`) only from a JSON object, at any depth;
//! - checks each scalar against what the type asks for (`deserialize_f64` on a string, a `u8`
//!   out of range) *before* calling the type's visitor, records the mismatch and goes on with
//!   a placeholder, so one pass finds every wrong type;
//! - learns what only the type's visitor knows (a missing required field, an unknown field a
//!   struct denies, a value a custom `Deserialize` refuses) from the error that stops a pass,
//!   and starts another pass that reports it without stopping there: missing fields are
//!   synthesized, refused values replaced by placeholders, refused keys skipped. Each pass
//!   learns at least one thing or the loop ends; the number of passes is bounded.
//!
//! Placeholders (0, `""`, `false`, empty sequences, `None`, the first enum variant) only exist
//! so that the derived visitors get past an error: a value built with one is never handed to
//! the application, only validated so that the other fields' validation errors can be listed
//! with the decoding errors (and validation errors touching a replaced field are dropped).

use crate::field_error::{FieldError, clamp};
use crate::pointer::push_segment;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A JSON value with the members of an object kept in input order, duplicates included
/// (serde_json's `Value` keeps only the last of duplicate keys; a struct must see both to
/// refuse them).
#[derive(Debug)]
pub(crate) enum Node<'de> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(String),
    Array(Vec<Node<'de>>),
    Object(Vec<(Key<'de>, Node<'de>)>),
}

impl<'de> de::Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::U64(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::I64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        Ok(Node::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            members.push((key, map.next_value()?));
        }
        Ok(Node::Object(members))
    }
}

/// An object member's name: borrowed from the body when it has no escapes (no copy per key).
pub(crate) type Key<'de> = Cow<'de, str>;

/// Reads a [`Key`], borrowing it when the deserializer can lend it.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object member's name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Cow::Owned(v))
    }
}

/// Where a value is: a chain of segments to the root, rendered only when an error is recorded.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn pointer(&self) -> String {
        let mut segments = Vec::new();
        let mut at = self;
        loop {
            match at {
                Path::Root => break,
                Path::Key(parent, key) => {
                    segments.push((*key).to_owned());
                    at = parent;
                }
                Path::Index(parent, i) => {
                    segments.push(i.to_string());
                    at = parent;
                }
            }
        }
        let mut pointer = String::new();
        for s in segments.iter().rev() {
            push_segment(&mut pointer, s);
        }
        pointer
    }
}

/// Identity of a struct type across passes: its name and its `FIELDS` list.
type StructKey = (&'static str, usize, usize);

fn struct_key(name: &'static str, fields: &'static [&'static str]) -> StructKey {
    (name, fields.as_ptr().addr(), fields.len())
}

fn id<T>(r: &T) -> usize {
    std::ptr::from_ref(r).addr()
}

/// What earlier passes learned. Nodes and members are identified by address: the tree does
/// not change between passes.
#[derive(Default)]
struct Learned {
    /// Required fields of each struct type, in the order they were found missing.
    required: BTreeMap<StructKey, Vec<&'static str>>,
    /// Struct types that refuse unknown fields.
    denies_unknown: BTreeSet<StructKey>,
    /// Values refused by their type's visitor: read as placeholders.
    replaced: BTreeSet<usize>,
    /// Object members whose key was refused: skipped.
    hidden: BTreeSet<usize>,
    /// Errors found by the visitors in earlier passes.
    recorded: Vec<FieldError>,
}

struct Ctx<'a> {
    learned: &'a Learned,
    /// Errors found by this pass's own checks.
    found: RefCell<Vec<FieldError>>,
}

impl Ctx<'_> {
    fn record(&self, error: FieldError) {
        self.found.borrow_mut().push(error);
    }
}

#[derive(Debug)]
enum Kind {
    Missing(&'static str),
    Unknown(String),
    Duplicate,
    Type(String),
    Value(String),
    Length(String),
    Variant(String),
    Custom,
}

/// The error of this deserializer: a structured kind (never the input value) and where.
#[derive(Debug)]
pub(crate) struct DeError {
    kind: Kind,
    /// Set by the innermost deserializer or access the error passes through.
    at: Option<At>,
}

#[derive(Debug)]
struct At {
    pointer: String,
    /// The node or member to replace or hide; `None` when the error arose in a placeholder.
    target: Option<Target>,
    /// The struct type a `Missing` or `Unknown` error belongs to.
    strukt: Option<StructKey>,
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Node(usize),
    Member(usize),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail())
    }
}

impl std::error::Error for DeError {}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [a] => format!(": expected `{a}`"),
        [a, b] => format!(": expected `{a}` or `{b}`"),
        _ => {
            let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!(": expected one of {}", list.join(", "))
        }
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        // A custom message may quote the input: not kept.
        Self::new(Kind::Custom)
    }
    fn invalid_type(_unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::new(Kind::Type(exp.to_string()))
    }
    fn invalid_value(_unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::new(Kind::Value(exp.to_string()))
    }
    fn invalid_length(_len: usize, exp: &dyn Expected) -> Self {
        Self::new(Kind::Length(exp.to_string()))
    }
    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(Kind::Variant(one_of(expected)))
    }
    fn unknown_field(_field: &str, expected: &'static [&'static str]) -> Self {
        Self::new(Kind::Unknown(one_of(expected)))
    }
    fn missing_field(field: &'static str) -> Self {
        Self::new(Kind::Missing(field))
    }
    fn duplicate_field(_field: &'static str) -> Self {
        Self::new(Kind::Duplicate)
    }
}

impl DeError {
    fn new(kind: Kind) -> Self {
        Self { kind, at: None }
    }

    fn code(&self) -> &'static str {
        match self.kind {
            Kind::Missing(_) => "missing",
            Kind::Unknown(_) => "unknown_field",
            Kind::Duplicate => "duplicate_field",
            Kind::Type(_) => "type",
            Kind::Value(_) => "value",
            Kind::Length(_) => "length",
            Kind::Variant(_) => "enum",
            Kind::Custom => "invalid",
        }
    }

    fn detail(&self) -> String {
        match &self.kind {
            Kind::Missing(_) => "field required".into(),
            Kind::Unknown(e) => clamp(&format!("unknown field{e}")),
            Kind::Duplicate => "duplicate field".into(),
            Kind::Type(e) => format!("invalid type: expected {}", clamp(e)),
            Kind::Value(e) => format!("invalid value: expected {}", clamp(e)),
            Kind::Length(e) => format!("invalid length: expected {}", clamp(e)),
            Kind::Variant(e) => clamp(&format!("unknown variant{e}")),
            Kind::Custom => "invalid value".into(),
        }
    }

    /// Sets where the error is, unless an inner level already did.
    fn locate(mut self, path: &Path<'_>, target: Option<Target>) -> Self {
        if self.at.is_none() {
            self.at = Some(At {
                pointer: path.pointer(),
                target,
                strukt: None,
            });
        }
        self
    }

    fn to_field_error(&self) -> FieldError {
        let mut pointer = self.at.as_ref().map(|a| a.pointer.clone()).unwrap_or_default();
        if let Kind::Missing(name) = self.kind {
            push_segment(&mut pointer, name);
        }
        FieldError::new(pointer, self.code(), self.detail())
    }
}

fn type_error(path: &Path<'_>, exp: &dyn Expected) -> FieldError {
    FieldError::new(
        path.pointer(),
        "type",
        format!("invalid type: expected {}", clamp(&exp.to_string())),
    )
}

/// Decodes `root` as a `T` in at most `max_passes` passes. Returns the value when the last
/// pass produced one (built with placeholders when there are errors), and every error found,
/// sorted by pointer then code.
pub(crate) fn decode<T: DeserializeOwned>(
    root: &Node<'_>,
    max_passes: usize,
) -> (Option<T>, Vec<FieldError>) {
    let mut learned = Learned::default();
    let mut value = None;
    let mut found = Vec::new();
    for _ in 0..max_passes.max(1) {
        let ctx = Ctx {
            learned: &learned,
            found: RefCell::new(Vec::new()),
        };
        let result = T::deserialize(De::new(root, Path::Root, &ctx));
        found = ctx.found.into_inner();
        match result {
            Ok(v) => {
                value = Some(v);
                break;
            }
            Err(e) => {
                if !learn(&mut learned, e) {
                    break;
                }
            }
        }
    }
    let mut errors = learned.recorded;
    errors.extend(found);
    errors.sort_by(|a, b| a.pointer.cmp(&b.pointer).then_with(|| a.code.cmp(&b.code)));
    errors.dedup();
    if value.is_none() && errors.is_empty() {
        errors.push(FieldError::new("", "invalid", "invalid value"));
    }
    (value, errors)
}

/// Takes what the error that stopped a pass teaches; `false` when it teaches nothing new
/// (the loop ends and the errors found so far are the answer).
fn learn(learned: &mut Learned, e: DeError) -> bool {
    let Some(at) = &e.at else {
        learned.recorded.push(e.to_field_error());
        return false;
    };
    match (&e.kind, at.strukt, at.target) {
        // A missing field of a struct type: from now on synthesized, and reported where it
        // is missing from a real object.
        (Kind::Missing(name), Some(key), _) => {
            let fields = learned.required.entry(key).or_default();
            if fields.contains(name) {
                return false;
            }
            fields.push(name);
            true
        }
        // An unknown field of a struct that denies them: every unknown key is reported.
        (Kind::Unknown(_), Some(key), Some(_)) => learned.denies_unknown.insert(key),
        (_, _, Some(Target::Member(m))) => {
            learned.recorded.push(e.to_field_error());
            learned.hidden.insert(m)
        }
        (_, _, Some(Target::Node(n))) => {
            learned.recorded.push(e.to_field_error());
            learned.replaced.insert(n)
        }
        // In a placeholder (an artifact of an error already reported): give up here.
        (_, _, None) => false,
    }
}

/// A deserializer over one node, or over nothing (a placeholder).
struct De<'a> {
    node: Option<&'a Node<'a>>,
    path: Path<'a>,
    ctx: &'a Ctx<'a>,
}

impl<'a> De<'a> {
    fn new(node: &'a Node<'a>, path: Path<'a>, ctx: &'a Ctx<'a>) -> Self {
        let node = (!ctx.learned.replaced.contains(&id(node))).then_some(node);
        Self { node, path, ctx }
    }

    fn placeholder(path: Path<'a>, ctx: &'a Ctx<'a>) -> Self {
        Self {
            node: None,
            path,
            ctx,
        }
    }

    fn target(&self) -> Option<Target> {
        self.node.map(|n| Target::Node(id(n)))
    }

    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.locate(&self.path, self.target()))
    }

    /// Records that the node is not what `exp` wants and reads a placeholder instead.
    fn mismatch(self, exp: &dyn Expected) -> Self {
        if self.node.is_some() {
            self.ctx.record(type_error(&self.path, exp));
        }
        Self { node: None, ..self }
    }

    fn any<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let Some(node) = self.node else {
            return self.locate(v.visit_unit());
        };
        let r = match node {
            Node::Null => v.visit_unit(),
            Node::Bool(b) => v.visit_bool(*b),
            Node::U64(n) => v.visit_u64(*n),
            Node::I64(n) => v.visit_i64(*n),
            Node::F64(n) => v.visit_f64(*n),
            Node::String(s) => v.visit_str(s),
            Node::Array(items) => return self.seq(items, v),
            Node::Object(members) => {
                let mut map = MapAcc::new(members, &self.path, self.ctx, None);
                let r = v.visit_map(&mut map);
                map.finish(r)
            }
        };
        self.locate(r)
    }

    fn seq<'de, V: Visitor<'de>>(&self, items: &'a [Node<'a>], v: V) -> Result<V::Value, DeError> {
        let mut seq = SeqAcc {
            items: items.iter().enumerate(),
            path: &self.path,
            ctx: self.ctx,
        };
        let r = v.visit_seq(&mut seq).and_then(|value| {
            if seq.items.len() == 0 {
                Ok(value)
            } else {
                Err(de::Error::invalid_length(items.len(), &"fewer elements in array"))
            }
        });
        self.locate(r)
    }

    fn integer<'de, V: Visitor<'de>>(self, v: V, fits: fn(i128) -> bool) -> Result<V::Value, DeError> {
        let n = match self.node {
            Some(Node::U64(n)) => Some(i128::from(*n)),
            Some(Node::I64(n)) => Some(i128::from(*n)),
            _ => None,
        };
        match n {
            Some(n) if fits(n) => self.any(v),
            Some(_) => {
                let e = FieldError::new(
                    self.path.pointer(),
                    "value",
                    format!(
                        "invalid value: expected {}",
                        clamp(&(&v as &dyn Expected).to_string())
                    ),
                );
                self.ctx.record(e);
                Self { node: None, ..self }.locate(v.visit_u64(0))
            }
            None => {
                let de = self.mismatch(&v);
                de.locate(v.visit_u64(0))
            }
        }
    }
}

macro_rules! integer_hint {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            self.integer(v, |n| <$ty>::try_from(n).is_ok())
        }
    )*};
}

impl<'de, 'a> Deserializer<'de> for De<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.any(v)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            Some(Node::Bool(_)) => self.any(v),
            None => self.locate(v.visit_bool(false)),
            Some(_) => {
                let de = self.mismatch(&v);
                de.locate(v.visit_bool(false))
            }
        }
    }

    integer_hint!(deserialize_i8: i8, deserialize_i16: i16, deserialize_i32: i32, deserialize_i64: i64,
        deserialize_u8: u8, deserialize_u16: u16, deserialize_u32: u32, deserialize_u64: u64,
        deserialize_i128: i128, deserialize_u128: u128);

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            Some(Node::U64(_) | Node::I64(_) | Node::F64(_)) => self.any(v),
            None => self.locate(v.visit_f64(0.0)),
            Some(_) => {
                let de = self.mismatch(&v);
                de.locate(v.visit_f64(0.0))
            }
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            Some(Node::String(_)) => self.any(v),
            None => self.locate(v.visit_char('_')),
            Some(_) => {
                let de = self.mismatch(&v);
                de.locate(v.visit_char('_'))
            }
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            Some(Node::String(_)) => self.any(v),
            None => self.locate(v.visit_str("")),
            Some(_) => {
                let de = self.mismatch(&v);
                de.locate(v.visit_str(""))
            }
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            None => self.locate(v.visit_bytes(&[])),
            Some(_) => self.any(v),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            None | Some(Node::Null) => self.locate(v.visit_none()),
            Some(_) => {
                let (path, target) = (self.path, self.target());
                v.visit_some(self).map_err(|e| e.locate(&path, target))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            None | Some(Node::Null) => self.locate(v.visit_unit()),
            Some(_) => {
                let de = self.mismatch(&v);
                de.locate(v.visit_unit())
            }
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        let (path, target) = (self.path, self.target());
        v.visit_newtype_struct(self).map_err(|e| e.locate(&path, target))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            Some(Node::Array(items)) => self.seq(items, v),
            None => self.placeholder_seq(0, v),
            Some(_) => {
                let de = self.mismatch(&v);
                de.placeholder_seq(0, v)
            }
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DeError> {
        match self.node {
            Some(Node::Array(items)) => self.seq(items, v),
            None => self.placeholder_seq(len, v),
            Some(_) => {
                let de = self.mismatch(&v);
                de.placeholder_seq(len, v)
            }
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let members: &[(Key<'a>, Node<'a>)] = match self.node {
            Some(Node::Object(members)) => members,
            None => &[],
            Some(_) => return self.mismatch(&v).deserialize_map(v),
        };
        let mut map = MapAcc::new(members, &self.path, self.ctx, None);
        let r = v.visit_map(&mut map);
        let r = map.finish(r);
        self.locate(r)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let members: &[(Key<'a>, Node<'a>)] = match self.node {
            Some(Node::Object(members)) => members,
            None => &[],
            // An array too: the schema of a struct is an object, whatever serde's derive
            // accepts.
            Some(_) => return self.mismatch(&"an object").deserialize_struct(name, fields, v),
        };
        let key = struct_key(name, fields);
        let info = StructInfo {
            key,
            fields,
            real: self.node.is_some(),
        };
        let mut map = MapAcc::new(members, &self.path, self.ctx, Some(info));
        let r = v.visit_map(&mut map);
        let r = map.finish(r).map_err(|mut e| {
            if e.at.is_none() && matches!(e.kind, Kind::Missing(_)) {
                e = e.locate(&self.path, self.target());
                if let Some(at) = e.at.as_mut() {
                    at.strukt = Some(key);
                }
            }
            e
        });
        self.locate(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let access = match self.node {
            Some(Node::String(s)) => EnumAcc {
                variant: s,
                value: None,
                de: self,
            },
            Some(Node::Object(members)) if members.len() == 1 => {
                let (key, value) = &members[0];
                EnumAcc {
                    variant: key,
                    value: Some(value),
                    de: self,
                }
            }
            None => match variants.first() {
                Some(first) => EnumAcc {
                    variant: first,
                    value: None,
                    de: self,
                },
                None => return self.locate(Err(de::Error::custom("no variants"))),
            },
            Some(_) => {
                let de = self.mismatch(&v);
                return de.deserialize_enum(_name, variants, v);
            }
        };
        let (path, target) = (access.de.path, access.de.target());
        v.visit_enum(access).map_err(|e| e.locate(&path, target))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }
}

impl<'a> De<'a> {
    fn placeholder_seq<'de, V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DeError> {
        let mut seq = PlaceholderSeq {
            next: 0,
            len,
            path: &self.path,
            ctx: self.ctx,
        };
        let r = v.visit_seq(&mut seq);
        self.locate(r)
    }
}

struct SeqAcc<'a, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node<'a>>>,
    path: &'p Path<'a>,
    ctx: &'a Ctx<'a>,
}

impl<'de, 'a> SeqAccess<'de> for SeqAcc<'a, '_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, DeError> {
        let Some((i, item)) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.path, i);
        seed.deserialize(De::new(item, path, self.ctx)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct PlaceholderSeq<'a, 'p> {
    next: usize,
    len: usize,
    path: &'p Path<'a>,
    ctx: &'a Ctx<'a>,
}

impl<'de, 'a> SeqAccess<'de> for PlaceholderSeq<'a, '_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, DeError> {
        if self.next >= self.len {
            return Ok(None);
        }
        let path = Path::Index(self.path, self.next);
        self.next += 1;
        seed.deserialize(De::placeholder(path, self.ctx)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.next)
    }
}

#[derive(Clone, Copy)]
struct StructInfo {
    key: StructKey,
    fields: &'static [&'static str],
    /// A real object (missing fields are reported), not a placeholder.
    real: bool,
}

/// The members of an object (hidden ones skipped, unknown ones refused when the struct is
/// known to deny them), then the required fields it lacks, as placeholders.
struct MapAcc<'a, 'p> {
    members: std::slice::Iter<'a, (Key<'a>, Node<'a>)>,
    path: &'p Path<'a>,
    ctx: &'a Ctx<'a>,
    strukt: Option<StructInfo>,
    /// Required fields not in the object, synthesized after its members.
    missing: std::vec::IntoIter<&'static str>,
    /// The member whose key was read and whose value was not yet.
    pending: Option<&'a (Key<'a>, Node<'a>)>,
    /// The value to read next: a member's node or, for a synthesized field, `None`.
    value: Option<(Option<&'a Node<'a>>, &'a str)>,
}

impl<'a, 'p> MapAcc<'a, 'p> {
    fn new(
        members: &'a [(Key<'a>, Node<'a>)],
        path: &'p Path<'a>,
        ctx: &'a Ctx<'a>,
        strukt: Option<StructInfo>,
    ) -> Self {
        let mut missing = Vec::new();
        if let Some(info) = strukt
            && let Some(required) = ctx.learned.required.get(&info.key)
        {
            for name in required {
                let present = members
                    .iter()
                    .any(|m| m.0 == *name && !ctx.learned.hidden.contains(&id(m)));
                if !present {
                    if info.real {
                        let mut pointer = path.pointer();
                        push_segment(&mut pointer, name);
                        ctx.record(FieldError::new(pointer, "missing", "field required"));
                    }
                    missing.push(*name);
                }
            }
        }
        Self {
            members: members.iter(),
            path,
            ctx,
            strukt,
            missing: missing.into_iter(),
            pending: None,
            value: None,
        }
    }

    /// Locates an error the visitor raised between a key and its value (a duplicate field)
    /// at that member.
    fn finish<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| match self.pending {
            Some(member) if e.at.is_none() => {
                let path = Path::Key(self.path, &member.0);
                e.locate(&path, Some(Target::Member(id(member))))
            }
            _ => e,
        })
    }
}

impl<'de, 'a> MapAccess<'de> for MapAcc<'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        self.pending = None;
        for member in self.members.by_ref() {
            if self.ctx.learned.hidden.contains(&id(member)) {
                continue;
            }
            let key = member.0.as_ref();
            if let Some(info) = self.strukt
                && self.ctx.learned.denies_unknown.contains(&info.key)
                && !info.fields.contains(&key)
            {
                if info.real {
                    let e = DeError::new(Kind::Unknown(one_of(info.fields)));
                    let path = Path::Key(self.path, key);
                    self.ctx.record(e.locate(&path, None).to_field_error());
                }
                continue;
            }
            let path = Path::Key(self.path, key);
            let k = seed.deserialize(KeyDe { key }).map_err(|e| {
                let mut e = e.locate(&path, Some(Target::Member(id(member))));
                if let (Some(at), Kind::Unknown(_)) = (e.at.as_mut(), &e.kind) {
                    at.strukt = self.strukt.map(|s| s.key);
                }
                e
            })?;
            self.pending = Some(member);
            self.value = Some((Some(&member.1), key));
            return Ok(Some(k));
        }
        let Some(name) = self.missing.next() else {
            return Ok(None);
        };
        let k = seed.deserialize(KeyDe { key: name })?;
        self.value = Some((None, name));
        Ok(Some(k))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        self.pending = None;
        let Some((node, key)) = self.value.take() else {
            return Err(de::Error::custom("value without a key"));
        };
        let path = Path::Key(self.path, key);
        let de = match node {
            Some(node) => De::new(node, path, self.ctx),
            None => De::placeholder(path, self.ctx),
        };
        seed.deserialize(de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len() + self.missing.len())
    }
}

/// An object key: a string, or a number or boolean spelled as one (as serde_json reads keys
/// of maps such as `HashMap<u32, _>`).
struct KeyDe<'a> {
    key: &'a str,
}

macro_rules! parsed_key {
    ($($method:ident => $visit:ident: $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            match self.key.parse::<$ty>() {
                Ok(n) => v.$visit(n),
                Err(_) => Err(de::Error::invalid_type(Unexpected::Str(""), &v)),
            }
        }
    )*};
}

impl<'de, 'a> Deserializer<'de> for KeyDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_str(self.key)
    }

    parsed_key!(deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
        deserialize_i128 => visit_i128: i128, deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32, deserialize_f64 => visit_f64: f64);

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_enum(self.key.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct EnumAcc<'a> {
    variant: &'a str,
    value: Option<&'a Node<'a>>,
    de: De<'a>,
}

impl<'de, 'a> EnumAccess<'de> for EnumAcc<'a> {
    type Error = DeError;
    type Variant = VariantAcc<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, VariantAcc<'a>), DeError> {
        let v = seed.deserialize(KeyDe { key: self.variant })?;
        Ok((
            v,
            VariantAcc {
                variant: self.variant,
                value: self.value,
                de: self.de,
            },
        ))
    }
}

struct VariantAcc<'a> {
    variant: &'a str,
    value: Option<&'a Node<'a>>,
    de: De<'a>,
}

impl VariantAcc<'_> {
    /// Runs `f` on the deserializer of the variant's content: the member's value, or a
    /// placeholder when the enum itself is one. A unit variant given as a string has none.
    fn with_content<R>(
        self,
        what: &'static str,
        f: impl for<'b> FnOnce(De<'b>) -> Result<R, DeError>,
    ) -> Result<R, DeError> {
        let path = self.de.path;
        let child = Path::Key(&path, self.variant);
        match (self.de.node, self.value) {
            (None, _) => f(De::placeholder(child, self.de.ctx)),
            (Some(_), Some(node)) => f(De::new(node, child, self.de.ctx)),
            (Some(_), None) => Err(de::Error::invalid_type(Unexpected::UnitVariant, &what)),
        }
    }
}

impl<'de, 'a> VariantAccess<'de> for VariantAcc<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match (self.de.node, self.value) {
            (None, _) | (_, None | Some(Node::Null)) => Ok(()),
            (Some(_), Some(_)) => Err(de::Error::invalid_type(Unexpected::Map, &"unit variant")),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, DeError> {
        self.with_content("newtype variant", |de| seed.deserialize(de))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DeError> {
        self.with_content("tuple variant", |de| de.deserialize_tuple(len, v))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        self.with_content("struct variant", |de| de.deserialize_struct("", fields, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::HashMap;

    fn tree(json: &str) -> Node<'_> {
        serde_json::from_str(json).unwrap()
    }

    fn run<T: DeserializeOwned>(json: &str) -> (Option<T>, Vec<(String, String)>) {
        let (value, errors) = decode::<T>(&tree(json), 48);
        let errors = errors
            .into_iter()
            .map(|e| (e.pointer, e.code.into_owned()))
            .collect();
        (value, errors)
    }

    #[test]
    fn member_names_borrowed_or_unescaped_decode_alike() {
        // Plain names are borrowed from the body; escaped ones are unescaped into a copy.
        let plain = tree(r#"{"x": 1, "y": 2}"#);
        let Node::Object(members) = &plain else {
            panic!("an object")
        };
        assert!(members.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_))));
        let escaped = tree(r#"{"\u0078": 1, "y\u007a": 3, "y": 2}"#);
        let Node::Object(members) = &escaped else {
            panic!("an object")
        };
        assert_eq!(members[0].0, "x");
        assert_eq!(members[1].0, "yz");
        assert_eq!(
            run::<Point>(r#"{"\u0078": 1, "y": 2}"#),
            (
                Some(Point {
                    x: 1,
                    y: 2,
                    label: None
                }),
                vec![]
            )
        );
        let (_, errors) = run::<Point>(r#"{"x": 1, "y": 2, "y\u007a": 3}"#);
        assert_eq!(errors, errs(&[("/yz", "unknown_field")]));
    }

    fn errs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Point {
        x: i32,
        y: i32,
        label: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Shape {
        Empty,
        Circle(f64),
        Rect { w: u8, h: u8 },
        Pair(u8, u8),
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Drawing {
        points: Vec<Point>,
        shapes: Vec<Shape>,
        tags: HashMap<u16, bool>,
        #[serde(default)]
        scale: f64,
    }

    #[test]
    fn valid_input_decodes_in_one_pass_as_serde_json_would() {
        let json = r#"{"points":[{"x":1,"y":-2,"label":"a"},{"x":3,"y":4,"label":null}],
            "shapes":["Empty",{"Circle":1.5},{"Rect":{"w":2,"h":3}},{"Pair":[1,2]}],
            "tags":{"7":true}}"#;
        let (value, errors) = run::<Drawing>(json);
        assert_eq!(errors, []);
        let expected: Drawing = serde_json::from_str(json).unwrap();
        assert_eq!(value, Some(expected));
        let (v, e) = run::<serde_json::Value>(json);
        assert_eq!(e, []);
        assert_eq!(v, Some(serde_json::from_str(json).unwrap()));
    }

    #[test]
    fn structs_need_objects_at_any_depth() {
        let (value, errors) = run::<Point>("[1, 2, null]");
        assert!(value.is_some());
        assert_eq!(errors, errs(&[("", "type")]));
        let (_, errors) = run::<Drawing>(r#"{"points":[[1,2,null],{"x":1,"y":2},7],"shapes":[],"tags":{}}"#);
        assert_eq!(errors, errs(&[("/points/0", "type"), ("/points/2", "type")]));
        // Enum struct variants too.
        let (_, errors) = run::<Shape>(r#"{"Rect":[1,2]}"#);
        assert_eq!(errors, errs(&[("/Rect", "type")]));
    }

    #[test]
    fn every_kind_of_decoding_error_is_listed_in_one_answer() {
        let json = r#"{"points":[{"x":"1","y":1e3,"z":0,"w":0},{"y":5},{"x":1,"x":2,"y":300000000000}],
            "shapes":["Triangle",{"Circle":"big"},{"Rect":{"w":256}},{"Pair":[1]},{"Pair":[1,2,3]},{"Empty":1}],
            "tags":{"seven":true,"8":"yes"},"scale":"large"}"#;
        let (_, errors) = run::<Drawing>(json);
        assert_eq!(
            errors,
            errs(&[
                ("/points/0/w", "unknown_field"),
                ("/points/0/x", "type"),
                ("/points/0/y", "type"),
                ("/points/0/z", "unknown_field"),
                ("/points/1/x", "missing"),
                ("/points/2/x", "duplicate_field"),
                ("/points/2/y", "value"),
                ("/scale", "type"),
                ("/shapes/0", "enum"),
                ("/shapes/1/Circle", "type"),
                ("/shapes/2/Rect/h", "missing"),
                ("/shapes/2/Rect/w", "value"),
                ("/shapes/3/Pair", "length"),
                ("/shapes/4/Pair", "length"),
                ("/shapes/5", "type"),
                ("/tags/8", "type"),
                ("/tags/seven", "type"),
            ])
        );
    }

    #[test]
    fn details_never_carry_the_input() {
        let json = r#"{"points":[{"x":"SECRET-1","y":"SECRET-2","SECRET-3":1}],"shapes":["SECRET-4"],"tags":{"SECRET-5":true}}"#;
        let (_, errors) = decode::<Drawing>(&tree(json), 48);
        assert!(!errors.is_empty());
        for e in &errors {
            assert!(!e.detail.contains("SECRET"), "{e:?}");
        }
    }

    #[test]
    fn the_number_of_passes_is_bounded() {
        // Each unknown variant is only found by a pass of its own.
        let json = format!("[{}]", vec![r#""Nope""#; 100].join(","));
        let (value, errors) = decode::<Vec<Shape>>(&tree(&json), 5);
        assert!(value.is_none());
        assert_eq!(errors.len(), 5);
        // A `None` is fine, a wrong scalar inside `Some` is reported.
        let (_, e) = run::<Option<u8>>("null");
        assert_eq!(e, []);
        let (_, e) = run::<Option<u8>>("-1");
        assert_eq!(e, errs(&[("", "value")]));
    }

    #[test]
    fn a_refusal_inside_a_placeholder_ends_the_listing_without_inventing_errors() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Strict {
            id: std::num::NonZeroU8,
            name: String,
        }
        // The whole struct is an array: reported; its fields' placeholders (0 for a non-zero
        // type) fail, and that failure is not reported.
        let (value, errors) = run::<Strict>("[1]");
        assert!(value.is_none());
        assert_eq!(errors, errs(&[("", "type")]));
    }
}
