//! soTimeout on an HTTP/1.1 upstream connection: the limits on each wait of a request
//! (for the response head, and for the upstream to read the request being sent), run on the
//! timer the connection keeps from request to request.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use super::{Conn, SendError, Timer};

/// Runs `work` until it completes or `deadline` passes, on the connection's own timer.
pub(super) fn within<F: Future>(
    timer: &mut Timer,
    deadline: Option<Instant>,
    work: F,
) -> Within<'_, F> {
    Within {
        timer,
        deadline,
        work,
    }
}

pin_project_lite::pin_project! {
    /// [`within`]'s future. A struct rather than an `async fn`: an async fn keeps its
    /// arguments twice (as received and as the body's locals), and `work`, the request's
    /// write or the response head's read, is most of the size of every future of a proxied
    /// request above it.
    pub(super) struct Within<'t, F> {
        timer: &'t mut Timer,
        deadline: Option<Instant>,
        #[pin]
        work: F,
    }
}

impl<F: Future> Future for Within<'_, F> {
    type Output = Result<F::Output, SendError>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.work.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match *this.deadline {
            Some(deadline) if passed(this.timer, deadline, cx) => {
                Poll::Ready(Err(SendError::Timeout))
            }
            _ => Poll::Pending,
        }
    }
}

/// Whether `deadline` has passed, else has `timer` wake the task then. The timer is re-armed
/// only when it fires before the deadline (it was left at an earlier one).
fn passed(timer: &mut Timer, deadline: Instant, cx: &mut std::task::Context<'_>) -> bool {
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        if Instant::now() >= deadline {
            return true;
        }
        timer.as_mut().reset(deadline);
    }
}

/// Runs `work`, the request's write, until it completes or the upstream has left its bytes
/// unread for `limit`: only waits on the upstream's socket count (`blocked`, which
/// [`Watched`] keeps), never waits for the client's body, which has its own limit and
/// whose stall is the client's failure. Says whether the write ever waited.
pub(super) fn writing<'t, F: Future>(
    timer: &'t mut Timer,
    limit: Option<Duration>,
    blocked: &'t AtomicBool,
    work: F,
) -> Writing<'t, F> {
    Writing {
        timer,
        limit,
        blocked,
        since: None,
        waited: false,
        work,
    }
}

pin_project_lite::pin_project! {
    /// [`writing`]'s future, a struct for the reason [`Within`] is one.
    pub(super) struct Writing<'t, F> {
        timer: &'t mut Timer,
        limit: Option<Duration>,
        blocked: &'t AtomicBool,
        // When the upstream's socket last became full.
        since: Option<Instant>,
        waited: bool,
        #[pin]
        work: F,
    }
}

impl<F: Future> Future for Writing<'_, F> {
    type Output = Result<(F::Output, bool), SendError>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.work.poll(cx) {
            return Poll::Ready(Ok((output, *this.waited)));
        }
        *this.waited = true;
        let Some(limit) = *this.limit else {
            return Poll::Pending;
        };
        if !this.blocked.load(Ordering::Relaxed) {
            // Waiting for the client's body.
            *this.since = None;
            return Poll::Pending;
        }
        let deadline = match *this.since {
            Some(since) => since + limit,
            None => {
                let now = Instant::now();
                *this.since = Some(now);
                this.timer.as_mut().reset(now + limit);
                now + limit
            }
        };
        if passed(this.timer, deadline, cx) {
            Poll::Ready(Err(SendError::Unread))
        } else {
            Poll::Pending
        }
    }
}

/// The upstream connection as a request is written to it: notes whether the last write
/// found the socket full, for [`writing`].
pub(super) struct Watched<'c> {
    pub(super) conn: &'c mut Conn,
    pub(super) blocked: &'c AtomicBool,
}

impl Watched<'_> {
    fn note<T>(&self, polled: Poll<T>) -> Poll<T> {
        self.blocked.store(polled.is_pending(), Ordering::Relaxed);
        polled
    }
}

impl tokio::io::AsyncWrite for Watched<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.conn).poll_write(cx, buf);
        this.note(polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.conn).poll_write_vectored(cx, bufs);
        this.note(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.conn.is_write_vectored()
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.conn).poll_flush(cx);
        this.note(polled)
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut *this.conn).poll_shutdown(cx);
        this.note(polled)
    }
}
