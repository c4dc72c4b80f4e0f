//! "axum, hyper or tonic", proved: a plain hyper service and a tonic (gRPC) service behind the
//! same authentication, permission and rate-limit layers, over real sockets. The hyper client
//! gets RFC 9457 problem bodies; a real tonic client gets `grpc-status` codes it understands
//! (PERMISSION_DENIED, RESOURCE_EXHAUSTED, with our detail as the message), not a problem body
//! it would read as UNKNOWN.
//!
//! The gRPC service uses a hand-written codec (UTF-8 strings), so no protoc and no prost.

use bytes::{Buf, BufMut, Bytes};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use mlguard::auth::apikey::{MemoryKeyStore, generate};
use mlguard::prelude::*;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tower::{Service, ServiceBuilder};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---- the gRPC side: a codec of UTF-8 strings and a unary echo service ----

#[derive(Debug, Clone, Copy, Default)]
struct StringCodec;

#[derive(Debug, Clone, Copy, Default)]
struct StringEncoder;

#[derive(Debug, Clone, Copy, Default)]
struct StringDecoder;

impl Codec for StringCodec {
    type Encode = String;
    type Decode = String;
    type Encoder = StringEncoder;
    type Decoder = StringDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        StringEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        StringDecoder
    }
}

impl Encoder for StringEncoder {
    type Item = String;
    type Error = Status;

    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for StringDecoder {
    type Item = String;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| Status::invalid_argument("not UTF-8"))
    }
}

/// What tonic's generated server code does for one unary method, by hand.
#[derive(Debug, Clone, Copy)]
struct EchoServer;

impl<B> Service<Request<B>> for EchoServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError> + Send,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        Box::pin(async move {
            let say = tower::service_fn(|req: tonic::Request<String>| async move {
                Ok::<_, Status>(tonic::Response::new(format!("echo: {}", req.into_inner())))
            });
            Ok(tonic::server::Grpc::new(StringCodec).unary(say, req).await)
        })
    }
}

// ---- the layers, as an adopter writes them ----

struct Keys {
    user: String,
    guest: String,
}

type Svc =
    tower::util::BoxCloneSyncService<Request<axum::body::Body>, Response<axum::body::Body>, Infallible>;

/// `inner` behind authentication, permission and a per-principal quota (1 a minute),
/// outermost first.
fn protect(inner: Svc) -> (Keys, Svc) {
    let store = Arc::new(MemoryKeyStore::new());
    let (user, record) = generate("user-1", ["user"]).unwrap();
    store.insert(record);
    let (guest, record) = generate("guest-1", ["guest"]).unwrap();
    store.insert(record);
    let authz = Authorizer::new(
        Policy::builder()
            .role("user", ["echo:say"])
            .role("guest", ["echo:read"])
            .build()
            .unwrap(),
    );
    let stack = ServiceBuilder::new()
        .layer(AuthLayer::new().api_key(ApiKeyAuth::new(store).realm("echo")))
        .layer(RequirePermissionLayer::try_new(&authz, "echo:say").unwrap())
        .layer(
            RateLimitLayer::builder()
                .quota("1/minute")
                .key(KeyExtractor::principal())
                .policy_name("echo")
                .build()
                .unwrap(),
        );
    let keys = Keys {
        user: user.expose_secret().to_owned(),
        guest: guest.expose_secret().to_owned(),
    };
    let svc = ServiceBuilder::new()
        .map_response(|r: Response<_>| r.map(axum::body::Body::new))
        .layer(stack)
        .service(inner);
    (keys, Svc::new(svc))
}

fn echo_server() -> Svc {
    Svc::new(
        ServiceBuilder::new()
            .map_response(|r: Response<tonic::body::Body>| r.map(axum::body::Body::new))
            .service(EchoServer),
    )
}

/// Serves `svc` (HTTP/1.1 and HTTP/2 with prior knowledge) on a loopback port, with the peer
/// address in each request, as a hyper server of one's own would.
async fn serve<S, B>(svc: S) -> SocketAddr
where
    S: Service<Request<axum::body::Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: the test makes a handful of connections.
        for _ in 0..64 {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let svc = ServiceBuilder::new()
                .map_request(move |req: Request<Incoming>| {
                    let mut req = req.map(axum::body::Body::new);
                    req.extensions_mut().insert(PeerAddr(peer));
                    req
                })
                .service(svc.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc))
                    .await;
            });
        }
    });
    addr
}

async fn grpc_say(addr: SocketAddr, api_key: Option<&str>) -> Result<String, Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = tonic::Request::new("hello".to_owned());
    if let Some(key) = api_key {
        request.metadata_mut().insert("x-api-key", key.parse().unwrap());
    }
    let path = http::uri::PathAndQuery::from_static("/test.Echo/Say");
    client
        .unary(request, path, StringCodec)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_tonic_client_gets_grpc_status_codes_from_the_layers() {
    let (keys, svc) = protect(echo_server());
    let addr = serve(svc).await;

    // Allowed: the call reaches the service.
    assert_eq!(grpc_say(addr, Some(&keys.user)).await.unwrap(), "echo: hello");

    // Authenticated but not allowed: PERMISSION_DENIED with the layer's detail.
    let denied = grpc_say(addr, Some(&keys.guest)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(denied.message(), "Not enough permissions");

    // Over the quota: RESOURCE_EXHAUSTED (an HTTP 429 would read as UNAVAILABLE to gRPC).
    let limited = grpc_say(addr, Some(&keys.user)).await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted, "{limited:?}");
    assert!(
        limited.message().starts_with("Rate limit exceeded"),
        "{limited:?}"
    );
    assert!(limited.metadata().get("retry-after").is_some(), "{limited:?}");
}

/// Auth's refusals take the gRPC shape too: without it the tonic client read the 401 problem
/// body as INTERNAL ("invalid compression flag: 123").
#[tokio::test]
async fn a_tonic_client_without_valid_credentials_gets_unauthenticated_from_auth() {
    let (_keys, svc) = protect(echo_server());
    let addr = serve(svc).await;
    let anonymous = grpc_say(addr, None).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated, "{anonymous:?}");
    assert_eq!(anonymous.message(), "Missing API key");
    let forged = grpc_say(addr, Some("mlg_forged.not-a-real-key"))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");
    assert_eq!(forged.message(), "Invalid API key");
}

#[tokio::test]
async fn a_plain_hyper_service_gets_problem_bodies_from_the_same_layers() {
    let hello = tower::service_fn(|_req: Request<axum::body::Body>| async {
        Ok::<_, Infallible>(Response::new(axum::body::Body::new(Full::new(
            Bytes::from_static(b"hello"),
        ))))
    });
    let (keys, svc) = protect(Svc::new(hello));
    let addr = serve(svc).await;
    let client = reqwest::Client::new();
    let call = |key: Option<&str>| {
        let mut req = client.post(format!("http://{addr}/echo"));
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        req.send()
    };

    let res = call(None).await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    let res = call(Some(&keys.guest)).await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(res.headers().get("grpc-status").is_none());
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["detail"], "Not enough permissions");

    let res = call(Some(&keys.user)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "hello");

    let res = call(Some(&keys.user)).await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["status"], 429);
}
