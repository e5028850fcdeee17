use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Ticker;

const PERIOD: Duration = Duration::from_millis(1);
const IDLE_TICKS: u32 = 5;

/// A ticker on its own thread, counting its ticks, stopped when the guard drops.
struct Running {
    ticker: Arc<Ticker>,
    ticks: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start() -> Self {
        let ticker = Arc::new(Ticker::new());
        let ticks = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let ticker = ticker.clone();
            let ticks = ticks.clone();
            let stop = stop.clone();
            move || {
                ticker.run(PERIOD, PERIOD * IDLE_TICKS, || {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    !stop.load(Ordering::SeqCst)
                });
            }
        });
        Running {
            ticker,
            ticks,
            stop,
            thread: Some(thread),
        }
    }

    fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::SeqCst)
    }

    /// Waits until no tick has come for well over the idle spell and the ticker says it
    /// parked.
    fn wait_parked(&self) {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let before = self.ticks();
            std::thread::sleep(PERIOD * (IDLE_TICKS * 4));
            if self.ticks() == before && self.ticker.parked.load(Ordering::SeqCst) {
                return;
            }
            assert!(Instant::now() < give_up, "the ticker never parked");
        }
    }

    /// Waits for the tick after `since`; false if none came within the bound.
    fn ticks_after(&self, since: u64, within: Duration) -> bool {
        let give_up = Instant::now() + within;
        while Instant::now() < give_up {
            if self.ticks() > since {
                return true;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        false
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Woken by hand rather than by keep_ticking, so a broken wake fails a test instead
        // of hanging it here.
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            self.ticker.active.store(true, Ordering::SeqCst);
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[test]
fn the_ticker_parks_when_nothing_runs_and_the_next_call_wakes_it() {
    let running = Running::start();
    running.wait_parked();
    let parked_at = running.ticks();
    std::thread::sleep(PERIOD * 50);
    assert_eq!(running.ticks(), parked_at, "a parked ticker ticked");

    running.ticker.keep_ticking();
    assert!(
        running.ticks_after(parked_at, Duration::from_secs(5)),
        "keep_ticking did not wake the ticker"
    );
}

#[test]
fn the_ticker_keeps_ticking_while_calls_keep_marking_it() {
    let running = Running::start();
    let started = running.ticks();
    // Marks every tick, as a running call's deadline callback does: well past the idle
    // spell, every tick still comes.
    let mut seen = started;
    for _ in 0..(IDLE_TICKS * 6) {
        running.ticker.keep_ticking();
        assert!(
            running.ticks_after(seen, Duration::from_secs(5)),
            "the ticker stopped while marked active"
        );
        seen = running.ticks();
    }
    assert!(!running.ticker.parked.load(Ordering::SeqCst));
}

#[test]
fn no_wake_is_lost_when_calls_race_the_ticker_parking() {
    // Callers on several threads mark the ticker at moments spread around its parking, and
    // each then needs a tick to come: a lost wake would leave one waiting forever.
    let running = Arc::new(Running::start());
    let callers: Vec<_> = (0..3u32)
        .map(|caller| {
            let running = running.clone();
            std::thread::spawn(move || {
                for round in 0..40u32 {
                    // From well inside the idle spell to three times past it, differently
                    // per caller, so the ticker parks often between the marks.
                    let pause = (caller * 7 + round * 5) % (IDLE_TICKS * 3 + 1);
                    std::thread::sleep(PERIOD * pause);
                    let before = running.ticks();
                    running.ticker.keep_ticking();
                    assert!(
                        running.ticks_after(before, Duration::from_secs(5)),
                        "caller {caller}, round {round}: no tick came after keep_ticking"
                    );
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().expect("a caller saw no tick");
    }
}
