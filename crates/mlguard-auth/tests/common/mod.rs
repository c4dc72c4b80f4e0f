//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::type_complexity)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mlguard_core::Principal;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

pub const RSA_PRIVATE: &[u8] = include_bytes!("../data/rsa_private.pem");
pub const RSA_PUBLIC: &[u8] = include_bytes!("../data/rsa_public.pem");
pub const RSA2_PRIVATE: &[u8] = include_bytes!("../data/rsa2_private.pem");
pub const EC_PRIVATE: &[u8] = include_bytes!("../data/ec_private.pem");
pub const EC_PUBLIC: &[u8] = include_bytes!("../data/ec_public.pem");
pub const ED_PRIVATE: &[u8] = include_bytes!("../data/ed_private.pem");
pub const ED_PUBLIC: &[u8] = include_bytes!("../data/ed_public.pem");

pub fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Signs `header.claims` with `key` under `alg`, whatever the header says.
pub fn sign(
    header: &Value,
    claims: &Value,
    key: &jsonwebtoken::EncodingKey,
    alg: jsonwebtoken::Algorithm,
) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{sig}")
}

pub fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    sign(
        header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
        jsonwebtoken::Algorithm::HS256,
    )
}

/// What the inner service saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub principal: Option<Principal>,
    pub authorization: bool,
    pub api_key: bool,
}

/// An inner service that records what reached it and answers 200.
pub fn recorder() -> (
    Arc<Mutex<Seen>>,
    impl tower::Service<Request<()>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send> + Clone,
) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let svc = tower::service_fn(move |req: Request<()>| {
        let s = s.clone();
        async move {
            *s.lock().unwrap() = Seen {
                principal: req.extensions().get::<Principal>().cloned(),
                authorization: req.headers().contains_key("authorization"),
                api_key: req.headers().contains_key("x-api-key"),
            };
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }
    });
    (seen, svc)
}

pub async fn body_string<B>(response: Response<B>) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}
