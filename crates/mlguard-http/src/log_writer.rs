//! Logs written off the request path (with the `subscriber` feature): a bounded, non-blocking
//! writer for `tracing-subscriber`'s `fmt` layer that counts the lines it drops.
//!
//! **What it protects against:** a request waiting on the log. With `std::io::stderr` as the
//! writer, every access-log line is a synchronous `write` system call made by the thread that
//! serves the request; a slow terminal, a full pipe or a stalled log collector then slows or
//! stops every request. [`LogWriterBuilder`] puts a bounded queue between the two:
//! tracing-appender's `non_blocking` writer in lossy mode. The request thread formats the
//! line and queues it (no system call unless the writer thread must be woken); one thread,
//! `mlguard-log`, writes the queued lines through a [`BufWriter`], flushed whenever the queue
//! runs empty, so a burst of lines costs one `write` per buffer, not one per line.
//!
//! When the queue is full (the sink cannot keep up, or is blocked), new lines are **dropped, not
//! waited for**, and counted: [`LogWriter::dropped_lines`], and the counter
//! [`LOG_LINES_DROPPED`](crate::metric_names::LOG_LINES_DROPPED)
//! (`mlguard_http_log_lines_dropped_total`) on the global `metrics` recorder, raised by the
//! write that finds new drops (so it appears after the first drop). A rising count says the
//! log sink is too slow or stuck; the requests themselves went on.
//!
//! Keep the [`LogWriterGuard`] until the program ends: dropping it (at the end of `main`, after
//! a graceful shutdown) writes out every queued line and flushes the sink, waiting at most about
//! a second for a stuck sink. Lines logged after that are lost; a process that ends with
//! `std::process::exit` skips the drop and loses what was queued.
//!
//! ```
//! use mlguard_http::log_format::{EscapedFields, JsonSafeWriter};
//! use mlguard_http::log_writer::LogWriterBuilder;
//!
//! // Text format to stderr:
//! let (writer, guard) = LogWriterBuilder::new().build(std::io::stderr())?;
//! let subscriber = tracing_subscriber::fmt()
//!     .fmt_fields(EscapedFields)
//!     .with_writer(writer)
//!     .finish();
//! # let _ = subscriber;
//! // JSON format: the escaping of `JsonSafeWriter` runs on the writer thread.
//! let (json_writer, json_guard) =
//!     LogWriterBuilder::new().buffered_lines(4096).build(JsonSafeWriter(std::io::stderr()))?;
//! let json = tracing_subscriber::fmt().json().with_writer(json_writer).finish();
//! # let _ = json;
//! // ... run the program; keep `guard` alive until the end:
//! drop((guard, json_guard));
//! # Ok::<(), mlguard_http::log_writer::LogWriterError>(())
//! ```

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::MakeWriter;

/// Lines queued before new ones are dropped, by default: 16,384 (about 3 MiB of 200-byte
/// access-log lines), seconds of logging at tens of thousands of requests per second, so only
/// a sink that is stuck or far too slow loses lines.
pub const DEFAULT_BUFFERED_LINES: usize = 16_384;

/// The name of the writer thread.
pub const THREAD_NAME: &str = "mlguard-log";

/// A refused [`LogWriterBuilder`] setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogWriterError {
    /// `buffered_lines(0)`: every line would be dropped unless the writer thread happened to
    /// be waiting.
    #[error("the log queue must hold at least one line (buffered_lines was 0)")]
    ZeroBufferedLines,
}

/// Builds a [`LogWriter`] and its [`LogWriterGuard`]; see the [module docs](self).
///
/// ```
/// use mlguard_http::log_writer::LogWriterBuilder;
/// let (writer, guard) = LogWriterBuilder::new().buffered_lines(1024).build(std::io::sink())?;
/// assert_eq!(writer.dropped_lines(), 0);
/// drop(guard);
/// # Ok::<(), mlguard_http::log_writer::LogWriterError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct LogWriterBuilder {
    buffered_lines: usize,
}

impl Default for LogWriterBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LogWriterBuilder {
    /// [`DEFAULT_BUFFERED_LINES`] lines of queue.
    pub fn new() -> Self {
        Self {
            buffered_lines: DEFAULT_BUFFERED_LINES,
        }
    }

    /// Lines queued before new ones are dropped (at least 1).
    pub fn buffered_lines(mut self, lines: usize) -> Self {
        self.buffered_lines = lines;
        self
    }

