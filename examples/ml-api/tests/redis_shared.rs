//! `MLGUARD_REDIS_URL` shares revocations between instances: two servers over one data
//! directory and one real `redis-server`; a token revoked through one is refused by the other.
//! Without `redis-server` the test is skipped locally and FAILS when `CI` is set.

mod common;

use common::{SETOSA, client_for, settings, start_with};
use ml_api::config::Config;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn redis() -> Option<(Redis, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => Redis(c),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is required in CI: {e}"
            );
            eprintln!("skipping: redis-server not found ({e})");
            return None;
        }
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some((child, format!("redis://127.0.0.1:{port}/")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not start on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_instance_is_refused_by_the_other() {
    let Some((_redis, url)) = redis().await else {
        return;
    };
    let url_a = url.clone();
    let a = start_with(move |s| {
        s.no_tls = Some(true);
        s.redis_url = Some(url_a);
    })
    .await;
    // Instance B: same data directory (same JWT secret and users), same Redis.
    let mut s = settings(&a.data());
    s.no_tls = Some(true);
    s.redis_url = Some(url);
    let b = ml_api::run::start(Config::resolve(s, None).unwrap())
        .await
        .unwrap();
    let b_client = client_for(&b, |c| c);
    let b_url = format!("http://127.0.0.1:{}", b.addr().port());

    let v: serde_json::Value = a.login("admin", &a.admin_password).await.json().await.unwrap();
    let access = v["access_token"].as_str().unwrap().to_owned();
    let refresh = v["refresh_token"].as_str().unwrap().to_owned();
    let predict = |token: String| {
        b_client
            .post(format!("{b_url}/predict"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(SETOSA)
            .send()
    };
    assert_eq!(
        predict(access.clone()).await.unwrap().status(),
        200,
        "B accepts A's token"
    );

    // Use the refresh token twice at A: the reuse revokes the family, and its access tokens.
    for expected in [200, 400] {
        let r = a
            .client
            .post(a.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
    }
    let refused = predict(access).await.unwrap();
    assert_eq!(refused.status(), 401, "B must see A's revocation through Redis");
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");

    b.shutdown().await;
    a.stop().await;
}
