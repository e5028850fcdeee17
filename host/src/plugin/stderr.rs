//! A plugin's stderr, kept per call and logged with the object and the transaction after the
//! call. Every language's runtime writes its failures there (Rust's panic message, Python's
//! traceback, JavaScript's uncaught exception), and without it a trap logs only a backtrace.
//! stdout stays a sink: a filter has no use for it, and the `log` import carries messages.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{OutputStream, StreamError};

use super::state::StoreState;

/// How much of one call's stderr is kept: its end, where a panic's message is. It bounds what
/// a plugin writing on every request adds to the log.
pub const KEPT: usize = 4096;

/// The stderr of one store's instance. The WASI context hands the guest streams writing here;
/// the store keeps a clone to take what a call wrote.
#[derive(Clone, Default)]
pub struct Stderr(Arc<Captured>);

#[derive(Default)]
struct Captured {
    /// Set by a write, cleared by `take`: all that a call which wrote nothing pays is its load.
    written: AtomicBool,
    tail: Mutex<Tail>,
}

/// The last `KEPT` bytes written, and how many before them were dropped.
#[derive(Default, Debug, PartialEq, Eq)]
struct Tail {
    bytes: Vec<u8>,
    left_out: usize,
}

impl Tail {
    fn append(&mut self, bytes: &[u8]) {
        if bytes.len() >= KEPT {
            self.left_out += self.bytes.len() + bytes.len() - KEPT;
            self.bytes.clear();
            self.bytes.extend_from_slice(&bytes[bytes.len() - KEPT..]);
            return;
        }
        let excess = (self.bytes.len() + bytes.len()).saturating_sub(KEPT);
        if excess > 0 {
            self.bytes.drain(..excess);
            self.left_out += excess;
        }
        self.bytes.extend_from_slice(bytes);
    }
}

/// What one call wrote to stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    /// The last `KEPT` bytes, as UTF-8 (invalid sequences replaced), newlines around cut.
    pub text: String,
    /// How many bytes before those were dropped.
    pub left_out: usize,
}

impl Stderr {
    fn append(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.0
            .tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .append(bytes);
        self.0.written.store(true, Ordering::Relaxed);
    }

    /// What was written since the last `take`, if anything.
    #[inline]
    pub fn take(&self) -> Option<Written> {
        if !self.0.written.load(Ordering::Relaxed) {
            return None;
        }
        self.take_written()
    }

    #[cold]
    fn take_written(&self) -> Option<Written> {
        self.0.written.store(false, Ordering::Relaxed);
        let tail = std::mem::take(&mut *self.0.tail.lock().unwrap_or_else(PoisonError::into_inner));
        let text = String::from_utf8_lossy(&tail.bytes);
        let text = text.trim_matches(['\n', '\r']);
        (!text.is_empty()).then(|| Written {
            text: text.to_owned(),
            left_out: tail.left_out,
        })
    }
}

/// Logs what the call that just ended wrote to stderr: at error level beside the failure of a
/// call that trapped, which it most likely explains, else at warn level. The text is logged
/// escaped (one line per record, whatever the plugin wrote). The record counts against the
/// object's log budget, as the failure's own record does.
#[inline]
pub fn report(state: &StoreState, trapped: bool) {
    if let Some(written) = state.stderr.take()
        && super::log_budget::admit(&state.object)
    {
        log(state, trapped, &written);
    }
}

#[cold]
fn log(state: &StoreState, trapped: bool, written: &Written) {
    let transaction = state
        .current()
        .map(|exchange| exchange.transaction_id.as_str())
        .unwrap_or("");
    let stderr = written.text.as_str();
    let left_out = written.left_out;
    // tracing fixes a record's level where it is written: one call site per level.
    macro_rules! emit {
        ($level:ident, $message:literal) => {
            super::state::object_event!(
                $level,
                &state.object,
                transaction = %transaction,
                stderr,
                left_out,
                $message
            )
        };
    }
    if trapped {
        emit!(error, "plugin wrote to stderr before it failed");
    } else {
        emit!(warn, "plugin wrote to stderr");
    }
}

impl IsTerminal for Stderr {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Stderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Always ready and never full: the immediate linker's stream operations (`wasi_streams`)
/// rely on a plugin's stdio never waiting.
#[async_trait::async_trait]
impl Pollable for Stderr {
    async fn ready(&mut self) {}
}

impl OutputStream for Stderr {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for Stderr {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn written(stderr: &Stderr) -> Option<(String, usize)> {
        stderr
            .take()
            .map(|written| (written.text, written.left_out))
    }

    #[test]
    fn nothing_written_is_nothing_to_report() {
        let stderr = Stderr::default();
        assert_eq!(written(&stderr), None);
        stderr.append(b"");
        assert_eq!(written(&stderr), None);
    }

    #[test]
    fn a_call_takes_what_it_wrote_once() {
        let mut stream = Stderr::default();
        let kept = stream.clone();
        stream
            .write(Bytes::from_static(b"panicked at src/lib.rs:1:1:\n"))
            .unwrap();
        stream.write(Bytes::from_static(b"boom\n")).unwrap();
        assert_eq!(
            written(&kept),
            Some(("panicked at src/lib.rs:1:1:\nboom".into(), 0))
        );
        assert_eq!(written(&kept), None, "the next call starts empty");
    }

    #[test]
    fn only_newlines_are_nothing_to_report() {
        let stderr = Stderr::default();
        stderr.append(b"\n\r\n");
        assert_eq!(written(&stderr), None);
        stderr.append(b"\nthread panicked\n");
        assert_eq!(written(&stderr), Some(("thread panicked".into(), 0)));
        stderr.append(b"\n");
        assert_eq!(written(&stderr), None);
        stderr.append(b"x");
        assert_eq!(
            written(&stderr),
            Some(("x".into(), 0)),
            "the flag was reset"
        );
    }

    #[test]
    fn keeps_the_end_of_a_long_output_in_small_writes() {
        let stderr = Stderr::default();
        for line in 0..1000 {
            stderr.append(format!("line {line:04}\n").as_bytes());
        }
        let (text, left_out) = written(&stderr).unwrap();
        assert_eq!(text.len() + 1, KEPT, "the end's newline is cut");
        assert_eq!(left_out, 10 * 1000 - KEPT);
        assert!(text.ends_with("line 0999"), "{text}");
    }

    #[test]
    fn keeps_the_end_of_one_large_write() {
        let stderr = Stderr::default();
        stderr.append(b"first");
        let mut large = vec![b'a'; 3 * KEPT];
        large.extend_from_slice(b"the end");
        stderr.append(&large);
        let (text, left_out) = written(&stderr).unwrap();
        assert_eq!(text.len(), KEPT);
        assert!(text.ends_with("aathe end"));
        assert_eq!(left_out, 5 + 3 * KEPT + 7 - KEPT);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let stderr = Stderr::default();
        stderr.append(b"bad \xff byte");
        assert_eq!(written(&stderr), Some(("bad \u{fffd} byte".into(), 0)));
    }

    #[test]
    fn the_async_stream_writes_to_the_same_capture() {
        let stderr = Stderr::default();
        let stream = stderr.async_stream();
        let waker = std::task::Waker::noop();
        let mut context = Context::from_waker(waker);
        let wrote = Pin::from(stream)
            .as_mut()
            .poll_write(&mut context, b"from p3");
        assert!(matches!(wrote, Poll::Ready(Ok(7))));
        assert_eq!(written(&stderr), Some(("from p3".into(), 0)));
    }
}