    /// Starts the writer thread, which writes to `sink` through a [`BufWriter`] (so `sink` sees
    /// whole lines, one or several per `write`).
    ///
    /// # Errors
    /// [`LogWriterError::ZeroBufferedLines`].
    ///
    /// # Panics
    /// When the operating system refuses to start a thread (tracing-appender's behaviour; it
    /// happens at start-up, never on a request).
    pub fn build<W>(self, sink: W) -> Result<(LogWriter, LogWriterGuard), LogWriterError>
    where
        W: Write + Send + 'static,
    {
        if self.buffered_lines == 0 {
            return Err(LogWriterError::ZeroBufferedLines);
        }
        let (inner, guard) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(self.buffered_lines)
            .thread_name(THREAD_NAME)
            .finish(BufWriter::new(sink));
        let dropped = inner.error_counter();
        let writer = LogWriter {
            inner,
            dropped: dropped.clone(),
            exported: Arc::new(AtomicU64::new(0)),
        };
        Ok((
            writer,
            LogWriterGuard {
                dropped,
                _guard: guard,
            },
        ))
    }
}

/// The writer side: a `MakeWriter` for `tracing-subscriber` (and an [`io::Write`]) that queues
/// each write as one line and never blocks. Cheap to clone; clones share the queue.
#[derive(Debug, Clone)]
pub struct LogWriter {
    inner: NonBlocking,
    dropped: ErrorCounter,
    /// The drop count last given to the metric.
    exported: Arc<AtomicU64>,
}

