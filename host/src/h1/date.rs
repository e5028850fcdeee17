//! The `Date` header value, formatted at most once a second per thread: every response
//! carries one, and formatting a date costs more than the rest of a small response head.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

struct Cached {
    second: u64,
    text: String,
}

thread_local! {
    static CACHED: RefCell<Cached> = const {
        RefCell::new(Cached { second: u64::MAX, text: String::new() })
    };
}

/// Appends the current date in HTTP's format (`Tue, 01 Dec 2026 08:08:05 GMT`).
pub fn put(dst: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.second != second {
            cached.second = second;
            cached.text = httpdate::fmt_http_date(now);
        }
        dst.extend_from_slice(cached.text.as_bytes());
    });
}
