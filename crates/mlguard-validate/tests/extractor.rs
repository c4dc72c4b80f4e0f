//! Each status code and error body of `ValidatedJson`, through a real axum `Router`.

mod common;

use axum::body::Body;
use common::{IRIS, app, app_with, json_req, send};
use http::{Request, StatusCode};
use mlguard_validate::JsonConfig;
use serde_json::json;

fn problem_ct(resp: &http::Response<()>) -> &str {
    resp.headers()["content-type"].to_str().unwrap()
}

#[tokio::test]
async fn valid_request_reaches_the_handler() {
    let (status, _, body, _) = send(&app(), json_req("/predict", IRIS)).await;
    assert_eq!(status, StatusCode::OK);
    assert!((body["sum"].as_f64().unwrap() - 10.2).abs() < 1e-9);
}

#[tokio::test]
async fn json_media_types_with_parameters_are_accepted() {
    for ct in [
        "application/json; charset=utf-8",
        "application/vnd.iris+json",
        "APPLICATION/JSON",
    ] {
        let req = Request::post("/predict")
            .header("content-type", ct)
            .body(Body::from(IRIS))
            .unwrap();
        let (status, ..) = send(&app(), req).await;
        assert_eq!(status, StatusCode::OK, "{ct}");
    }
}

#[tokio::test]
async fn missing_or_wrong_content_type_is_415() {
    let cases: [Option<&str>; 6] = [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json; charset=utf-16"),
        Some("text/json"),
    ];
    for ct in cases {
        let mut b = Request::post("/predict");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        let (status, resp, body, _) = send(&app(), b.body(Body::from(IRIS)).unwrap()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(problem_ct(&resp), "application/problem+json");
        assert_eq!(body["status"], 415);
        assert!(body["detail"].as_str().unwrap().contains("application/json"));
    }
}

#[tokio::test]
async fn compressed_body_without_a_decoder_is_415() {
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from(IRIS))
        .unwrap();
    let (status, ..) = send(&app(), req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn body_over_the_limit_is_413_by_content_length() {
    let config = JsonConfig::builder().max_body_bytes(64).build().unwrap();
    let big = format!(
        r#"{{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2{}}}"#,
        " ".repeat(100)
    );
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .header("content-length", big.len())
        .body(Body::from(big))
        .unwrap();
    let (status, resp, body, _) = send(&app_with(config), req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem_ct(&resp), "application/problem+json");
    assert_eq!(body["limit"], 64);
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413_while_reading() {
    // No Content-Length: the body arrives in 16 chunks of 8 KiB (128 KiB > 64 KiB default).
    let chunks = (0..16).map(|_| Ok::<_, std::io::Error>(vec![b' '; 8 * 1024]));
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let (status, _, body, _) = send(&app(), req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["limit"], 64 * 1024);
}

#[tokio::test]
async fn lying_content_length_is_still_bounded() {
    let config = JsonConfig::builder().max_body_bytes(100).build().unwrap();
    let req = Request::post("/predict")
        .header("content-type", "application/json")
        .header("content-length", "10")
        .body(Body::from(vec![b' '; 1000]))
        .unwrap();
    let (status, ..) = send(&app_with(config), req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn body_exactly_at_the_limit_is_read() {
    let config = JsonConfig::builder().max_body_bytes(IRIS.len()).build().unwrap();
    let (status, ..) = send(&app_with(config), json_req("/predict", IRIS)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_json_is_400_with_position() {
    for bad in [
        "{",
        "{\"sepal_length\":5.1,",
        "not json",
        "",
        "{\"a\" 1}",
        "[1,]",
        r#"{"sepal_length":NaN}"#,
    ] {
        let (status, resp, body, _) = send(&app(), json_req("/predict", bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(problem_ct(&resp), "application/problem+json");
        assert!(body["line"].is_u64() && body["column"].is_u64(), "{body}");
        assert!(
            body["detail"].as_str().unwrap().starts_with("malformed JSON"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn trailing_data_is_400() {
    let (status, _, body, _) = send(&app(), json_req("/predict", format!("{IRIS} {{}}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().unwrap().contains("trailing characters"),
        "{body}"
    );
}

#[tokio::test]
async fn nesting_deeper_than_the_bound_is_400() {
    let config = JsonConfig::builder().max_depth(3).build().unwrap();
    // Depth 3 passes the scan (then fails as the wrong shape); depth 4 does not.
    let (status, ..) = send(
        &app_with(config),
        json_req("/comment", r#"{"text":"x","extra":[[1]]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body, _) = send(
        &app_with(config),
        json_req("/comment", r#"{"text":"x","extra":[[[1]]]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["limit"], 3);
    assert_eq!(body["detail"], "JSON nesting is deeper than 3");
}

#[tokio::test]
async fn array_longer_than_the_bound_is_422_with_pointer() {
    let config = JsonConfig::builder().max_array_len(3).build().unwrap();
    let (status, _, body, _) = send(
        &app_with(config),
        json_req("/comment", r#"{"text":"x","tags":[1,2,3,4]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"],
        json!([{"pointer": "/tags", "code": "max_items", "detail": "must have at most 3 items", "params": {"max": 3}}])
    );
    let (status, ..) = send(
        &app_with(config),
        json_req("/comment", r#"{"text":"x","tags":[1,2,3]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_type_is_422_with_pointer_and_no_value() {
    let req = r#"{"sepal_length":"five point one","sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}"#;
    let (status, resp, body, _) = send(&app(), json_req("/predict", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_ct(&resp), "application/problem+json");
    assert_eq!(
        body["errors"],
        json!([{"pointer": "/sepal_length", "code": "type", "detail": "invalid type: expected f64"}])
    );
    assert!(!body.to_string().contains("five point one"));
}

#[tokio::test]
async fn missing_field_is_422_naming_it() {
    let req = r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4}"#;
    let (status, _, body, _) = send(&app(), json_req("/predict", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["errors"],
        json!([{"pointer": "/petal_width", "code": "missing", "detail": "field required"}])
    );
}

#[tokio::test]
async fn unknown_field_is_422_when_the_type_denies_them() {
    let req =
        r#"{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2,"is_admin":true}"#;
    let (status, _, body, _) = send(&app(), json_req("/predict", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let err = &body["errors"][0];
    assert_eq!(err["code"], "unknown_field");
    assert_eq!(err["pointer"], "/is_admin");
    assert!(
        err["detail"].as_str().unwrap().contains("sepal_length"),
        "lists the expected fields: {err}"
    );
    // A type without `deny_unknown_fields` ignores them.
    let (status, _, body, _) = send(&app(), json_req("/lenient", r#"{"n":3,"is_admin":true}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["n"], 3);
}

#[tokio::test]
async fn validation_failure_is_422_listing_every_field() {
    let req = r#"{"sepal_length":51,"sepal_width":3.5,"petal_length":-1,"petal_width":0.2}"#;
    let (status, resp, body, _) = send(&app(), json_req("/predict", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_ct(&resp), "application/problem+json");
    assert_eq!(body["status"], 422);
    assert_eq!(body["title"], "Unprocessable Entity");
    assert_eq!(body["detail"], "2 validation error(s)");
    assert_eq!(
        body["errors"],
        json!([
            {"pointer": "/petal_length", "code": "range", "detail": "must be between 0.0 and 10.0", "params": {"min": 0.0, "max": 10.0}},
            {"pointer": "/sepal_length", "code": "range", "detail": "must be between 0.0 and 10.0", "params": {"min": 0.0, "max": 10.0}},
        ])
    );
    assert!(body.get("errors_omitted").is_none());
}

#[tokio::test]
async fn nested_validation_points_into_the_batch() {
    let row_ok = json!({"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2});
    let row_bad = json!({"sepal_length":5.1,"sepal_width":99,"petal_length":1.4,"petal_width":0.2});
    let req = json!({"instances": [row_ok, row_bad]}).to_string();
    let (status, _, body, _) = send(&app(), json_req("/batch", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["pointer"], "/instances/1/sepal_width");
    assert_eq!(body["errors"][0]["code"], "range");

    let too_many = json!({"instances": vec![row_ok.clone(); 9]}).to_string();
    let (status, _, body, _) = send(&app(), json_req("/batch", too_many)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["pointer"], "/instances");
    assert_eq!(body["errors"][0]["code"], "batch_size");
    assert_eq!(body["errors"][0]["params"], json!({"min": 1, "max": 8}));

    let (status, ..) = send(
        &app(),
        json_req("/batch", json!({"instances": vec![row_ok; 8]}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reported_errors_are_capped_and_the_rest_counted() {
    let config = JsonConfig::builder().max_reported_errors(3).build().unwrap();
    let row_bad = json!({"sepal_length":-1,"sepal_width":-1,"petal_length":-1,"petal_width":-1});
    let req = json!({"instances": vec![row_bad; 2]}).to_string();
    let (status, _, body, _) = send(&app_with(config), json_req("/batch", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"].as_array().unwrap().len(), 3);
    assert_eq!(body["errors_omitted"], 5);
    assert_eq!(body["detail"], "8 validation error(s)");
}

#[tokio::test]
async fn config_from_extensions_overrides_the_defaults() {
    // 100 bytes is fine by default and too much under a 50-byte limit.
    let (status, ..) = send(&app(), json_req("/predict", IRIS)).await;
    assert_eq!(status, StatusCode::OK);
    let config = JsonConfig::builder().max_body_bytes(50).build().unwrap();
    let (status, ..) = send(&app_with(config), json_req("/predict", IRIS)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_array_is_refused_where_the_type_is_an_object() {
    // serde's derived `Deserialize` accepts `[5.1, 3.5, 1.4, 0.2]` for a struct of four
    // fields; the schema is an object, so the extractor refuses it.
    let (status, _, body, _) = send(&app(), json_req("/predict", "[5.1, 3.5, 1.4, 0.2]")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"],
        json!([{"pointer": "", "code": "type", "detail": "invalid type: expected an object"}])
    );
    // Nested: rows of a batch given as arrays, each one named.
    let req = format!(r#"{{"instances": [[5.1, 3.5, 1.4, 0.2], {IRIS}, [1, 2, 3, 4]]}}"#);
    let (status, _, body, _) = send(&app(), json_req("/batch", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/instances/0", "/instances/2"], "{body}");
    // Arrays stay arrays where the type is a sequence.
    let v: Vec<f64> = JsonConfig::default().parse(b"[5.1, 3.5]").unwrap();
    assert_eq!(v, [5.1, 3.5]);
    let t: (u8, String) = JsonConfig::default().parse(br#"[1, "a"]"#).unwrap();
    assert_eq!(t, (1, "a".to_owned()));
}

#[tokio::test]
async fn every_missing_and_invalid_field_is_listed_at_once() {
    // Two fields missing, one out of range: all three in one answer, sorted by pointer.
    let req = r#"{"sepal_length": 50, "sepal_width": 3.5}"#;
    let (status, _, body, _) = send(&app(), json_req("/predict", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["errors"],
        json!([
            {"pointer": "/petal_length", "code": "missing", "detail": "field required"},
            {"pointer": "/petal_width", "code": "missing", "detail": "field required"},
            {"pointer": "/sepal_length", "code": "range", "detail": "must be between 0.0 and 10.0", "params": {"min": 0.0, "max": 10.0}},
        ]),
        "{body}"
    );
    assert_eq!(body["detail"], "the body does not match the expected shape");

    // Wrong types, unknown fields, duplicates and nested rows, in one body.
    let req = r#"{"instances": [
        {"sepal_length": "x", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2, "a": 1, "b": 2},
        {"sepal_length": 5.1, "sepal_width": 99, "petal_length": 1.4},
        {"sepal_length": 5.1, "sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": true}
    ], "extra": null}"#;
    let (status, _, body, _) = send(&app(), json_req("/batch", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let got: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("/extra", "unknown_field"),
        ("/instances/0/a", "unknown_field"),
        ("/instances/0/b", "unknown_field"),
        ("/instances/0/sepal_length", "type"),
        ("/instances/1/petal_width", "missing"),
        ("/instances/1/sepal_width", "range"),
        ("/instances/2/petal_width", "type"),
        ("/instances/2/sepal_length", "duplicate_field"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(got, want, "{body}");
    assert!(!body.to_string().contains("\"x\""), "no input echoed: {body}");
}

#[tokio::test]
async fn the_cap_applies_to_decoding_and_validation_errors_together() {
    let config = JsonConfig::builder().max_reported_errors(2).build().unwrap();
    let req = r#"{"sepal_length": 50, "sepal_width": 3.5}"#;
    let (status, _, body, _) = send(&app_with(config), json_req("/predict", req)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["errors_omitted"], 1, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/petal_length");
}

#[test]
fn parse_alone_lists_every_decoding_error() {
    let err = JsonConfig::default()
        .parse::<Vec<f64>>(br#"[1, "a", 2, null, "b"]"#)
        .unwrap_err();
    assert_eq!(err.status(), 422);
    let pointers: Vec<&str> = err.field_errors().iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(pointers, ["/1", "/3", "/4"]);
}
