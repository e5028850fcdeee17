//! The epoch ticker. A plugin call's deadline counts epoch ticks, so the epoch must advance
//! whenever plugin code may run; but a gateway whose routes make no plugin call (a plain
//! route's baseURI is made by the host) should not wake 200 times a second on the core its
//! connections run on, nor an idle gateway at all. So the ticker parks once a second has
//! passed with no call armed and no running call reaching a tick, and the next arm wakes it.
//!
//! Why that is enough: a call arms before its plugin code runs, and the deadline callback
//! runs at every tick the code runs through; either one marks the ticker active, and the
//! ticker only parks after a long run of ticks with no mark. A call that waits on the host
//! longer than that finds the epoch past its deadline when its code runs again, so the
//! callback runs at once and wakes the ticker before the next tick is needed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::thread::Thread;
use std::time::Duration;

/// The process's ticker, driving the one engine (`engine.rs`).
pub static TICKER: Ticker = Ticker::new();

pub struct Ticker {
    /// Set by calls, cleared by the ticker at every tick: was plugin code armed or running
    /// since the last tick.
    active: AtomicBool,
    parked: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Ticker {
    pub const fn new() -> Self {
        Ticker {
            active: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    /// Plugin code is about to run, or is running: keep the epoch advancing. One load on
    /// the path of a call while calls keep coming; a store and an unpark after a quiet spell.
    #[inline]
    pub fn keep_ticking(&self) {
        // Sequentially consistent on both sides: either this sees `parked` set, or the
        // ticker's check before parking sees `active` set (store buffering cannot hide both).
        if self.active.load(SeqCst) {
            return;
        }
        self.active.store(true, SeqCst);
        if self.parked.swap(false, SeqCst)
            && let Some(thread) = self.thread.get()
        {
            thread.unpark();
        }
    }

    /// Runs the ticker on the calling thread: every `period`, `tick` (which advances the
    /// epoch, and says false when there is no engine left to tick, ending the loop); once
    /// `idle_after` has passed in ticks with no activity it parks until `keep_ticking` wakes
    /// it.
    pub fn run(&self, period: Duration, idle_after: Duration, mut tick: impl FnMut() -> bool) {
        let idle_ticks = idle_after.as_nanos().div_ceil(period.as_nanos().max(1));
        // Set before the first park can happen, so no waker misses the handle.
        let _ = self.thread.set(std::thread::current());
        let mut idle = 0u128;
        loop {
            std::thread::sleep(period);
            if !tick() {
                return;
            }
            if self.active.swap(false, SeqCst) {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < idle_ticks {
                continue;
            }
            self.parked.store(true, SeqCst);
            // Parking may wake spuriously, and an unpark may be left over from a waker that
            // raced the last wake: only a mark of activity ends the wait.
            while !self.active.load(SeqCst) {
                std::thread::park();
            }
            self.parked.store(false, SeqCst);
            idle = 0;
        }
    }
}

impl Default for Ticker {
    fn default() -> Self {
        Ticker::new()
    }
}

#[cfg(test)]
mod tests;
