//! The quickstart driven over real HTTP: each layer answers with its status (200, 401, 403,
//! 422, 429, 413), and the edge protections are on every response.

use mlguard::auth::apikey::{MemoryKeyStore, generate};
use mlguard::prelude::Fernet;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

struct Running {
    base: String,
    user_key: String,
    guest_key: String,
    fernet_key: String,
}

async fn start() -> Running {
    let keys = Arc::new(MemoryKeyStore::new());
    let (user, record) = generate("alice", ["user"]).unwrap();
    keys.insert(record);
    let (guest, record) = generate("visitor", ["guest"]).unwrap();
    keys.insert(record);
    let fernet_key = Fernet::generate_key();
    let app = quickstart::app(keys, Fernet::new(&fernet_key).unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
    });
    Running {
        base: format!("http://{addr}"),
        user_key: user.expose_secret().to_owned(),
        guest_key: guest.expose_secret().to_owned(),
        fernet_key,
    }
}

fn iris(sepal_length: f64) -> Value {
    json!({"sepal_length": sepal_length, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
}

#[tokio::test]
async fn each_layer_answers_over_http() {
    let app = start().await;
    let client = reqwest::Client::new();
    let predict = |key: Option<&str>, body: Value| {
        let mut req = client.post(format!("{}/predict", app.base)).json(&body);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        req.send()
    };

    // Edge protections on a public route.
    let res = client.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers().contains_key("x-request-id"));
    // Paths are canonical before routing: `//health` is `/health`.
    let res = client.get(format!("{}//health", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // 401: no key, with the challenge.
    let res = predict(None, iris(5.1)).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    // 403: a key whose role does not grant `model:predict`.
    let res = predict(Some(&app.guest_key), iris(5.1)).await.unwrap();
    assert_eq!(res.status(), 403);

    // 200: the user (1 of 5 in the quota).
    let res = predict(Some(&app.user_key), iris(5.1)).await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["class"], "setosa");
    assert_eq!(v["caller"], "alice");

    // 422: out of range, the field named (2 of 5).
    let res = predict(Some(&app.user_key), iris(50.0)).await.unwrap();
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert!(v.to_string().contains("sepal_length"), "{v}");

    // 413: a body over the 64 KiB bound (3 of 5).
    let huge = json!({"sepal_length": 1.0, "pad": "x".repeat(100 * 1024)});
    let res = predict(Some(&app.user_key), huge).await.unwrap();
    assert_eq!(res.status(), 413);

    // 4 and 5 pass, the 6th is over the per-principal quota: 429 with Retry-After.
    for _ in 0..2 {
        assert_eq!(
            predict(Some(&app.user_key), iris(5.1)).await.unwrap().status(),
            200
        );
    }
    let res = predict(Some(&app.user_key), iris(5.1)).await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));

    // Fernet: the token decrypts with the same key.
    let res = client
        .post(format!("{}/encrypt", app.base))
        .header("x-api-key", &app.user_key)
        .json(&json!({"text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let token = v["token"].as_str().unwrap();
    let plain = Fernet::new(&app.fernet_key).unwrap().decrypt(token).unwrap();
    assert_eq!(plain, b"hello");
}
