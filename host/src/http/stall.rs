//! The limit on how long a body may leave whoever reads it waiting for its next bytes: the
//! clock itself, which the HTTP/1.1 body reader keeps, and a wrapper that puts it on any
//! other body (hyper's HTTP/2 request bodies, its upstream response bodies).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::BoxError;

/// How long a body may leave its consumer waiting for bytes: counted from when a poll first
/// finds nothing to give after the body last gave something, so that a consumer that was
/// itself slow to come back (an upstream not reading) is not held against the peer.
pub struct StallLimit {
    limit: Duration,
    /// Made at the first wait; most bodies arrive with their head and never wait.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the body gave bytes since the timer was last set.
    progressed: bool,
}

impl StallLimit {
    pub fn new(limit: Duration) -> Self {
        StallLimit {
            limit,
            timer: None,
            progressed: false,
        }
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The body gave bytes: the next wait is counted afresh.
    pub fn progressed(&mut self) {
        self.progressed = true;
    }

    /// Whether the wait that is starting or going on has lasted the limit; registers the
    /// timer's wake-up otherwise.
    pub fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let timer = match &mut self.timer {
            Some(timer) => {
                if self.progressed {
                    timer
                        .as_mut()
                        .reset(tokio::time::Instant::now() + self.limit);
                }
                timer
            }
            None => self.timer.insert(Box::pin(tokio::time::sleep(self.limit))),
        };
        self.progressed = false;
        timer.as_mut().poll(cx).is_ready()
    }
}

/// A body that fails with `stalled(limit)`'s error when it leaves its consumer waiting
/// longer than `limit` for its next frame. Generic rather than over a boxed body, so that
/// wrapping costs no allocation of its own.
pub struct StallLimited<B, F> {
    inner: B,
    stall: StallLimit,
    stalled: F,
    failed: bool,
}

impl<B, F> StallLimited<B, F> {
    pub fn new(inner: B, limit: Duration, stalled: F) -> Self {
        StallLimited {
            inner,
            stall: StallLimit::new(limit),
            stalled,
            failed: false,
        }
    }
}

impl<B, F> http_body::Body for StallLimited<B, F>
where
    B: http_body::Body<Data = Bytes, Error = BoxError> + Unpin,
    F: Fn(Duration) -> BoxError + Unpin,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.stall.progressed();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending if this.stall.expired(cx) => {
                this.failed = true;
                Poll::Ready(Some(Err((this.stalled)(this.stall.limit()))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
