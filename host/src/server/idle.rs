//! The keep-alive timeout and the shutdown of HTTP/1.1 connections, kept in one registry that a
//! sweeper visits once a second, rather than in a timer and a notification per connection.
//!
//! An idle connection is what a gateway holds the most of. Here one costs a small shared
//! entry (its waker and since when it waits) besides its task, and marking it idle costs two
//! atomic stores: no timer to arm per request, no clock read (the sweeper keeps the time in
//! whole seconds, which is as precise as a keep-alive timeout needs to be).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;

/// `idle_since` of a connection that is not waiting for a request head.
const BUSY: u32 = u32::MAX;

const EXPIRED: u8 = 1;
const CLOSING: u8 = 2;

/// Why a connection waiting for a request head must stop waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It waited longer than the head timeout.
    Expired,
    /// The gateway is shutting down.
    Closing,
}

struct Entry {
    waker: AtomicWaker,
    /// The sweeper's second at which the connection started waiting, or `BUSY`.
    idle_since: AtomicU32,
    flags: AtomicU8,
}

struct Registry {
    entries: Mutex<Vec<Weak<Entry>>>,
    /// Seconds since the registry started, advanced by the sweeper.
    now: AtomicU32,
    closing: AtomicBool,
    timeout_secs: u32,
}

/// The HTTP/1.1 connections of a server.
#[derive(Clone)]
pub struct Connections {
    registry: Arc<Registry>,
}

/// One connection's entry; it leaves the registry when this is dropped.
pub struct Registration {
    registry: Arc<Registry>,
    entry: Arc<Entry>,
}

impl Connections {
    /// A registry whose connections may wait `timeout` for a request head. Call
    /// [`Connections::sweep`] once a second.
    pub fn new(timeout: Duration) -> Self {
        Connections {
            registry: Arc::new(Registry {
                entries: Mutex::new(Vec::new()),
                now: AtomicU32::new(0),
                closing: AtomicBool::new(false),
                timeout_secs: u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX).max(1),
            }),
        }
    }

    pub fn register(&self) -> Registration {
        let entry = Arc::new(Entry {
            waker: AtomicWaker::new(),
            idle_since: AtomicU32::new(BUSY),
            flags: AtomicU8::new(if self.registry.closing.load(Ordering::Acquire) {
                CLOSING
            } else {
                0
            }),
        });
        if let Ok(mut entries) = self.registry.entries.lock() {
            entries.push(Arc::downgrade(&entry));
        }
        Registration {
            registry: self.registry.clone(),
            entry,
        }
    }

    /// Advances the clock by a second and stops the connections that waited too long;
    /// forgets the connections that ended.
    pub fn sweep(&self) {
        let now = self.registry.now.fetch_add(1, Ordering::AcqRel) + 1;
        let timeout = self.registry.timeout_secs;
        let Ok(mut entries) = self.registry.entries.lock() else {
            return;
        };
        entries.retain(|weak| {
            let Some(entry) = weak.upgrade() else {
                return false;
            };
            let since = entry.idle_since.load(Ordering::Acquire);
            if since != BUSY && now.saturating_sub(since) >= timeout {
                entry.flags.fetch_or(EXPIRED, Ordering::AcqRel);
                entry.waker.wake();
            }
            true
        });
    }

    /// From now on connections waiting for a head stop, and the others stop after their
    /// response.
    pub fn close_all(&self) {
        self.registry.closing.store(true, Ordering::Release);
        let Ok(entries) = self.registry.entries.lock() else {
            return;
        };
        for entry in entries.iter().filter_map(Weak::upgrade) {
            entry.flags.fetch_or(CLOSING, Ordering::AcqRel);
            entry.waker.wake();
        }
    }

    /// Live connections: those whose registration has not been dropped yet.
    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.registry
            .entries
            .lock()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|weak| weak.strong_count() > 0)
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Registration {
    /// The connection starts waiting for a request head: the head timeout runs from now.
    pub fn idle(&self) {
        let now = self.registry.now.load(Ordering::Acquire);
        self.entry.idle_since.store(now, Ordering::Release);
    }

    /// A head arrived: the connection is busy with a request until it waits again.
    pub fn busy(&self) {
        self.entry.idle_since.store(BUSY, Ordering::Release);
        self.entry.flags.fetch_and(!EXPIRED, Ordering::AcqRel);
    }

    /// Whether the gateway is shutting down.
    pub fn closing(&self) -> bool {
        self.entry.flags.load(Ordering::Acquire) & CLOSING != 0
            || self.registry.closing.load(Ordering::Acquire)
    }

    /// Ready when the connection must stop waiting; registers the task to be woken then.
    pub fn poll_stop(&self, cx: &mut Context<'_>) -> Poll<Stop> {
        self.entry.waker.register(cx.waker());
        let flags = self.entry.flags.load(Ordering::Acquire);
        if flags & CLOSING != 0 || self.registry.closing.load(Ordering::Acquire) {
            Poll::Ready(Stop::Closing)
        } else if flags & EXPIRED != 0 {
            Poll::Ready(Stop::Expired)
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests;
