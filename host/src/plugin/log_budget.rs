//! How many records a plugin object from a folder may add to the log each second, and how long
//! one may be. A plugin that logs, writes to stderr or fails on every request would otherwise
//! add a record per request: each one formatted on the worker that serves the request and
//! queued for the log's writer (`telemetry::queue`), filling the queue and burying the
//! gateway's own records. The embedded plugins are the gateway's own code and have
//! no budget (CaptureDecorator logs every message it sees, as IG's does).
//!
//! Records over the limit are dropped and counted (`ferrogate_plugin_log_records_dropped_total`);
//! the first one dropped in a second is replaced by a record saying so, which also reports
//! how many were dropped since the previous such record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::Limits;
use super::loader::PluginFile;
use super::state::ObjectInfo;

/// The records one plugin object may log per second when config.json does not say.
pub const DEFAULT_PER_SECOND: u32 = 100;

/// The longest `log` message kept, in bytes; the rest is cut and its length logged as
/// `left_out` (stderr keeps its own 4 KiB tail).
pub const MESSAGE_KEPT: usize = 16 * 1024;

const WINDOW: Duration = Duration::from_secs(1);

pub struct LogBudget {
    per_second: u32,
    window: Mutex<Window>,
    /// The object's `log_records_dropped` series, once it has dropped a record.
    dropped: OnceLock<Arc<AtomicU64>>,
}

struct Window {
    /// When the current second began: at the first record offered after the last one ended,
    /// so a burst within one call is never split.
    started: Option<Instant>,
    /// Records offered since `started`, logged or not (saturates past the limit).
    offered: u32,
    /// Dropped since the last notice, which the next notice reports.
    unreported: u64,
}

/// What to do with one record a plugin offers.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Log,
    /// The first record over the limit this second: drop it, and log instead that records are
    /// being dropped, with how many were dropped (and not reported) before it.
    DropWithNotice {
        dropped_before: u64,
    },
    Drop,
}

impl LogBudget {
    pub fn new(per_second: u32) -> Self {
        LogBudget {
            per_second,
            dropped: OnceLock::new(),
            window: Mutex::new(Window {
                started: None,
                offered: 0,
                unreported: 0,
            }),
        }
    }

    /// The budget of an object of `file`: none for an embedded plugin.
    pub fn for_file(file: &PluginFile, limits: &Limits) -> Option<Self> {
        (!file.is_embedded()).then(|| LogBudget::new(limits.log_records_per_second))
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    pub fn admit(&self, now: Instant) -> Admission {
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if window
            .started
            .is_none_or(|started| now.saturating_duration_since(started) >= WINDOW)
        {
            window.started = Some(now);
            window.offered = 0;
        }
        window.offered = window.offered.saturating_add(1);
        if window.offered <= self.per_second {
            Admission::Log
        } else if window.offered - 1 == self.per_second {
            let dropped_before = std::mem::replace(&mut window.unreported, 1);
            Admission::DropWithNotice { dropped_before }
        } else {
            window.unreported = window.unreported.saturating_add(1);
            Admission::Drop
        }
    }
}

/// Whether the object may log one more record now. Past its budget, counts the record dropped
/// and, once a second, logs that records are being dropped; the caller logs the record only
/// when this says yes.
pub fn admit(object: &ObjectInfo) -> bool {
    let Some(budget) = &object.log_budget else {
        return true;
    };
    let admission = budget.admit(Instant::now());
    if admission == Admission::Log {
        return true;
    }
    budget
        .dropped
        .get_or_init(|| super::shared::host_counter("log_records_dropped", object))
        .fetch_add(1, Ordering::Relaxed);
    if let Admission::DropWithNotice { dropped_before } = admission {
        super::state::object_event!(
            warn,
            object,
            limit = budget.per_second(),
            dropped_before,
            "plugin logged its limit of records this second: the rest of the second's are dropped"
        );
    }
    false
}

/// `message` cut to at most `MESSAGE_KEPT` bytes (at a character boundary), and how many
/// bytes were cut, when the object has a budget.
pub fn bounded<'m>(object: &ObjectInfo, message: &'m str) -> (&'m str, Option<usize>) {
    if object.log_budget.is_none() || message.len() <= MESSAGE_KEPT {
        return (message, None);
    }
    let end = message.floor_char_boundary(MESSAGE_KEPT);
    (&message[..end], Some(message.len() - end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(budget: &LogBudget, at: Instant, times: usize) -> Vec<Admission> {
        (0..times).map(|_| budget.admit(at)).collect()
    }

    #[test]
    fn the_limit_is_per_second_and_the_first_drop_of_a_second_gives_notice() {
        let budget = LogBudget::new(3);
        let start = Instant::now();
        let first = offer(&budget, start, 6);
        assert_eq!(
            first,
            [
                Admission::Log,
                Admission::Log,
                Admission::Log,
                Admission::DropWithNotice { dropped_before: 0 },
                Admission::Drop,
                Admission::Drop,
            ]
        );
        // Still the same second: everything is dropped, with no second notice.
        assert_eq!(
            budget.admit(start + Duration::from_millis(999)),
            Admission::Drop
        );

        // The next second logs again, and its first drop reports the four of the first
        // second that no notice counted (the notice's own record, and three after it).
        let next = start + WINDOW;
        assert_eq!(
            offer(&budget, next, 5),
            [
                Admission::Log,
                Admission::Log,
                Admission::Log,
                Admission::DropWithNotice { dropped_before: 4 },
                Admission::Drop,
            ]
        );
    }

    #[test]
    fn a_quiet_second_starts_a_full_budget_and_reports_what_was_left() {
        let budget = LogBudget::new(1);
        let start = Instant::now();
        assert_eq!(
            offer(&budget, start, 3),
            [
                Admission::Log,
                Admission::DropWithNotice { dropped_before: 0 },
                Admission::Drop
            ]
        );
        // Ten quiet seconds, then a burst: one logged, and the notice carries the two.
        let later = start + 10 * WINDOW;
        assert_eq!(
            offer(&budget, later, 2),
            [
                Admission::Log,
                Admission::DropWithNotice { dropped_before: 2 }
            ]
        );
    }

    #[test]
    fn an_object_without_a_budget_logs_everything_whole() {
        let mut object = ObjectInfo::probe("embedded:x");
        assert!((0..1000).all(|_| admit(&object)));
        let long = "é".repeat(MESSAGE_KEPT);
        assert_eq!(bounded(&object, &long), (long.as_str(), None));

        object.log_budget = Some(LogBudget::new(2));
        let (kept, left_out) = bounded(&object, &long);
        // 'é' is two bytes: the cut falls on a character boundary, at the limit.
        assert_eq!(kept.len(), MESSAGE_KEPT);
        assert_eq!(left_out, Some(long.len() - MESSAGE_KEPT));
        let short = "short";
        assert_eq!(bounded(&object, short), (short, None));
        assert_eq!(
            (0..4).map(|_| admit(&object)).collect::<Vec<_>>(),
            [true, true, false, false]
        );
    }
}
