//! A table of hostile inputs, each with the status it must get and what the answer must not
//! contain.

mod common;

use axum::body::Body;
use common::{app_with, send};
use http::{Request, StatusCode};
use mlguard_validate::JsonConfig;

struct Case {
    name: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    /// Substrings the response body must not contain (echoed input).
    never: Vec<String>,
}

fn iris_with(field: &str) -> Vec<u8> {
    format!(r#"{{"sepal_length":{field},"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}}"#)
        .into_bytes()
}

fn case(name: &'static str, path: &'static str, body: Vec<u8>, status: StatusCode) -> Case {
    Case {
        name,
        path,
        content_type: Some("application/json"),
        body,
        status,
        never: Vec::new(),
    }
}

fn cases() -> Vec<Case> {
    let deep_arrays = {
        let mut b = br#"{"text":"x","extra":"#.to_vec();
        b.extend(std::iter::repeat_n(b'[', 100_000));
        b.extend(std::iter::repeat_n(b']', 100_000));
        b.push(b'}');
        b
    };
    let deep_objects = "{\"a\":".repeat(100_000).into_bytes();
    let long_string = "A".repeat(500_000);
    let long_key = "K".repeat(10_000);
    vec![
        Case { never: vec!["NaN".into()], ..case("NaN as a JSON string", "/predict", iris_with(r#""NaN""#), StatusCode::UNPROCESSABLE_ENTITY) },
        Case { never: vec!["Infinity".into()], ..case("Infinity as a JSON string", "/predict", iris_with(r#""Infinity""#), StatusCode::UNPROCESSABLE_ENTITY) },
        case("bare NaN token", "/predict", iris_with("NaN"), StatusCode::BAD_REQUEST),
        case("1e309 overflows f64", "/predict", iris_with("1e309"), StatusCode::BAD_REQUEST),
        case("-1e309 overflows f64", "/predict", iris_with("-1e309"), StatusCode::BAD_REQUEST),
        case("1e-400 underflows to 0, then in range", "/predict", iris_with("1e-400"), StatusCode::OK),
        case("out of range value", "/predict", iris_with("1e300"), StatusCode::UNPROCESSABLE_ENTITY),
        Case { never: vec!["99999".into(), "e20".into()], ..case("huge integer for an i64", "/lenient", br#"{"n":99999999999999999999}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY) },
        case("100 000-deep arrays", "/comment", deep_arrays, StatusCode::BAD_REQUEST),
        case("100 000-deep objects", "/comment", deep_objects, StatusCode::BAD_REQUEST),
        case("10 MB body", "/comment", vec![b' '; 10 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE),
        Case { never: vec!["<script".into(), "alert".into()], ..case("<script> in a text field", "/comment", br#"{"text":"hi <script>alert(document.cookie)</script>"}"#.to_vec(), StatusCode::OK) },
        Case { never: vec!["onerror".into(), "<img".into()], ..case("<img onerror> in a text field", "/comment", br#"{"text":"<img src=x onerror=alert(1)>ok"}"#.to_vec(), StatusCode::OK) },
        Case { never: vec!["\\r".into(), "\\u001b".into()], ..case("CR and ESC in a text field", "/comment", br#"{"text":"a\r\nINFO forged\u001b[2J"}"#.to_vec(), StatusCode::OK) },
        Case { content_type: Some("text/html"), ..case("HTML content type", "/predict", iris_with("5.1"), StatusCode::UNSUPPORTED_MEDIA_TYPE) },
        Case { content_type: Some("application/x-www-form-urlencoded"), ..case("form content type (CSRF)", "/predict", b"sepal_length=5.1".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE) },
        Case { content_type: None, ..case("no content type", "/predict", iris_with("5.1"), StatusCode::UNSUPPORTED_MEDIA_TYPE) },
        case("truncated JSON", "/predict", br#"{"sepal_length":5.1,"sepal_wi"#.to_vec(), StatusCode::BAD_REQUEST),
        case("truncated inside a string escape", "/comment", br#"{"text":"abc\u00"#.to_vec(), StatusCode::BAD_REQUEST),
        case("invalid UTF-8", "/comment", b"{\"text\":\"\xff\xfe\"}".to_vec(), StatusCode::BAD_REQUEST),
        case("byte order mark", "/comment", b"\xef\xbb\xbf{\"text\":\"x\"}".to_vec(), StatusCode::BAD_REQUEST),
        case("unknown field", "/predict", br#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"role":"admin"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        case("duplicate field", "/predict", br#"{"sepal_length":5.1,"sepal_length":1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        Case { never: vec!["A".repeat(100)], ..case("500 kB string where a number goes", "/predict", iris_with(&format!("\"{long_string}\"")), StatusCode::UNPROCESSABLE_ENTITY) },
        Case { never: vec!["K".repeat(100)], ..case("10 000-char unknown key", "/predict", format!(r#"{{"{long_key}":1}}"#).into_bytes(), StatusCode::UNPROCESSABLE_ENTITY) },
        // serde's derive accepts a struct as the array of its fields in order; the schema is
        // an object, so the extractor refuses it whatever the values.
        case("struct as an array of its fields", "/predict", b"[5.1,3.5,1.4,0.2]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        case("batch rows as arrays", "/batch", br#"{"instances":[[5.1,3.5,1.4,0.2]]}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        case("struct as an array, out of range", "/predict", b"[51,3.5,1.4,0.2]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        case("struct as a too-short array", "/predict", b"[5.1,3.5]".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        case("null body", "/predict", b"null".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
    ]
}

#[tokio::test]
async fn hostile_inputs_get_the_right_status_and_never_echo() {
    // 1 MiB so the deep-nesting and long-string cases reach the parser; 10 MB still does not.
    let config = JsonConfig::builder().max_body_bytes(1024 * 1024).build().unwrap();
    let app = app_with(config);
    for c in cases() {
        let mut b = Request::post(c.path);
        if let Some(ct) = c.content_type {
            b = b.header("content-type", ct);
        }
        let (status, resp, body, len) = send(&app, b.body(Body::from(c.body)).unwrap()).await;
        assert_eq!(status, c.status, "{}: {body}", c.name);
        if !status.is_success() {
            assert_eq!(
                resp.headers()["content-type"],
                "application/problem+json",
                "{}",
                c.name
            );
            assert_eq!(body["status"], status.as_u16(), "{}", c.name);
        }
        assert!(len < 2048, "{}: a {len}-byte answer", c.name);
        let text = body.to_string();
        for never in &c.never {
            assert!(
                !text.contains(never.as_str()),
                "{}: echoed {never:?} in {text}",
                c.name
            );
        }
    }
}

#[tokio::test]
async fn long_unknown_key_is_clamped_in_the_pointer() {
    let config = JsonConfig::default();
    let key = "K".repeat(10_000);
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .body(Body::from(format!(r#"{{"{key}":1}}"#)))
        .unwrap();
    let (_, _, body, _) = send(&app_with(config), req).await;
    let pointer = body["errors"][0]["pointer"].as_str().unwrap();
    assert_eq!(pointer, format!("/{}…", "K".repeat(64)));
}
