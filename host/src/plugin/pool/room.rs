//! Where instantiations wait for an instance slot to come back when every slot of the
//! process-wide pooling allocator serves a call in flight, what wakes them, and what their
//! waits are counted as.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Where instantiations wait for a slot to come back.
pub(super) struct Room {
    /// How many wait: while none do, a slot coming back costs one load.
    pub(super) waiting: AtomicUsize,
    freed: Notify,
    /// Instantiations that had to wait, those whose wait ran out, and the time all waited:
    /// what tells an operator that `instanceSlots` is too small before requests fail.
    pub(super) waits: AtomicU64,
    pub(super) expired: AtomicU64,
    pub(super) waited_micros: AtomicU64,
}

impl Room {
    pub(super) const fn new() -> Self {
        Room {
            waiting: AtomicUsize::new(0),
            freed: Notify::const_new(),
            waits: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            waited_micros: AtomicU64::new(0),
        }
    }

    /// Wakes one waiting instantiation, if any.
    pub(super) fn may_be_free(&self) {
        // SeqCst pairs with the waiter's increment: either the waiter counted itself before
        // this load, and is woken, or its next attempt comes after the slot came back, and
        // finds it.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.freed.notify_one();
        }
    }

    /// The slots there are (`None`: instances allocated on demand, with no slot limit) and
    /// the waits for them, in Prometheus' text format (0.0.4).
    pub(super) fn render(&self, out: &mut String, slots: Option<u32>) {
        use std::fmt::Write as _;
        if let Some(slots) = slots {
            let _ = writeln!(
                out,
                "# TYPE ferrogate_plugin_instance_slots gauge\nferrogate_plugin_instance_slots {slots}"
            );
        }
        let waiting = self.waiting.load(Ordering::Relaxed);
        let waits = self.waits.load(Ordering::Relaxed);
        let expired = self.expired.load(Ordering::Relaxed);
        let waited = self.waited_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "# TYPE ferrogate_plugin_instance_slot_waiting gauge\n\
             ferrogate_plugin_instance_slot_waiting {waiting}\n\
             # TYPE ferrogate_plugin_instance_slot_waits_total counter\n\
             ferrogate_plugin_instance_slot_waits_total {waits}\n\
             # TYPE ferrogate_plugin_instance_slot_wait_expired_total counter\n\
             ferrogate_plugin_instance_slot_wait_expired_total {expired}\n\
             # TYPE ferrogate_plugin_instance_slot_wait_seconds_total counter\n\
             ferrogate_plugin_instance_slot_wait_seconds_total {waited}"
        );
    }
}

pub(super) static ROOM: Room = Room::new();

/// How often a waiting instantiation tries again unwoken: stores dropped on failure paths
/// and the loader's probe give their slots back without saying so. Rare, so seldom: each
/// try costs a failed instantiation (about 7 µs in a release build), for every waiter.
const RECHECK: Duration = Duration::from_millis(200);

/// Wakes an instantiation waiting for room, if any: called once a slot is free (a store
/// dropped) or can be freed (an instance gone idle, which shedding can drop).
pub fn room_may_be_free() {
    ROOM.may_be_free();
}

/// Held by whatever owns a store, as its last field so that it is dropped after the store:
/// by then the store's slots are back in the allocator.
pub struct SlotsBack;

impl Drop for SlotsBack {
    fn drop(&mut self) {
        room_may_be_free();
    }
}

/// An instantiation's registration as a waiter, made before the attempt it follows (and
/// renewed before each next one) so that a slot coming back in between wakes it.
pub(super) struct Waiter<'r> {
    room: &'r Room,
    notified: Pin<Box<tokio::sync::futures::Notified<'r>>>,
    since: Instant,
}

/// How a wait for room ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WaitEnd {
    Woken,
    /// [`RECHECK`] passed first.
    Unwoken,
    /// The time to wait had run out.
    Expired,
}

impl<'r> Waiter<'r> {
    pub(super) fn register(room: &'r Room) -> Self {
        room.waiting.fetch_add(1, Ordering::SeqCst);
        room.waits.fetch_add(1, Ordering::Relaxed);
        let mut notified = Box::pin(room.freed.notified());
        notified.as_mut().enable();
        Waiter {
            room,
            notified,
            since: Instant::now(),
        }
    }

    /// Waits, then registers again for the attempt that follows.
    pub(super) async fn wait(&mut self, until: Instant) -> WaitEnd {
        let now = Instant::now();
        if now >= until {
            self.room.expired.fetch_add(1, Ordering::Relaxed);
            return WaitEnd::Expired;
        }
        let woken = tokio::time::timeout_at(until.min(now + RECHECK), self.notified.as_mut())
            .await
            .is_ok();
        self.notified.set(self.room.freed.notified());
        self.notified.as_mut().enable();
        if woken {
            WaitEnd::Woken
        } else {
            WaitEnd::Unwoken
        }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.room.waiting.fetch_sub(1, Ordering::SeqCst);
        let waited = u64::try_from(self.since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.room.waited_micros.fetch_add(waited, Ordering::Relaxed);
    }
}

/// The process-wide room's metrics: see [`Room::render`].
pub fn render_metrics(out: &mut String, slots: Option<u32>) {
    ROOM.render(out, slots);
}
