//! Write coalescing for HTTP/2 connections.
//!
//! Each HTTP/2 stream is a task of its own that queues its response on the connection, and
//! the connection's task writes out what is queued each time it runs. The h2 crate's encoder
//! holds one DATA payload of more than 256 bytes at a time and flushes the transport before
//! it takes the next, so a connection made one system call, and sent one TCP segment, per
//! response: on the h2c load test (8 connections of 4 streams) two `writev` per request,
//! where HAProxy's multiplexer sends the responses of several streams at once.
//!
//! [`CoalescedWrites`] copies what the connection writes into a buffer of its own and, at the
//! first flush of a round, sends nothing: it has the task woken once the runtime has run
//! every other ready task and polled its I/O driver (tokio's deferred wake, as
//! [`tokio::task::yield_now`] uses), and sends the buffer at the next flush. Responses of
//! streams whose upstream answered meanwhile leave in the same write. On an idle gateway
//! nothing else is ready, and the write waits for one non-blocking poll of the driver.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Once this much is buffered, writes go out without waiting for the round to end: a
/// connection that streams a large body gains nothing from waiting, and the buffer stays
/// small.
const BUFFER_LIMIT: usize = 64 * 1024;

/// The buffer's first allocation of a round: a few responses' frames. The buffer is given
/// back once sent, so that an idle connection holds none.
const ROUND_CAPACITY: usize = 4 * 1024;

/// A transport whose writes wait for the end of the scheduler's round (see the module's
/// comment).
pub struct CoalescedWrites<T> {
    inner: T,
    buffer: Vec<u8>,
    /// How much of `buffer` has been written to `inner`.
    written: usize,
    state: FlushState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlushState {
    /// The next flush ends the round: it defers the task's wake-up and sends nothing.
    Collecting,
    /// The task's wake-up is deferred; the next flush sends the buffer.
    Deferred,
}

impl<T> CoalescedWrites<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            buffer: Vec::new(),
            written: 0,
            state: FlushState::Collecting,
        }
    }

    fn pending(&self) -> usize {
        self.buffer.len() - self.written
    }

    fn take(&mut self, bufs: &[IoSlice<'_>]) -> usize {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve(ROUND_CAPACITY);
        }
        let room = BUFFER_LIMIT.saturating_sub(self.buffer.len());
        let mut taken = 0;
        for buf in bufs {
            let part = &buf[..buf.len().min(room - taken)];
            self.buffer.extend_from_slice(part);
            taken += part.len();
            if taken == room {
                break;
            }
        }
        taken
    }
}

impl<T: AsyncWrite + Unpin> CoalescedWrites<T> {
    /// Writes the buffer out; `Ready(Ok)` once it is all in `inner`.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending() > 0 {
            let written =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buffer[self.written..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += written;
        }
        self.buffer = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    fn poll_take(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|buf| buf.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        if self.buffer.len() >= BUFFER_LIMIT {
            ready!(self.poll_send(cx))?;
        }
        Poll::Ready(Ok(self.take(bufs)))
    }
}

/// Has the task woken once the runtime has run the other ready tasks and polled its driver
/// (outside a runtime, at once).
fn defer_wake(cx: &mut Context<'_>) {
    let yield_once = std::pin::pin!(tokio::task::yield_now());
    // The first poll of `yield_now` hands the waker to the scheduler; dropping the future
    // afterwards does not take the waker back.
    let _ = yield_once.poll(cx);
}

impl<T: AsyncRead + Unpin> AsyncRead for CoalescedWrites<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescedWrites<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_take(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_take(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // Vectors are copied into the buffer whole, so the h2 encoder may chain payloads
        // rather than copy them into its own buffer first.
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending() > 0 {
            if self.state == FlushState::Collecting {
                // Not a flush yet, though the caller is told so: the deferred wake polls the
                // connection again, and h2 flushes each time it is polled.
                defer_wake(cx);
                self.state = FlushState::Deferred;
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_send(cx))?;
        }
        self.state = FlushState::Collecting;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
