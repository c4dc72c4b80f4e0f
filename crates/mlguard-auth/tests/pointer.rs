//! RFC 6901 JSON Pointers: the section 5 examples as vectors, and properties of the parser.

use mlguard_auth::jwt::{JsonPointer, PointerError};
use proptest::prelude::*;
use serde_json::{Value, json};

/// RFC 6901 section 5's document.
fn rfc_document() -> Value {
    json!({
        "foo": ["bar", "baz"],
        "": 0,
        "a/b": 1,
        "c%d": 2,
        "e^f": 3,
        "g|h": 4,
        "i\\j": 5,
        "k\"l": 6,
        " ": 7,
        "m~n": 8
    })
}

#[test]
fn rfc6901_section5_vectors() {
    let doc = rfc_document();
    let vectors: [(&str, Value); 12] = [
        ("", doc.clone()),
        ("/foo", json!(["bar", "baz"])),
        ("/foo/0", json!("bar")),
        ("/", json!(0)),
        ("/a~1b", json!(1)),
        ("/c%d", json!(2)),
        ("/e^f", json!(3)),
        ("/g|h", json!(4)),
        ("/i\\j", json!(5)),
        ("/k\"l", json!(6)),
        ("/ ", json!(7)),
        ("/m~0n", json!(8)),
    ];
    for (pointer, expected) in vectors {
        let parsed = JsonPointer::parse(pointer).unwrap();
        assert_eq!(parsed.resolve(&doc), Some(&expected), "{pointer:?}");
        assert_eq!(parsed.as_str(), pointer);
        if let Value::Object(map) = &doc
            && !pointer.is_empty()
        {
            assert_eq!(parsed.resolve_in(map), Some(&expected), "{pointer:?}");
        }
    }
}

#[test]
fn identity_provider_pointers() {
    let claims = json!({
        "realm_access": {"roles": ["admin", "offline_access"]},
        "groups": ["/ml/users"],
        "https://example.com/roles": ["user"]
    });
    let at = |p: &str| JsonPointer::parse(p).unwrap().resolve(&claims).cloned();
    assert_eq!(
        at("/realm_access/roles"),
        Some(json!(["admin", "offline_access"]))
    );
    assert_eq!(at("/realm_access/roles/1"), Some(json!("offline_access")));
    assert_eq!(at("/groups"), Some(json!(["/ml/users"])));
    assert_eq!(at("/https:~1~1example.com~1roles"), Some(json!(["user"])));
    // Array indexes: no leading zeros, no `-`, no signs, nothing past the end.
    for missing in [
        "/realm_access/roles/01",
        "/realm_access/roles/-",
        "/realm_access/roles/+1",
        "/realm_access/roles/2",
        "/nope",
        "/groups/0/x",
    ] {
        assert_eq!(at(missing), None, "{missing}");
    }
}

#[test]
fn malformed_pointers_are_refused() {
    assert_eq!(JsonPointer::parse("roles"), Err(PointerError::MissingSlash));
    assert_eq!(JsonPointer::parse("#/roles"), Err(PointerError::MissingSlash));
    assert_eq!(JsonPointer::parse("/a~"), Err(PointerError::BadEscape(2)));
    assert_eq!(JsonPointer::parse("/a~2"), Err(PointerError::BadEscape(2)));
    assert_eq!(JsonPointer::parse("/ok/~x"), Err(PointerError::BadEscape(4)));
}

/// Any value, a few levels deep, with keys that need escaping.
fn arb_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec!["a", "b", "", "~", "/", "~1", "~0", "a/b", "0", "1"]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i32>().prop_map(Value::from),
        "[a-z~/]{0,4}".prop_map(Value::from)
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_and_accepts_exactly_the_grammar(s in "\\PC{0,24}|[/~01a]{0,12}") {
        let grammar = s.is_empty() || (s.starts_with('/') && {
            let b = s.as_bytes();
            b.iter().enumerate().all(|(i, c)| *c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
        });
        prop_assert_eq!(JsonPointer::parse(&s).is_ok(), grammar, "{:?}", s);
    }

    #[test]
    fn tokens_round_trip(tokens in prop::collection::vec("[a-z~/01 ]{0,6}", 0..5)) {
        let pointer = JsonPointer::from_tokens(tokens.clone());
        let parsed = JsonPointer::parse(pointer.as_str()).unwrap();
        prop_assert_eq!(parsed.tokens(), tokens.as_slice());
        prop_assert_eq!(parsed, pointer);
    }

    #[test]
    fn agrees_with_serde_json(doc in arb_value(), s in "(/(a|b|~0|~1|0|1|a~1b|~01|))*") {
        let ours = JsonPointer::parse(&s).unwrap();
        prop_assert_eq!(ours.resolve(&doc), doc.pointer(&s), "{:?}", s);
    }
}
