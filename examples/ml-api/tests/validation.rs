//! Request-body validation on the real server (TLS, real sockets): the documented schema of
//! `/predict` and `/predict/batch` is an object, so an array is refused, and a 422 lists every
//! invalid and missing field at once, as FastAPI clients expect.

mod common;

use common::*;

async fn post(s: &TestServer, key: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let r = s.post_json_key(path, key, body.to_owned()).await;
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let v = json(r).await;
    if status != 200 {
        assert_eq!(ct, "application/problem+json", "{v}");
    }
    (status, v)
}

fn pointers(v: &serde_json::Value) -> Vec<(String, String)> {
    v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors list: {v}"))
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn predict_refuses_a_json_array_where_the_schema_is_an_object() {
    let s = start().await;
    let key = s.api_key("model-job", "admin");
    // The object form is served.
    let (status, v) = post(&s, &key, "/predict", SETOSA).await;
    assert_eq!(status, 200, "{v}");

    // The same four numbers as an array (serde's derived structs accept a sequence).
    let (status, v) = post(&s, &key, "/predict", "[5.1, 3.5, 1.4, 0.2]").await;
    assert_eq!(status, 422, "an array is not the documented object: {v}");
    assert_eq!(pointers(&v), [(String::new(), "type".to_owned())], "{v}");
    let detail = v["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("expected an object"), "{detail}");

    // Batch rows given as arrays are refused too, each row named.
    let (status, v) = post(
        &s,
        &key,
        "/predict/batch",
        r#"{"instances": [[5.1, 3.5, 1.4, 0.2], {"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}, [6.7, 3.0, 5.8, 2.2]]}"#,
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        pointers(&v),
        [
            ("/instances/0".to_owned(), "type".to_owned()),
            ("/instances/2".to_owned(), "type".to_owned())
        ],
        "{v}"
    );
    // And a whole batch body given as an array.
    let (status, v) = post(&s, &key, "/predict/batch", "[[5.1, 3.5, 1.4, 0.2]]").await;
    assert_eq!(status, 422, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn a_422_lists_every_missing_and_invalid_field_at_once() {
    let s = start().await;
    let key = s.api_key("model-job", "admin");
    // Two fields missing, one out of range (more than 0 and at most 100 cm).
    let (status, v) = post(
        &s,
        &key,
        "/predict",
        r#"{"sepal_length": 500, "sepal_width": 3.5}"#,
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        pointers(&v),
        [
            ("/petal_length".to_owned(), "missing".to_owned()),
            ("/petal_width".to_owned(), "missing".to_owned()),
            ("/sepal_length".to_owned(), "range".to_owned()),
        ],
        "{v}"
    );
    assert!(v.get("errors_omitted").is_none(), "{v}");

    // A wrong type, an unknown field and a range error are all reported too.
    let (status, v) = post(
        &s,
        &key,
        "/predict",
        r#"{"sepal_length": "5.1", "sepal_width": -3, "petal_length": 1.4, "petal_width": 0.2, "is_admin": true}"#,
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(
        pointers(&v),
        [
            ("/is_admin".to_owned(), "unknown_field".to_owned()),
            ("/sepal_length".to_owned(), "type".to_owned()),
            ("/sepal_width".to_owned(), "range".to_owned()),
        ],
        "{v}"
    );
    assert!(!v.to_string().contains("5.1"), "no input echoed: {v}");
    s.stop().await;
}
