//! [`IdleIo`]: closes connections that go quiet.
//!
//! hyper's header-read timeout starts with the first byte of a request head, so a client that
//! connects and sends nothing (or sits idle on a kept-alive connection) would hold a connection
//! slot forever. This wrapper fails the connection's reads when no byte has moved in either
//! direction for a while: `first` until the first byte arrives (the header-read timeout), then
//! `idle` between requests (longer than the request timeout, so a slow handler, which is cut
//! off by the request timeout first, is never mistaken for an idle client).

use pin_project_lite::pin_project;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};

pin_project! {
    /// An I/O object whose reads fail with `TimedOut` after a quiet period; see the
    /// [module docs](self).
    pub struct IdleIo<T> {
        #[pin]
        inner: T,
        deadline: Pin<Box<Sleep>>,
        idle: Duration,
    }
}

impl<T> IdleIo<T> {
    /// Wraps `inner`: `first` to the first byte, then `idle` between bytes.
    pub fn new(inner: T, first: Duration, idle: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(sleep(first)),
            idle,
        }
    }
}

impl<T: AsyncRead> AsyncRead for IdleIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        match this.inner.poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.deadline.as_mut().reset(Instant::now() + *this.idle);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle")))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite> AsyncWrite for IdleIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.project();
        let result = this.inner.poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &result
            && *n > 0
        {
            this.deadline.as_mut().reset(Instant::now() + *this.idle);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
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
        let result = this.inner.poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &result
            && *n > 0
        {
            this.deadline.as_mut().reset(Instant::now() + *this.idle);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn silent_peer_times_out_and_traffic_keeps_it_alive() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut io = IdleIo::new(a, Duration::from_secs(1), Duration::from_secs(5));
        let mut buf = [0u8; 8];
        b.write_all(b"hi").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 2);
        // Idle budget is now 5 s: a byte after 4 s still arrives.
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            b.write_all(b"x").await.unwrap();
            b
        });
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        let _b = writer.await.unwrap();
        let err = io.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);

        let (c, _d) = tokio::io::duplex(64);
        let mut quiet = IdleIo::new(c, Duration::from_secs(1), Duration::from_secs(60));
        let started = Instant::now();
        assert!(quiet.read(&mut buf).await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
