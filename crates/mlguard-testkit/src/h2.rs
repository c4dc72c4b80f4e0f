//! A raw HTTP/2 client that opens a connection and never a stream: what an attacker does to
//! hold a connection slot while answering the server's PINGs (RFC 9113).
//!
//! [`h2_idle`] speaks just enough HTTP/2 (the preface, SETTINGS and their acknowledgement, PING
//! and its acknowledgement) to keep a connection alive for as long as the server allows, and
//! reports what it saw. A server with an idle timeout must close it anyway.
//!
//! ```no_run
//! # async fn demo(stream: tokio::net::TcpStream) {
//! use std::time::Duration;
//! let seen = mlguard_testkit::h2::h2_idle(stream, Duration::from_millis(300), Duration::from_secs(20)).await;
//! assert!(seen.closed_by_server, "still open after 20 s: {seen:?}");
//! # }
//! ```

use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Frame type SETTINGS (RFC 9113 section 6.5).
pub const SETTINGS: u8 = 0x4;
/// Frame type PING (RFC 9113 section 6.7).
pub const PING: u8 = 0x6;
/// The ACK flag of SETTINGS and PING.
pub const ACK: u8 = 0x1;
/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One frame on stream 0: the 9-byte header (length, type, flags, stream 0) and `payload`.
///
/// # Panics
/// If `payload` is longer than a frame's 24-bit length allows.
pub fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 1 << 24, "an HTTP/2 frame holds less than 16 MiB");
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX).to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

/// What one idle HTTP/2 connection saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct H2Idle {
    /// PINGs the server sent (and this client acknowledged).
    pub server_pings: usize,
    /// PINGs this client sent.
    pub client_pings: usize,
    /// How long the connection stayed open after the preface.
    pub open_for: Duration,
    /// `true` when the server closed it (or it failed); `false` when `give_up` passed first.
    pub closed_by_server: bool,
}

/// Speaks HTTP/2 on `stream` without ever opening a stream: the preface and SETTINGS, then
/// acknowledges the server's SETTINGS and PINGs and sends a PING of its own every
/// `ping_every`. Returns when the server closes the connection, or after `give_up`.
pub async fn h2_idle<S: AsyncRead + AsyncWrite>(
    stream: S,
    ping_every: Duration,
    give_up: Duration,
) -> H2Idle {
    let started = Instant::now();
    let mut seen = H2Idle::default();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let hello = [PREFACE, &frame(SETTINGS, 0, &[])].concat();
    if wr.write_all(&hello).await.is_err() {
        seen.closed_by_server = true;
        return seen;
    }
    let mut ticker = tokio::time::interval(ping_every);
    ticker.tick().await;
    let deadline = tokio::time::sleep(give_up);
    tokio::pin!(deadline);
    // `read_buf` is cancel-safe (a `select!` may drop it), `read_exact` is not.
    let mut buf = bytes::BytesMut::with_capacity(16 * 1024);
    seen.closed_by_server = loop {
        tokio::select! {
            got = rd.read_buf(&mut buf) => match got {
                Ok(0) | Err(_) => break true,
                Ok(_) => {
                    let replies = answer_frames(&mut buf, &mut seen);
                    if wr.write_all(&replies).await.is_err() {
                        break true;
                    }
                }
            },
            _ = ticker.tick() => {
                seen.client_pings += 1;
                if wr.write_all(&frame(PING, 0, &[7; 8])).await.is_err() {
                    break true;
                }
            }
            () = &mut deadline => break false,
        }
    };
    seen.open_for = started.elapsed();
    seen
}

/// Takes the complete frames off `buf` and returns the acknowledgements they call for.
fn answer_frames(buf: &mut bytes::BytesMut, seen: &mut H2Idle) -> Vec<u8> {
    let mut replies = Vec::new();
    while buf.len() >= 9 {
        let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
        if buf.len() < 9 + len {
            break;
        }
        let f = buf.split_to(9 + len);
        match (f[3], f[4]) {
            (SETTINGS, 0) => replies.extend(frame(SETTINGS, ACK, &[])),
            (PING, 0) => {
                seen.server_pings += 1;
                replies.extend(frame(PING, ACK, &f[9..]));
            }
            _ => {} // WINDOW_UPDATE, PING ACK, GOAWAY: read on until the close
        }
    }
    replies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_has_the_rfc_9113_header() {
        assert_eq!(
            frame(PING, ACK, &[1; 8]),
            [&[0, 0, 8, 6, 1, 0, 0, 0, 0][..], &[1; 8]].concat()
        );
        assert_eq!(frame(SETTINGS, 0, &[]), [0, 0, 0, 4, 0, 0, 0, 0, 0]);
        assert_eq!(&frame(0, 0, &[0; 300])[..3], &[0, 1, 44]);
    }

    #[test]
    fn settings_and_pings_are_acknowledged_split_frames_wait_for_their_rest() {
        let mut seen = H2Idle::default();
        let ping = frame(PING, 0, &[9; 8]);
        let mut buf = bytes::BytesMut::new();
        buf.extend_from_slice(&frame(SETTINGS, 0, &[0; 6]));
        buf.extend_from_slice(&frame(PING, ACK, &[7; 8])); // our own PING's ACK: no reply
        buf.extend_from_slice(&ping[..5]);
        let replies = answer_frames(&mut buf, &mut seen);
        assert_eq!(replies, frame(SETTINGS, ACK, &[]));
        assert_eq!(buf.len(), 5, "the partial PING stays in the buffer");
        buf.extend_from_slice(&ping[5..]);
        assert_eq!(answer_frames(&mut buf, &mut seen), frame(PING, ACK, &[9; 8]));
        assert_eq!(seen.server_pings, 1);
        assert!(buf.is_empty());
    }

    #[tokio::test]
    async fn a_server_that_closes_is_seen_closing_one_that_does_not_is_given_up_on() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        drop(server);
        let seen = h2_idle(client, Duration::from_millis(10), Duration::from_secs(5)).await;
        assert!(seen.closed_by_server);

        let (client, _server) = tokio::io::duplex(64 * 1024);
        let seen = h2_idle(client, Duration::from_millis(10), Duration::from_millis(100)).await;
        assert!(!seen.closed_by_server, "{seen:?}");
        assert!(seen.client_pings >= 2, "{seen:?}");
    }
}
