//! Request ids: each request gets an `x-request-id` (a UUID v4, or a well-formed one the client
//! sent), echoed on the response and written into the access log.
//!
//! A client-sent id is kept only when it is 1 to 64 characters of `[A-Za-z0-9._-]`
//! ([`is_acceptable`]); anything else (line breaks, escapes, megabytes) is dropped and replaced,
//! so an id can neither forge log lines nor grow them without bound. [`RequestIdLayer`] is
//! tower-http's `SetRequestIdLayer` and `PropagateRequestIdLayer` behind that check.
//!
//! # What a generated id is, and is not
//! [`MakeUuid`] draws the 122 random bits of each UUID v4 from a ChaCha12 generator per thread
//! (`rand_chacha`), seeded once from the operating system (`getrandom`) the first time the
//! thread makes an id: no system call per id. Ids are unique for any practical purpose (each
//! thread's stream comes from its own 256-bit seed; the chance that any two of the first 10^14
//! ids collide is below one in a billion) and cannot be predicted from earlier ids without
//! breaking ChaCha. They are **not secrets**: every response and log line shows them.
//! Never use one as a session id, a token, a nonce or anything whose value grants something.
//! A thread whose seeding fails (no OS randomness) makes no id for that request (the request
//! goes on without one) and tries again on the next.

use http::HeaderName;
use http::Request;
use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use std::cell::RefCell;
use std::task::{Context, Poll};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestId, PropagateRequestIdLayer, RequestId, SetRequestId, SetRequestIdLayer,
};
use tower_layer::Layer;
use tower_service::Service;

/// The header name.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

thread_local! {
    /// This thread's id generator, seeded on first use.
    static GENERATOR: RefCell<Option<ChaCha12Rng>> = const { RefCell::new(None) };
}

/// 16 random bytes from this thread's generator (seeding it first if needed); `None` when the
/// operating system gives no randomness to seed it.
fn random_16() -> Option<[u8; 16]> {
    GENERATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).ok()?;
            *slot = Some(ChaCha12Rng::from_seed(seed));
        }
        let mut bytes = [0u8; 16];
        slot.as_mut()?.fill_bytes(&mut bytes);
        Some(bytes)
    })
}

/// `bytes` as a UUID v4 (version and variant bits set) in its 36-character hyphenated form.
fn uuid_v4(mut bytes: [u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = [b'-'; 36];
    let mut i = 0;
    for (n, byte) in bytes.iter().enumerate() {
        if matches!(n, 4 | 6 | 8 | 10) {
            i += 1; // the hyphen already there
        }
        out[i] = HEX[usize::from(byte >> 4)];
        out[i + 1] = HEX[usize::from(byte & 0x0f)];
        i += 2;
    }
    out
}

/// Makes UUID v4 request ids from a per-thread generator seeded once; see the
/// [module docs](self) for what they are and are not.
///
/// ```
/// use mlguard_http::request_id::MakeUuid;
/// use tower_http::request_id::MakeRequestId;
/// let id = MakeUuid.make_request_id(&http::Request::new(())).expect("OS randomness");
/// assert_eq!(id.header_value().len(), 36);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuid;

impl MakeRequestId for MakeUuid {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<RequestId> {
        let id = uuid_v4(random_16()?);
        // One allocation, shared by every clone (the request, its extensions, the response,
        // the access log); `from_bytes` would copy it and allocate again on the first clone.
        http::HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(id))
            .ok()
            .map(RequestId::new)
    }
}

/// Whether a client-sent id is kept: 1 to 64 characters of `[A-Za-z0-9._-]` (no log injection,
/// no unbounded log fields).
pub fn is_acceptable(value: &http::HeaderValue) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Drops a malformed client-sent `x-request-id` so [`set_layer`] makes a fresh one.
pub fn drop_malformed<B>(mut req: http::Request<B>) -> http::Request<B> {
    if req
        .headers()
        .get(&X_REQUEST_ID)
        .is_some_and(|v| !is_acceptable(v))
    {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    req
}

/// Sets `x-request-id` on requests that have none.
pub fn set_layer() -> SetRequestIdLayer<MakeUuid> {
    SetRequestIdLayer::new(X_REQUEST_ID, MakeUuid)
}

/// Copies the request's `x-request-id` to the response.
pub fn propagate_layer() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(X_REQUEST_ID)
}

/// Drops a malformed inbound id, sets one where missing, copies it to the response; see the
/// [module docs](self).
///
/// ```
/// use mlguard_http::request_id::RequestIdLayer;
/// use tower::ServiceBuilder;
/// let stack = ServiceBuilder::new().layer(RequestIdLayer::new());
/// # let _ = stack;
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct RequestIdLayer;

