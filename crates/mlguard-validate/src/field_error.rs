//! One entry of the `errors` list of a 422 body, built from serde or validator errors
//! without echoing input values.

use crate::pointer::push_segment;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

/// Longest `detail` string taken from a validator message or a serde "expected ..." text.
const MAX_DETAIL_CHARS: usize = 200;

/// One invalid field: where, which rule, and a message. The RFC 9457 counterpart of
/// pydantic's `loc` / `type` / `msg`.
///
/// Serialized as `{"pointer": "/sepal_length", "code": "range", "detail": "...", "params": {...}}`:
///
/// - `pointer`: a JSON Pointer (RFC 6901) into the request body; `""` is the whole body.
///   Object keys taken from the input are clamped to 64 characters.
/// - `code`: the rule; for validation failures validator's code (`range`, `length`, `email`,
///   `finite`, or your custom code); for decoding failures one of `missing`, `unknown_field`,
///   `duplicate_field`, `type`, `value`, `length`, `enum`, `invalid`; `max_items` from the
///   array bound.
/// - `detail`: a human-readable message.
/// - `params`: the rule's parameters (`min`, `max`, ...). validator's `value` parameter, which
///   holds the input, is removed: error bodies never carry input values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    /// JSON Pointer to the field.
    pub pointer: String,
    /// The rule that failed.
    pub code: Cow<'static, str>,
    /// A human-readable message.
    pub detail: String,
    /// The rule's parameters, never the input value.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

impl FieldError {
    /// A field error with no parameters.
    pub fn new(
        pointer: impl Into<String>,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            pointer: pointer.into(),
            code: code.into(),
            detail: detail.into(),
            params: Map::new(),
        }
    }

    /// Adds a rule parameter (such as `max`). Never put the input value here.
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>, value: Value) -> Self {
        self.params.insert(name.into(), value);
        self
    }
}

/// Flattens validator's nested errors into a list sorted by pointer then code.
///
/// Field names are validator's, that is the Rust field names: a field renamed with
/// `#[serde(rename = ...)]` is reported under its Rust name. Struct-level (`schema`) errors
/// point at the struct itself.
///
/// ```
/// use validator::Validate;
///
/// #[derive(Validate)]
/// struct Row {
///     #[validate(range(min = 0.0, max = 10.0))]
///     x: f64,
/// }
///
/// let errs = Row { x: 99.0 }.validate().unwrap_err();
/// let list = mlguard_validate::field_errors_from_validation(&errs);
/// assert_eq!(list[0].pointer, "/x");
/// assert_eq!(list[0].code, "range");
/// assert!(!list[0].params.contains_key("value"));
/// ```
pub fn field_errors_from_validation(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    flatten(errors, "", &mut out);
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then_with(|| a.code.cmp(&b.code)));
    out
}

fn flatten(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let mut pointer = prefix.to_owned();
        if field != "__all__" {
            push_segment(&mut pointer, field);
        }
        match kind {
            ValidationErrorsKind::Field(list) => {
                out.extend(list.iter().map(|e| from_validation_error(&pointer, e)));
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, &pointer, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    let mut item = pointer.clone();
                    push_segment(&mut item, &index.to_string());
                    flatten(inner, &item, out);
                }
            }
        }
    }
}

fn from_validation_error(pointer: &str, e: &ValidationError) -> FieldError {
    let params: Map<String, Value> = e
        .params
        .iter()
        .filter(|(k, _)| k.as_ref() != "value")
        .map(|(k, v)| (k.to_string(), clamp_value(v)))
        .collect();
    let detail = match &e.message {
        Some(m) => clamp(m),
        None => default_message(&e.code, &params),
    };
    FieldError {
        pointer: pointer.to_owned(),
        code: e.code.clone(),
        detail,
        params,
    }
}

/// Parameters are the rule's (min, max, a regex name); still, keep strings short.
fn clamp_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(clamp(s)),
        Value::Array(_) | Value::Object(_) => Value::String("…".into()),
        other => other.clone(),
    }
}

fn default_message(code: &str, params: &Map<String, Value>) -> String {
    let p = |k: &str| params.get(k).map(ToString::to_string);
    match (code, p("min"), p("max")) {
        ("range", Some(min), Some(max)) => format!("must be between {min} and {max}"),
        ("range", Some(min), None) => format!("must be at least {min}"),
        ("range", None, Some(max)) => format!("must be at most {max}"),
        ("length", Some(min), Some(max)) => format!("length must be between {min} and {max}"),
        ("length", Some(min), None) => format!("length must be at least {min}"),
        ("length", None, Some(max)) => format!("length must be at most {max}"),
        ("length", None, None) => match p("equal") {
            Some(n) => format!("length must be exactly {n}"),
            None => "invalid length".into(),
        },
        ("email", ..) => "must be an email address".into(),
        ("url", ..) => "must be a URL".into(),
        ("required", ..) => "field required".into(),
        ("finite", ..) => "must be a finite number".into(),
        (code, ..) => format!("failed the `{}` rule", clamp(code)),
    }
}

/// Cuts `s` to [`MAX_DETAIL_CHARS`] characters.
pub(crate) fn clamp(s: &str) -> String {
    match s.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}
