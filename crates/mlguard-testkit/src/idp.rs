//! A Keycloak-shaped identity provider for tests of tokens from a real IdP: its published key
//! set (JWKS) served over real HTTP or HTTPS on 127.0.0.1, swappable at run time, and the test
//! keys that sign its tokens.
//!
//! The keys are mlguard-auth's test keys (`crates/mlguard-auth/tests/data`, where their README
//! says how they were made): `rsa-remote` (RS256), `ec-remote` (ES256) and, for rotation,
//! `rsa2-remote`. Never use them anywhere else.
//!
//! ```no_run
//! # async fn demo() {
//! use mlguard_testkit::idp::{JwksProvider, jwk};
//! let idp = JwksProvider::start(None).await;
//! let url = idp.certs_url(); // http://127.0.0.1:PORT/realms/ml/protocol/openid-connect/certs
//! idp.publish(&[jwk("ec-remote")]); // the RSA key withdrawn
//! assert_eq!(idp.hits(), 0);
//! # drop(url);
//! # }
//! ```

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// Every public test key as a JWK set: `rsa-remote`, `ec-remote`, an Ed25519 key, an `oct`
/// key and a `use: enc` key (the last two must be refused by a verifier).
pub const JWKS: &str = include_str!("../../mlguard-auth/tests/data/jwks.json");
/// The public half of the rotation key, kid `rsa2-remote`.
pub const RSA2_JWK: &str = include_str!("../../mlguard-auth/tests/data/rsa2_jwk.json");
/// The private key of `rsa-remote` (PEM).
pub const RSA_PRIVATE: &[u8] = include_bytes!("../../mlguard-auth/tests/data/rsa_private.pem");
/// The private key of `rsa2-remote` (PEM).
pub const RSA2_PRIVATE: &[u8] = include_bytes!("../../mlguard-auth/tests/data/rsa2_private.pem");
/// The private key of `ec-remote` (PEM, P-256).
pub const EC_PRIVATE: &[u8] = include_bytes!("../../mlguard-auth/tests/data/ec_private.pem");
/// The realm's path under the provider's address: the issuer is `<scheme>://<addr>` + this.
pub const REALM_PATH: &str = "/realms/ml";
/// Where Keycloak publishes a realm's keys, under the issuer.
pub const CERTS_PATH: &str = "/protocol/openid-connect/certs";