impl RequestIdLayer {
    /// The layer, with UUID v4 ids in `x-request-id`.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = DropMalformed<SetRequestId<PropagateRequestId<S>, MakeUuid>>;

    fn layer(&self, inner: S) -> Self::Service {
        DropMalformed {
            inner: set_layer().layer(propagate_layer().layer(inner)),
        }
    }
}

/// The outer service of [`RequestIdLayer`]: removes a malformed inbound `x-request-id`.
#[derive(Debug, Clone)]
pub struct DropMalformed<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for DropMalformed<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.inner.call(drop_malformed(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuid_v4_and_client_ids_are_checked() {
        let id = MakeUuid.make_request_id(&http::Request::new(())).unwrap();
        let s = id.header_value().to_str().unwrap().to_owned();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(is_acceptable(id.header_value()));
        assert!(!is_acceptable(&http::HeaderValue::from_static("a b")));
        assert!(!is_acceptable(
            &http::HeaderValue::from_str(&"a".repeat(65)).unwrap()
        ));
        let req = http::Request::builder()
            .header("x-request-id", "x\ty")
            .body(())
            .unwrap();
        assert!(drop_malformed(req).headers().get("x-request-id").is_none());
    }

    #[test]
    fn uuid_layout_matches_the_bytes() {
        let id = uuid_v4([0xff; 16]);
        assert_eq!(&id, b"ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = uuid_v4([0; 16]);
        assert_eq!(&id, b"00000000-0000-4000-8000-000000000000");
        let bytes: [u8; 16] = std::array::from_fn(|i| i as u8 * 17);
        let id = uuid_v4(bytes);
        assert_eq!(&id, b"00112233-4455-4677-8899-aabbccddeeff");
    }

    /// Ids from many threads at once are all distinct, well-formed UUID v4s.
    #[test]
    fn ids_are_unique_across_threads() {
        const THREADS: usize = 8;
        const PER_THREAD: usize = 20_000;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..PER_THREAD)
                        .map(|_| {
                            let id = MakeUuid.make_request_id(&http::Request::new(())).unwrap();
                            id.header_value().to_str().unwrap().to_owned()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for handle in handles {
            for id in handle.join().unwrap() {
                let b = id.as_bytes();
                assert_eq!(b.len(), 36, "{id}");
                assert_eq!(b[14], b'4', "{id}");
                assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{id}");
                assert!(
                    b.iter()
                        .enumerate()
                        .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) {
                            *c == b'-'
                        } else {
                            c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
                        }),
                    "{id}"
                );
                assert!(all.insert(id.clone()), "duplicate id {id}");
            }
        }
        assert_eq!(all.len(), THREADS * PER_THREAD);
        // Random, not a counter or a constant pattern: half of the random hex digits' bits are 1.
        let (mut ones, mut bits) = (0u64, 0u64);
        for id in &all {
            for (i, c) in id.bytes().enumerate() {
                if matches!(i, 8 | 13 | 14 | 18 | 19 | 23) {
                    continue; // hyphens, the version digit, the variant digit
                }
                let v = char::from(c).to_digit(16).unwrap();
                ones += u64::from(v.count_ones());
                bits += 4;
            }
        }
        let share = ones as f64 / bits as f64;
        assert!((0.495..0.505).contains(&share), "{share}");
    }

    #[tokio::test]
    async fn the_layer_keeps_good_ids_replaces_bad_ones_and_echoes_them() {
        use tower::{ServiceBuilder, ServiceExt};
        let svc = ServiceBuilder::new().layer(RequestIdLayer::new()).service_fn(
            |req: http::Request<()>| async move {
                let seen = req.headers().get(&X_REQUEST_ID).cloned();
                let mut r = http::Response::new(());
                r.extensions_mut().insert(seen);
                Ok::<_, std::convert::Infallible>(r)
            },
        );
        let good = http::Request::builder()
            .header("x-request-id", "abc-1")
            .body(())
            .unwrap();
        let r = svc.clone().oneshot(good).await.unwrap();
        assert_eq!(r.headers()["x-request-id"], "abc-1");
        let bad = http::Request::builder()
            .header("x-request-id", "a b")
            .body(())
            .unwrap();
        let r = svc.oneshot(bad).await.unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36, "a fresh UUID, not the client's value: {id}");
        let seen = r
            .extensions()
            .get::<Option<http::HeaderValue>>()
            .unwrap()
            .clone()
            .unwrap();
        assert_eq!(seen, id, "the service saw the id the response carries");
    }
}
