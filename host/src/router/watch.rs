//! Noticing changes to a routes directory: file system events for speed, a periodic rescan
//! as the fallback for file systems and mounts that do not deliver events.

use std::sync::{Arc, Weak};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::RouterShared;

/// Events arrive in bursts (an editor's write, rename and chmod); waiting this long after
/// the first lets the burst settle into one reload.
const SETTLE: Duration = Duration::from_millis(40);

/// Stops the watching when the router is dropped.
pub struct WatchGuard {
    task: tokio::task::JoinHandle<()>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching; None outside a tokio runtime (nothing could run the reloads).
pub fn spawn(router: &Arc<RouterShared>, interval: Duration) -> Option<WatchGuard> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let (events, mut wakeups) = mpsc::channel::<()>(1);
    let watcher = if std::env::var_os("FERROGATE_WATCH").is_some_and(|mode| mode == "poll") {
        None
    } else {
        start_watcher(router, events)
    };
    let weak: Weak<RouterShared> = Arc::downgrade(router);
    let task = runtime.spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                woken = wakeups.recv() => {
                    if woken.is_none() {
                        // The watcher is gone; polling carries on alone.
                        ticker.tick().await;
                    } else {
                        tokio::time::sleep(SETTLE).await;
                        while wakeups.try_recv().is_ok() {}
                    }
                }
            }
            let Some(router) = weak.upgrade() else { return };
            let reload = tokio::task::spawn_blocking(move || {
                router.reload();
            });
            if reload.await.is_err() {
                tracing::error!("a route reload panicked; the previous routes keep serving");
            }
        }
    });
    Some(WatchGuard {
        task,
        _watcher: watcher,
    })
}

fn start_watcher(
    router: &Arc<RouterShared>,
    events: mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    let handler = move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // A full channel already holds a pending wakeup: nothing is lost.
            let _ = events.try_send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(router = %router.name(), %error, "file system events unavailable; routes are rescanned periodically only");
            return None;
        }
    };
    if let Err(error) = watcher.watch(router.directory(), RecursiveMode::NonRecursive) {
        tracing::warn!(router = %router.name(), directory = %router.directory().display(), %error, "cannot watch the routes directory; routes are rescanned periodically only");
        return None;
    }
    Some(watcher)
}
