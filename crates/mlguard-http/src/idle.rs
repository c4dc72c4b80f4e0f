//! [`IdleIo`] and [`CountRequests`]: close connections that carry no request.
//!
//! A connection slot is only worth its cost while it carries requests. Counting bytes cannot
//! tell: an HTTP/2 client that sends the preface and SETTINGS and then only answers the
//! server's keep-alive PINGs (or sends PINGs of its own) moves bytes forever without ever
//! asking anything, and so does any protocol chatter. So the deadlines here are driven by
//! **requests in flight**, counted per connection by [`CountRequests`] (a request is in flight
//! from the moment the service is called until its response body has ended or been dropped),
//! never by bytes:
//!
//! - **first byte:** until the first byte arrives, the connection gets `first` (the
//!   header-read timeout): a client that connects and never speaks is closed;
//! - **idle:** while no request is in flight, the connection gets `idle` from the moment the
//!   last request finished (or from the accept, if it never had one), whatever bytes move in
//!   either direction meanwhile: PINGs, SETTINGS, WINDOW_UPDATEs, a half-sent request head;
//! - **stuck request:** while requests are in flight there is no idle deadline (a slow
//!   handler is cut off by the request timeout, not mistaken for an idle client), but the
//!   oldest request in flight may last at most `request`; a client that never reads its
//!   response (and so never lets it finish) cannot hold the connection forever.
//!
//! When a deadline passes, the connection's pending read or write fails with
//! [`io::ErrorKind::TimedOut`] and hyper closes the connection.
//!
//! For HTTP/1.1 hyper's own header-read timeout also runs whenever the connection waits for a
//! request head (from the start and between keep-alive requests), so an idle HTTP/1.1
//! connection is closed by whichever of the two is shorter; the server uses the same value for
//! both (see [`crate::server`]).

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

/// The three deadlines of an [`IdleIo`]; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From the accept to the first byte read.
    pub first: Duration,
    /// With no request in flight, from the moment the last one finished (or the accept).
    pub idle: Duration,
    /// The longest a request may stay in flight.
    pub request: Duration,
}

/// Requests in flight on one connection, shared by its [`CountRequests`] service (which
/// counts) and its [`IdleIo`] (which enforces the deadlines). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Activity {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    /// Start time of each request in flight, by a growing id: the first entry is the oldest.
    in_flight: BTreeMap<u64, Instant>,
    next_id: u64,
    /// When the last request finished, or when the connection was accepted.
    idle_since: Instant,
    /// The connection task, woken when the last request finishes so the idle deadline is armed
    /// even if nothing else wakes it.
    waker: Option<Waker>,
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

impl Activity {
    /// No request in flight, idle since now.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                in_flight: BTreeMap::new(),
                next_id: 0,
                idle_since: Instant::now(),
                waker: None,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves consistent data (plain inserts and removes).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request starts; it is in flight until the returned guard is dropped.
    pub fn start(&self) -> InFlight {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.in_flight.insert(id, Instant::now());
        InFlight {
            activity: self.clone(),
            id,
        }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight.len()
    }

    /// Remembers `waker` and returns the deadline now in force.
    fn deadline(&self, waker: &Waker, accepted: Instant, seen_byte: bool, d: &Deadlines) -> Instant {
        let mut state = self.lock();
        match &mut state.waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
        if let Some((_, started)) = state.in_flight.first_key_value() {
            *started + d.request
        } else if seen_byte {
            state.idle_since + d.idle
        } else {
            accepted + d.first.min(d.idle)
        }
    }
}

/// One request in flight (see [`Activity::start`]); dropping it ends the request.
#[derive(Debug)]
pub struct InFlight {
    activity: Activity,
    id: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.activity.lock();
            state.in_flight.remove(&self.id);
            if state.in_flight.is_empty() {
                state.idle_since = Instant::now();
                state.waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

pin_project! {
    /// An I/O object whose pending reads and writes fail with `TimedOut` once a deadline of
    /// the [module docs](self) passes.
    pub struct IdleIo<T> {
        #[pin]
        inner: T,
        sleep: Pin<Box<Sleep>>,
        activity: Activity,
        deadlines: Deadlines,
        accepted: Instant,
        seen_byte: bool,
    }
}

impl<T> IdleIo<T> {
    /// Wraps a connection accepted now; `activity` must be the one its service counts with.
    pub fn new(inner: T, deadlines: Deadlines, activity: Activity) -> Self {
        let accepted = Instant::now();
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep_until(
                accepted + deadlines.first.min(deadlines.idle),
            )),
            activity,
            deadlines,
            accepted,
            seen_byte: false,
        }
    }
}