impl LogWriter {
    /// Lines dropped so far because the queue was full.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.dropped_lines() as u64
    }

    /// Raises the metric to the drop count when it grew (one relaxed load when nothing was
    /// dropped).
    fn export_drops(&self) {
        let dropped = self.dropped_lines();
        if dropped > self.exported.load(Ordering::Relaxed)
            && self.exported.fetch_max(dropped, Ordering::Relaxed) < dropped
        {
            metrics::counter!(crate::metric_names::LOG_LINES_DROPPED).absolute(dropped);
        }
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.export_drops();
        Ok(written)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // One queued message per call: `NonBlocking::write` always takes the whole buffer.
        self.write(buf).map(|_| ())
    }

    fn flush(&mut self) -> io::Result<()> {
        // The writer thread flushes when the queue runs empty; nothing to wait for here.
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Keeps the writer thread; dropping it writes out the queued lines and flushes the sink
/// (waiting at most about 1.1 s for a stuck one). Keep it until the end of `main`.
#[derive(Debug)]
#[must_use = "dropping the guard stops the log writer: keep it until the program ends"]
pub struct LogWriterGuard {
    dropped: ErrorCounter,
    _guard: WorkerGuard,
}

impl LogWriterGuard {
    /// Lines dropped so far because the queue was full.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.dropped_lines() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric_names::tests::CountingRecorder;
    use std::sync::mpsc;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    /// Whether the gate is open, and what went through it.
    type GateState = (Mutex<(bool, Vec<u8>)>, Condvar);

    /// A sink that blocks every write until released, and keeps what it was given.
    #[derive(Clone, Default)]
    struct Gate {
        state: Arc<GateState>,
    }

    impl Gate {
        fn open(&self) {
            let (lock, cv) = &*self.state;
            lock.lock().unwrap().0 = true;
            cv.notify_all();
        }
        fn text(&self) -> String {
            String::from_utf8(self.state.0.lock().unwrap().1.clone()).unwrap()
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (lock, cv) = &*self.state;
            let mut state = cv.wait_while(lock.lock().unwrap(), |s| !s.0).unwrap();
            state.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn zero_lines_is_refused() {
        assert!(matches!(
            LogWriterBuilder::new().buffered_lines(0).build(io::sink()),
            Err(LogWriterError::ZeroBufferedLines)
        ));
    }

    /// With the sink blocked, logging never waits: every event returns, the lines past the
    /// queue are dropped and counted (on the writer and on the metric), and the queued ones
    /// are written once the sink moves again.
    #[test]
    fn a_blocked_sink_never_blocks_the_logger_and_drops_are_counted() {
        const QUEUE: usize = 8;
        const EVENTS: usize = 1000;
        let gate = Gate::default();
        let (writer, guard) = LogWriterBuilder::new()
            .buffered_lines(QUEUE)
            .build(gate.clone())
            .unwrap();
        let recorder = Arc::new(CountingRecorder::default());
        let (done_tx, done_rx) = mpsc::channel();
        let logger = {
            let writer = writer.clone();
            let recorder = recorder.clone();
            std::thread::spawn(move || {
                let subscriber = tracing_subscriber::fmt()
                    .with_ansi(false)
                    .with_writer(writer)
                    .finish();
                tracing::subscriber::with_default(subscriber, || {
                    metrics::with_local_recorder(recorder.as_ref(), || {
                        for i in 0..EVENTS {
                            tracing::info!(i, "line");
                        }
                    });
                });
                let _ = done_tx.send(());
            })
        };
        // The sink is still blocked: the logger must finish anyway.
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the logging thread was blocked by the sink");
        logger.join().unwrap();
        let dropped = writer.dropped_lines();
        // The queue holds QUEUE lines and the writer thread's buffer (8 KiB, about a hundred
        // lines) the ones it took before blocking; every other line was dropped.
        assert!(
            (EVENTS / 2..=EVENTS - QUEUE).contains(&(dropped as usize)),
            "{dropped}"
        );
        assert_eq!(guard.dropped_lines(), dropped);
        assert_eq!(
            recorder.get(crate::metric_names::LOG_LINES_DROPPED),
            dropped,
            "the metric carries the drop count"
        );
        gate.open();
        drop(guard);
        let text = gate.text();
        assert_eq!(text.lines().count() as u64 + dropped, EVENTS as u64, "{text}");
        assert!(text.lines().all(|l| l.contains(" line i=")), "{text}");
    }

    /// Dropping the guard writes out every queued line, even when the sink is slow.
    #[test]
    fn dropping_the_guard_writes_every_queued_line() {
        #[derive(Clone, Default)]
        struct Slow(Arc<Mutex<Vec<u8>>>);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Slow::default();
        let (mut writer, guard) = LogWriterBuilder::new().build(sink.clone()).unwrap();
        for i in 0..500 {
            writer.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 500, "{text}");
        assert_eq!(lines[499], "line 499");
        assert_eq!(writer.dropped_lines(), 0);
    }

    /// A recorder that keeps every value given to a counter with `absolute`.
    #[derive(Default)]
    struct AbsoluteValues(Arc<Values>);

    #[derive(Default)]
    struct Values(Mutex<Vec<(String, u64)>>, Mutex<Option<String>>);

    impl metrics::CounterFn for Values {
        fn increment(&self, _: u64) {
            panic!("the drop counter is only ever set with `absolute`");
        }
        fn absolute(&self, value: u64) {
            let name = self.1.lock().unwrap().clone().unwrap_or_default();
            self.0.lock().unwrap().push((name, value));
        }
    }

    impl AbsoluteValues {
        fn values(&self) -> Vec<(String, u64)> {
            self.0.0.lock().unwrap().clone()
        }
    }

    impl metrics::Recorder for AbsoluteValues {
        fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
        fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
            *self.0.1.lock().unwrap() = Some(key.name().to_owned());
            metrics::Counter::from_arc(self.0.clone())
        }
        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }
        fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    /// The metric is set only by a write that finds new drops: every value it is given is
    /// larger than the one before, the last is the drop count, and lines written once the sink
    /// moves again (none dropped) leave it alone.
    #[test]
    fn the_metric_is_set_only_when_the_drop_count_grew() {
        const LINES: usize = 200;
        let gate = Gate::default();
        let (mut writer, guard) = LogWriterBuilder::new()
            .buffered_lines(8)
            .build(gate.clone())
            .unwrap();
        let recorder = AbsoluteValues::default();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..LINES {
                writer.write_all(format!("blocked {i}\n").as_bytes()).unwrap();
            }
        });
        let dropped = writer.dropped_lines();
        // The writer thread took the lines it found before its first flush blocked; the queue
        // holds 8 more; the rest (most of them) were dropped.
        assert!((LINES / 2..=LINES - 8).contains(&(dropped as usize)), "{dropped}");
        let values = recorder.values();
        assert!(
            values
                .iter()
                .all(|(name, _)| name == crate::metric_names::LOG_LINES_DROPPED),
            "{values:?}"
        );
        assert!(values.windows(2).all(|w| w[0].1 < w[1].1), "{values:?}");
        assert_eq!(values.last().map(|v| v.1), Some(dropped), "{values:?}");

        // The sink moves again: wait until every queued line has reached it.
        gate.open();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while gate.text().lines().count() as u64 + dropped < LINES as u64 {
            assert!(std::time::Instant::now() < deadline, "{}", gate.text());
            std::thread::sleep(Duration::from_millis(5));
        }
        metrics::with_local_recorder(&recorder, || {
            for i in 0..4 {
                writer.write_all(format!("moving {i}\n").as_bytes()).unwrap();
            }
        });
        assert_eq!(
            writer.dropped_lines(),
            dropped,
            "a line was dropped with the sink moving"
        );
        assert_eq!(
            recorder.values(),
            values,
            "lines that were not dropped set the metric"
        );
        drop(guard);
        assert!(gate.text().ends_with("moving 3\n"), "{}", gate.text());
    }
}