/// The JWK with `kid` from [`JWKS`], or `rsa2-remote` from [`RSA2_JWK`].
///
/// # Panics
/// For a `kid` the test data does not have.
pub fn jwk(kid: &str) -> Value {
    let rotated: Value = serde_json::from_str(RSA2_JWK).unwrap_or(Value::Null);
    if rotated["kid"] == kid {
        return rotated;
    }
    let all: Value = serde_json::from_str(JWKS).unwrap_or(Value::Null);
    all["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .cloned()
        .unwrap_or_else(|| panic!("no test JWK with kid {kid:?}"))
}

/// The claims of a Keycloak access token issued at `now` (Unix seconds) for five minutes, by
/// `issuer` for `audience`, with realm roles `roles` under `realm_access.roles` and the rest of
/// what Keycloak puts there (`azp`, `scope`, `preferred_username`, a client role).
///
/// ```
/// let c = mlguard_testkit::idp::keycloak_claims("https://idp/realms/ml", "ml-api", &["admin"], 1_700_000_000, "t-1");
/// assert_eq!(c["realm_access"]["roles"][0], "admin");
/// assert_eq!(c["exp"], 1_700_000_300);
/// ```
pub fn keycloak_claims(issuer: &str, audience: &str, roles: &[&str], now: u64, jti: &str) -> Value {
    json!({
        "exp": now + 300,
        "iat": now,
        "jti": jti,
        "iss": issuer,
        "aud": audience,
        "sub": "f3b1c2d4-0000-4000-8000-000000000001",
        "typ": "Bearer",
        "azp": "ml-client",
        "scope": "openid profile email",
        "preferred_username": "alice",
        "email_verified": true,
        "realm_access": {"roles": roles},
        "resource_access": {"account": {"roles": ["manage-account"]}}
    })
}

/// A running JWKS endpoint, publishing `rsa-remote` and `ec-remote` until told otherwise.
/// Its tasks end with the test's runtime.
#[derive(Clone, Debug)]
pub struct JwksProvider {
    issuer: String,
    jwks: Arc<RwLock<String>>,
    hits: Arc<AtomicUsize>,
}

impl JwksProvider {
    /// Serves the key set on a free port of 127.0.0.1, over HTTPS with `tls`, else plain HTTP.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local address: {e}"));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let provider = Self {
            issuer: format!("{scheme}://{addr}{REALM_PATH}"),
            jwks: Arc::new(RwLock::new(String::new())),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        provider.publish(&[jwk("rsa-remote"), jwk("ec-remote")]);
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let state = provider.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let state = state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        // A failed handshake serves nothing (and counts no hit).
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                state.serve_connection(tls).await;
                            }
                        }
                        None => state.serve_connection(tcp).await,
                    }
                });
            }
        });
        provider
    }

    async fn serve_connection<I>(&self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let certs = format!("{REALM_PATH}{CERTS_PATH}");
        let state = self.clone();
        let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
            let found = req.uri().path() == certs;
            if found {
                state.hits.fetch_add(1, Ordering::SeqCst);
            }
            let body = if found { state.published() } else { String::new() };
            async move {
                let status = if found { 200 } else { 404 };
                let response = http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap_or_default();
                Ok::<_, Infallible>(response)
            }
        });
        // HTTP/1.1 or HTTP/2, whichever the client speaks (over TLS, what ALPN chose).
        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(io), service)
            .await;
    }

    /// Replaces the published key set with `keys` (`{"keys": [...]}`).
    pub fn publish(&self, keys: &[Value]) {
        let set = json!({ "keys": keys }).to_string();
        *self.jwks.write().unwrap_or_else(|e| e.into_inner()) = set;
    }

    /// The key set as served now.
    pub fn published(&self) -> String {
        self.jwks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The issuer (`iss`) of the provider's tokens: `<scheme>://127.0.0.1:PORT/realms/ml`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS URL: the issuer followed by [`CERTS_PATH`].
    pub fn certs_url(&self) -> String {
        format!("{}{CERTS_PATH}", self.issuer)
    }

    /// How many times the key set was fetched.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(url_path: &str, addr: &str) -> String {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!("GET {url_path} HTTP/1.1\r\nhost: idp\r\nconnection: close\r\n\r\n");
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut got = String::new();
        tcp.read_to_string(&mut got).await.unwrap();
        got
    }

    #[tokio::test]
    async fn the_certs_path_serves_what_was_published_and_counts_fetches() {
        let idp = JwksProvider::start(None).await;
        let addr = idp
            .issuer()
            .trim_start_matches("http://")
            .trim_end_matches(REALM_PATH)
            .to_owned();
        let path = idp.certs_url().replace(&format!("http://{addr}"), "");
        let got = get(&path, &addr).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        assert!(
            got.contains("\"rsa-remote\"") && got.contains("\"ec-remote\""),
            "{got}"
        );
        assert_eq!(idp.hits(), 1);

        idp.publish(&[jwk("rsa2-remote")]);
        let got = get(&path, &addr).await;
        assert!(
            got.contains("\"rsa2-remote\"") && !got.contains("\"rsa-remote\""),
            "{got}"
        );
        assert_eq!(idp.hits(), 2);

        let got = get("/elsewhere", &addr).await;
        assert!(got.starts_with("HTTP/1.1 404"), "{got}");
        assert_eq!(idp.hits(), 2, "only the key set counts");
    }

    #[test]
    #[should_panic(expected = "no test JWK")]
    fn an_unknown_kid_is_a_broken_fixture() {
        let _ = jwk("nope");
    }
}