/// Called when the inner I/O is pending: arms the deadline now in force and fails once it
/// has passed.
fn poll_deadline(
    cx: &mut Context<'_>,
    sleep: &mut Pin<Box<Sleep>>,
    activity: &Activity,
    accepted: Instant,
    seen_byte: bool,
    deadlines: &Deadlines,
) -> Poll<io::Error> {
    let deadline = activity.deadline(cx.waker(), accepted, seen_byte, deadlines);
    if sleep.deadline() != deadline {
        sleep.as_mut().reset(deadline);
    }
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection idle or request stuck",
        )),
        Poll::Pending => Poll::Pending,
    }
}

impl<T: AsyncRead> AsyncRead for IdleIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        match this.inner.poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    *this.seen_byte = true;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => poll_deadline(
                cx,
                this.sleep,
                this.activity,
                *this.accepted,
                *this.seen_byte,
                this.deadlines,
            )
            .map(Err),
        }
    }
}

impl<T: AsyncWrite> AsyncWrite for IdleIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.project();
        match this.inner.poll_write(cx, data) {
            Poll::Pending => poll_deadline(
                cx,
                this.sleep,
                this.activity,
                *this.accepted,
                *this.seen_byte,
                this.deadlines,
            )
            .map(Err),
            ready => ready,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        match this.inner.poll_flush(cx) {
            Poll::Pending => poll_deadline(
                cx,
                this.sleep,
                this.activity,
                *this.accepted,
                *this.seen_byte,
                this.deadlines,
            )
            .map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        match this.inner.poll_write_vectored(cx, bufs) {
            Poll::Pending => poll_deadline(
                cx,
                this.sleep,
                this.activity,
                *this.accepted,
                *this.seen_byte,
                this.deadlines,
            )
            .map(Err),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A per-connection service wrapper counting the requests in flight into an [`Activity`]: a
/// request counts from `call` until its response body ends, or until the response future or
/// body is dropped (the client reset the stream, the connection closed).
#[derive(Debug, Clone)]
pub struct CountRequests<S> {
    inner: S,
    activity: Activity,
}

impl<S> CountRequests<S> {
    /// Counts `inner`'s requests into `activity`.
    pub fn new(inner: S, activity: Activity) -> Self {
        Self { inner, activity }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CountRequests<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<CountedBody<ResBody>>;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let in_flight = self.activity.start();
        CountedFuture {
            inner: self.inner.call(req),
            in_flight: Some(in_flight),
        }
    }
}

pin_project! {
    /// Response future of [`CountRequests`]: the request stays counted in its body.
    pub struct CountedFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F, B, E> Future for CountedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<CountedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let in_flight = this.in_flight.take();
        Poll::Ready(result.map(|response| response.map(|inner| CountedBody { inner, in_flight })))
    }
}

pin_project! {
    /// Response body of [`CountRequests`]: the request ends when the body does, or when it is
    /// dropped.
    pub struct CountedBody<B> {
        #[pin]
        inner: B,
        in_flight: Option<InFlight>,
    }
}

impl<B: Body> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if frame.is_none() {
            drop(this.in_flight.take());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const D: Deadlines = Deadlines {
        first: Duration::from_secs(1),
        idle: Duration::from_secs(5),
        request: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_speaks_is_closed_after_first() {
        let (c, _d) = tokio::io::duplex(64);
        let mut quiet = IdleIo::new(c, D, Activity::new());
        let started = Instant::now();
        let err = quiet.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), D.first);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_without_requests_do_not_keep_a_connection_open() {
        let (a, mut b) = tokio::io::duplex(64);
        let started = Instant::now();
        let mut io = IdleIo::new(a, D, Activity::new());
        // A "PING" every 0.9 s (the first before the first-byte deadline), answered every time:
        // bytes flow both ways, no request.
        let pinger = tokio::spawn(async move {
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(900)).await;
                if b.write_all(b"p").await.is_err() {
                    break;
                }
            }
        });
        let mut buf = [0u8; 8];
        let err = loop {
            match io.read(&mut buf).await {
                Ok(0) => panic!("unexpected EOF"),
                Ok(_) => {
                    let _ = io.write_all(b"a").await;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Idle since the accept: the bytes did not move the deadline.
        assert_eq!(started.elapsed(), D.idle);
        pinger.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_suspends_the_idle_deadline_and_its_end_rearms_it() {
        let (a, mut b) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut io = IdleIo::new(a, D, activity.clone());
        b.write_all(b"GET").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        let request = activity.start();
        assert_eq!(activity.in_flight(), 1);
        // The handler runs 20 s (longer than idle): the reader waits, nothing times out.
        let finisher = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(20)).await;
            drop(request);
            b
        });
        let started = Instant::now();
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Closed `idle` after the request ended, not before, and not `idle` after the bytes.
        assert_eq!(started.elapsed(), Duration::from_secs(20) + D.idle);
        assert_eq!(activity.in_flight(), 0);
        let _b = finisher.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_stuck_in_flight_is_bounded() {
        let (a, _b) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut io = IdleIo::new(a, D, activity.clone());
        let _stuck = activity.start();
        let started = Instant::now();
        let err = io.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), D.request);
    }

    #[tokio::test(start_paused = true)]
    async fn count_requests_counts_until_the_body_ends_or_is_dropped() {
        use http_body_util::{BodyExt, Full};
        let activity = Activity::new();
        let mut svc = CountRequests::new(
            tower::service_fn(|_req: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(bytes::Bytes::from_static(b"hi"))))
            }),
            activity.clone(),
        );
        let future = svc.call(Request::new(()));
        assert_eq!(activity.in_flight(), 1);
        drop(future);
        assert_eq!(activity.in_flight(), 0, "a dropped future ends the request");

        let response = svc.call(Request::new(())).await.unwrap();
        assert_eq!(activity.in_flight(), 1, "the response body is still to be sent");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hi");
        assert_eq!(activity.in_flight(), 0);

        let response = svc.call(Request::new(())).await.unwrap();
        drop(response);
        assert_eq!(activity.in_flight(), 0, "a dropped body ends the request");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_are_counted_apart_and_the_oldest_bounds_the_connection() {
        let (a, _b) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut io = IdleIo::new(a, D, activity.clone());
        let started = Instant::now();
        let oldest = activity.start();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let newer = activity.start();
        assert_eq!(activity.in_flight(), 2, "two requests, two entries");
        // The oldest ends at 20 s: the newer one (started at 10 s) now bounds the connection,
        // and no idle deadline is armed while it is in flight.
        let ender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(oldest);
        });
        let err = io.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10) + D.request);
        ender.await.unwrap();
        assert_eq!(activity.in_flight(), 1);
        drop(newer);
        assert_eq!(activity.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_the_last_request_wakes_the_task_polling_now() {
        let (a, mut b) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut io = IdleIo::new(a, D, activity.clone());
        b.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        let request = activity.start();
        // Polled once from elsewhere (another waker), then awaited by this task: the end of
        // the request must wake this task, so the idle deadline is armed at once.
        {
            let mut cx = Context::from_waker(Waker::noop());
            let mut rb = ReadBuf::new(&mut buf);
            assert!(Pin::new(&mut io).poll_read(&mut cx, &mut rb).is_pending());
        }
        let started = Instant::now();
        let ender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(request);
        });
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // Idle from the end of the request, not found only at the request deadline (30 s).
        assert_eq!(started.elapsed(), Duration::from_secs(2) + D.idle);
        ender.await.unwrap();
        drop(b);
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_read_is_not_a_first_byte() {
        // One byte each way fits: the peer's byte waits, this side's second write blocks.
        let (a, mut b) = tokio::io::duplex(1);
        let started = Instant::now();
        let mut io = IdleIo::new(a, D, Activity::new());
        b.write_all(b"x").await.unwrap();
        // A read into no room reads nothing; the first-byte deadline stays in force.
        assert_eq!(io.read(&mut []).await.unwrap(), 0);
        let err = io.write_all(b"yz").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), D.first);
    }

    async fn read_some(peer: &mut tokio::io::DuplexStream) -> Option<Vec<u8>> {
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), peer.read(&mut buf)).await {
            Ok(Ok(n)) => Some(buf[..n].to_vec()),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn writes_flushes_and_shutdown_reach_the_peer() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = IdleIo::new(tokio::io::BufWriter::new(a), D, Activity::new());
        io.write_all(b"abc").await.unwrap();
        assert_eq!(read_some(&mut b).await, None, "buffered until flushed");
        io.flush().await.unwrap();
        assert_eq!(read_some(&mut b).await.as_deref(), Some(&b"abc"[..]));

        let n = io
            .write_vectored(&[io::IoSlice::new(b"de"), io::IoSlice::new(b"f")])
            .await
            .unwrap();
        assert!(n > 0);
        io.flush().await.unwrap();
        assert_eq!(read_some(&mut b).await.as_deref(), Some(&b"def"[..n]));

        io.shutdown().await.unwrap();
        assert_eq!(
            read_some(&mut b).await.as_deref(),
            Some(&b""[..]),
            "EOF after shutdown"
        );

        // Vectored writes are offered exactly when the inner I/O offers them.
        assert!(io.is_write_vectored());
        assert!(!NotVectored.is_write_vectored());
        assert!(!IdleIo::new(NotVectored, D, Activity::new()).is_write_vectored());
    }

    /// A writer without vectored writes (the trait's default).
    struct NotVectored;

    impl AsyncWrite for NotVectored {
        fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_the_client_never_reads_is_bounded_on_every_write_path() {
        // The peer reads nothing: every write path blocks and fails at the request deadline.
        for path in ["write", "vectored", "flush"] {
            let (a, _b) = tokio::io::duplex(4);
            let activity = Activity::new();
            let mut io = IdleIo::new(tokio::io::BufWriter::with_capacity(8, a), D, activity.clone());
            let _request = activity.start();
            let started = Instant::now();
            let err = match path {
                "write" => io.write_all(&[0; 100]).await.unwrap_err(),
                "vectored" => {
                    let mut result = Ok(0);
                    for _ in 0..1000 {
                        result = io.write_vectored(&[io::IoSlice::new(&[0; 100])]).await;
                        if result.is_err() {
                            break;
                        }
                    }
                    result.expect_err("a write to a peer that reads nothing must block")
                }
                _ => {
                    io.write_all(&[0; 6]).await.unwrap();
                    io.flush().await.unwrap_err()
                }
            };
            assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{path}");
            assert_eq!(started.elapsed(), D.request, "{path}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn count_requests_passes_on_readiness_and_the_body_s_shape() {
        use http_body_util::{Empty, Full};
        let mut cx = Context::from_waker(Waker::noop());
        let mut unready = CountRequests::new(crate::readiness_tests::Unready::default(), Activity::new());
        assert!(Service::<Request<()>>::poll_ready(&mut unready, &mut cx).is_pending());
        assert_eq!(
            Service::<Request<()>>::poll_ready(&mut unready, &mut cx),
            Poll::Ready(Err("overloaded"))
        );

        let activity = Activity::new();
        let mut full = CountRequests::new(
            tower::service_fn(|_req: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(bytes::Bytes::from_static(b"hi"))))
            }),
            activity.clone(),
        );
        let body = full.call(Request::new(())).await.unwrap().into_body();
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(2));
        drop(body);
        let mut empty = CountRequests::new(
            tower::service_fn(|_req: Request<()>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Empty::<bytes::Bytes>::new()))
            }),
            activity.clone(),
        );
        let body = empty.call(Request::new(())).await.unwrap().into_body();
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert_eq!(activity.in_flight(), 1);
        drop(body);
        assert_eq!(activity.in_flight(), 0);
    }
}
