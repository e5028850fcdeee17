//! Noticing changes to a routes directory: file system events for speed, a periodic rescan
//! as the fallback for file systems and mounts that do not deliver events.
//!
//! The directory's parent is watched too, for events about the directory itself: a routes
//! folder deleted and created again (or replaced by a rename) is watched again at once instead
//! of falling back to the periodic rescan.

use std::path::{Path, PathBuf};
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
    let mut watch = if std::env::var_os("FERROGATE_WATCH").is_some_and(|mode| mode == "poll") {
        None
    } else {
        DirectoryWatch::start(router, events.clone())
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
            let name = router.name().to_owned();
            let reload = tokio::task::spawn_blocking(move || {
                router.reload();
            });
            if reload.await.is_err() {
                tracing::error!("a route reload panicked; the previous routes keep serving");
            }
            if let Some(watch) = &mut watch
                && watch.rewatch_if_replaced(&name)
            {
                // Changes made between the scan and the new watch: scan once more.
                let _ = events.try_send(());
            }
        }
    });
    Some(WatchGuard { task })
}

/// Identifies a directory (device and inode), to notice that it was replaced.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|metadata| (metadata.dev(), metadata.ino()))
}

struct DirectoryWatch {
    watcher: notify::RecommendedWatcher,
    directory: PathBuf,
    /// The directory being watched; None when it could not be.
    watched: Option<(u64, u64)>,
}

impl DirectoryWatch {
    fn start(router: &Arc<RouterShared>, events: mpsc::Sender<()>) -> Option<DirectoryWatch> {
        let directory = router.directory().to_path_buf();
        let relevant = directory.clone();
        let handler = move |event: notify::Result<notify::Event>| {
            // Events about the parent's other entries are not ours; events without paths
            // (a queue overflow) may be.
            let ours = event.is_err()
                || event.as_ref().is_ok_and(|event| {
                    event.paths.is_empty()
                        || event.paths.iter().any(|path| path.starts_with(&relevant))
                });
            if ours {
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
        let parent_watched = directory
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .is_some_and(|parent| watcher.watch(parent, RecursiveMode::NonRecursive).is_ok());
        let watched = match watcher.watch(&directory, RecursiveMode::NonRecursive) {
            Ok(()) => identity(&directory),
            Err(error) => {
                tracing::warn!(router = %router.name(), directory = %directory.display(), %error, "cannot watch the routes directory; routes are rescanned periodically only");
                if !parent_watched {
                    return None;
                }
                None
            }
        };
        Some(DirectoryWatch {
            watcher,
            directory,
            watched,
        })
    }

    /// Watches the directory again when it is not the one watched (it was deleted and
    /// created again, or another folder was renamed over it). True when it did.
    fn rewatch_if_replaced(&mut self, router: &str) -> bool {
        let current = identity(&self.directory);
        if current.is_none() || current == self.watched {
            return false;
        }
        let _ = self.watcher.unwatch(&self.directory);
        match self
            .watcher
            .watch(&self.directory, RecursiveMode::NonRecursive)
        {
            Ok(()) => {
                tracing::info!(router, directory = %self.directory.display(), "the routes directory was replaced; watching the new one");
                self.watched = current;
                true
            }
            Err(error) => {
                tracing::warn!(router, directory = %self.directory.display(), %error, "cannot watch the replaced routes directory; routes are rescanned periodically only");
                false
            }
        }
    }
}
