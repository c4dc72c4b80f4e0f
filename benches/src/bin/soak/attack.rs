//! The attackers. Each runs from the attacker's loopback address until the deadline, counts what
//! the server answered, and never stops on an error: a refused or closed connection is the
//! server defending itself, so the attacker simply tries again.

use crate::net::{Body, Target};
use crate::tally::Tally;
use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::Frame;
use std::convert::Infallible;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep, sleep_until, timeout};

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

fn empty() -> Body {
    Empty::new().map_err(|e: Infallible| match e {}).boxed()
}

/// Shared by every attacker.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) target: Target,
    pub(crate) source: IpAddr,
    pub(crate) deadline: Instant,
    pub(crate) tally: Arc<Tally>,
    pub(crate) host: String,
}

impl Ctx {
    fn over(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Opens HTTP/2 connections, sends the preface and SETTINGS, never a request, answers PINGs,
/// and holds each as long as the server lets it; reconnects when one is closed.
pub(crate) async fn h2_idle_holder(ctx: Ctx) {
    while !ctx.over() {
        match ctx.target.h2(ctx.source).await {
            Ok((send, conn)) => {
                ctx.tally.count("h2-idle", "connected");
                let opened = Instant::now();
                tokio::select! {
                    _ = conn => ctx.tally.held("h2-idle", opened.elapsed()),
                    () = sleep_until(ctx.deadline) => {}
                }
                drop(send);
            }
            Err(_) => {
                ctx.tally.count("h2-idle", "refused");
                sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Keeps HTTP/1.1 connections alive with `GET /healthz` every 5 s; reconnects when closed.
pub(crate) async fn h1_poller(ctx: Ctx) {
    while !ctx.over() {
        let Ok((mut send, conn)) = ctx.target.h1(ctx.source).await else {
            ctx.tally.count("h1-poll", "refused");
            sleep(Duration::from_millis(200)).await;
            continue;
        };
        ctx.tally.count("h1-poll", "connected");
        let opened = Instant::now();
        let driver = tokio::spawn(conn);
        while !ctx.over() {
            let req = Request::get("/healthz")
                .header(header::HOST, &ctx.host)
                .body(empty())
                .unwrap_or_else(|e| panic!("request: {e}"));
            match send.send_request(req).await {
                Ok(resp) => {
                    ctx.tally.status("h1-poll", resp.status().as_u16());
                    let _ = resp.into_body().collect().await;
                }
                Err(_) => break,
            }
            sleep(Duration::from_secs(5).min(ctx.deadline.saturating_duration_since(Instant::now()))).await;
        }
        ctx.tally.held("h1-poll", opened.elapsed());
        driver.abort();
    }
}

/// `POST /encrypt` with a valid key and a body trickled at one byte a second.
pub(crate) async fn slow_body(ctx: Ctx, api_key: String) {
    while !ctx.over() {
        let Ok((mut send, conn)) = ctx.target.h1(ctx.source).await else {
            ctx.tally.count("slow-body", "refused");
            sleep(Duration::from_millis(200)).await;
            continue;
        };
        let driver = tokio::spawn(conn);
        let body =
            br#"{"plaintext":"this body arrives one byte at a time, for as long as the server waits"}"#;
        let len = body.len();
        let trickle = futures_util::stream::unfold(0usize, move |i| async move {
            if i >= len {
                return None;
            }
            sleep(Duration::from_secs(1)).await;
            Some((
                Ok::<_, io::Error>(Frame::data(Bytes::copy_from_slice(&body[i..=i]))),
                i + 1,
            ))
        });
        let req = Request::post("/encrypt")
            .header(header::HOST, &ctx.host)
            .header("x-api-key", &api_key)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, len)
            .body(StreamBody::new(trickle).boxed())
            .unwrap_or_else(|e| panic!("request: {e}"));
        let left = ctx.deadline.saturating_duration_since(Instant::now());
        match timeout(left, send.send_request(req)).await {
            Ok(Ok(resp)) => ctx.tally.status("slow-body", resp.status().as_u16()),
            Ok(Err(_)) => ctx.tally.count("slow-body", "closed"),
            Err(_) => ctx.tally.count("slow-body", "still open at the end"),
        }
        driver.abort();
    }
}

/// Sends `make()`'s requests back to back on one HTTP/1.1 connection (reconnecting as needed)
/// and counts the statuses under `kind`. `deny` lists statuses that must never be answered.
pub(crate) async fn flood(ctx: Ctx, kind: &'static str, make: impl Fn(u64) -> Request<Body>) {
    let mut i = 0u64;
    while !ctx.over() {
        let Ok((mut send, conn)) = ctx.target.h1(ctx.source).await else {
            ctx.tally.count(kind, "refused");
            sleep(Duration::from_millis(200)).await;
            continue;
        };
        let driver = tokio::spawn(conn);
        while !ctx.over() {
            i += 1;
            let mut req = make(i);
            req.headers_mut().insert(
                header::HOST,
                ctx.host.parse().unwrap_or_else(|e| panic!("host: {e}")),
            );
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            match timeout(left + Duration::from_secs(5), send.send_request(req)).await {
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    ctx.tally.status(kind, status.as_u16());
                    let retry_after = resp.headers().contains_key(header::RETRY_AFTER);
                    if status == http::StatusCode::SERVICE_UNAVAILABLE && !retry_after {
                        ctx.tally.count(kind, "503 without Retry-After");
                    }
                    if resp.into_body().collect().await.is_err() {
                        break;
                    }
                    if status == http::StatusCode::TOO_MANY_REQUESTS
                        || status == http::StatusCode::SERVICE_UNAVAILABLE
                    {
                        // A client that is told to back off: not a hot loop on 2 cores.
                        sleep(Duration::from_millis(20)).await;
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    ctx.tally.count(kind, "closed");
                    break;
                }
            }
        }
        driver.abort();
    }
}

/// A `POST path` request with a JSON body and optional header.
pub(crate) fn post(
    path: &str,
    header: Option<(&str, &str)>,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Request<Body> {
    let mut b = Request::post(path).header(header::CONTENT_TYPE, content_type);
    if let Some((name, value)) = header {
        b = b.header(name, value);
    }
    b.body(full(body)).unwrap_or_else(|e| panic!("request: {e}"))
}
