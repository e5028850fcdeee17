//! IG's Router: routes loaded from a directory, kept in name order, reloaded on change
//! without restart, and dispatched to the first whose condition holds.
//!
//! Requests read an immutable [`Snapshot`] swapped atomically on reload, so a request in
//! flight finishes on the routes it started with. Each snapshot carries an index of its
//! routes by the path, host and method their conditions test ([`index`]), so a request only
//! evaluates the conditions that could be true for it; which route wins is unchanged. Each file keeps its last good version: a
//! file that fails to load is reported and its previous route keeps serving.

mod condition;
mod directory;
mod index;
mod route;
mod watch;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::Deserialize;

use crate::config::{ConfigError, duration::IgDuration};
use crate::exchange::{DEFAULT_ENTITY_LIMIT, Exchange};
use crate::handler::{Handler, HandlerError, HandlerFuture};
use crate::heap::{
    BuildMode, Declaration, Environment, Heap, HeapBuilder, HeapObject, ObjectKind, TypeRegistry,
};
use crate::http::{CollectError, Response, text_response};
use index::RouteIndex;

pub use directory::{FileFingerprint, ScannedFile};
pub use route::{ROUTE_FILE_LIMIT, ROUTE_KEYS, Route};

/// The name IG gives the main router, used in admin paths and metrics.
pub const MAIN_ROUTER_NAME: &str = "_router";

const DEFAULT_SCAN_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct RouterConfig {
    /// Folder of route files; relative paths are relative to the configuration directory.
    /// Default: `<config>/routes`.
    #[serde(default)]
    directory: Option<String>,
    /// How often to rescan as a fallback to file system events: an IG duration, an integer
    /// number of seconds, or "disabled" (or <= 0) to load once. Default "10 seconds".
    #[serde(default)]
    scan_interval: Option<serde_json::Value>,
    /// Handles requests no route accepts; without one they get 404.
    #[serde(default)]
    default_handler: Option<serde_json::Value>,
}

/// Routes in dispatch order.
pub struct Snapshot {
    pub routes: Vec<Arc<Route>>,
    /// Whether any condition reads the request body, which must then be buffered first.
    reads_entity: bool,
    index: RouteIndex,
}

impl Snapshot {
    fn new(routes: Vec<Arc<Route>>) -> Self {
        let reads_entity = routes.iter().any(|route| route.reads_request_entity());
        let index = RouteIndex::build(routes.iter().map(|route| route.condition()));
        Snapshot {
            routes,
            reads_entity,
            index,
        }
    }

    /// The route that takes the request: the first, in dispatch order, whose condition is
    /// true. Only the routes the index leaves as candidates are evaluated.
    pub fn select(&self, exchange: &Exchange) -> Option<&Arc<Route>> {
        let keys = self.index.keys(&exchange.request);
        self.index
            .candidates(&keys)
            .filter_map(|position| self.routes.get(position))
            .find(|route| route.accepts(exchange))
    }

    /// What [`Snapshot::select`] must always agree with: every condition in turn, as IG does.
    /// Kept for the equivalence tests and as the benchmark's reference.
    #[doc(hidden)]
    pub fn select_linear(&self, exchange: &Exchange) -> Option<&Arc<Route>> {
        self.routes.iter().find(|route| route.accepts(exchange))
    }
}

/// What the router knows about one file of its directory.
struct FileState {
    fingerprint: FileFingerprint,
    content_hash: u64,
    /// The version serving now, which may be older than the file when the file is broken.
    deployed: Option<Arc<Route>>,
    error: Option<ConfigError>,
    /// The last version was refused because another file holds its id or name: it is tried
    /// again whenever the directory changes, since that other file may have let go.
    conflict: bool,
    /// The file could not be read (permissions, not UTF-8, too large): it is read again at
    /// every rescan, since fixing permissions does not change what the fingerprint sees.
    unreadable: bool,
}

/// The status of one route file, for the admin surface and `ferrogate check`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteStatus {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// "deployed", "failed" (nothing serving) or "stale" (an older version serves).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct RouterShared {
    name: String,
    directory: PathBuf,
    scan_interval: Option<Duration>,
    environment: Arc<Environment>,
    parent: Mutex<Weak<Heap>>,
    snapshot: ArcSwap<Snapshot>,
    files: Mutex<BTreeMap<PathBuf, FileState>>,
    default_handler: Option<Arc<dyn Handler>>,
    watcher: Mutex<Option<watch::WatchGuard>>,
}

impl RouterShared {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    pub fn environment(&self) -> &Arc<Environment> {
        &self.environment
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn statuses(&self) -> Vec<RouteStatus> {
        let Ok(files) = self.files.lock() else {
            return Vec::new();
        };
        files
            .iter()
            .map(|(path, state)| RouteStatus {
                file: path.display().to_string(),
                id: state.deployed.as_ref().map(|route| route.id.to_string()),
                name: state.deployed.as_ref().map(|route| route.name.to_string()),
                status: match (&state.deployed, &state.error) {
                    (Some(_), None) => "deployed",
                    (Some(_), Some(_)) => "stale",
                    (None, _) => "failed",
                },
                error: state.error.as_ref().map(ToString::to_string),
            })
            .collect()
    }

    /// Rescans the directory and applies what changed. Returns true when the set of
    /// deployed routes changed.
    pub fn reload(&self) -> bool {
        let Some(parent) = self.parent.lock().ok().and_then(|parent| parent.upgrade()) else {
            return false;
        };
        let scanned = match directory::scan(&self.directory) {
            Ok(scanned) => scanned,
            Err(error) => {
                // A directory that vanishes for a moment (a ConfigMap swap, an unmounted
                // volume) must not unload every route: keep serving what we have.
                tracing::warn!(router = %self.name, directory = %self.directory.display(), %error, "cannot read the routes directory; keeping the deployed routes");
                return false;
            }
        };
        let Ok(mut files) = self.files.lock() else {
            return false;
        };
        let mut changed = false;
        let removed: Vec<PathBuf> = files
            .keys()
            .filter(|path| !scanned.contains_key(*path))
            .cloned()
            .collect();
        for path in removed {
            if let Some(state) = files.remove(&path)
                && let Some(route) = state.deployed
            {
                tracing::info!(router = %self.name, route = %route.name, file = %path.display(), "route unloaded: its file was removed");
                changed = true;
            }
        }
        // Files whose content changed, loaded in file name order; then, if anything changed,
        // the files refused as duplicates, in case the file holding their id or name let go
        // (after the changed files, so that an edited incumbent keeps its claim).
        let changed_files: Vec<(&PathBuf, &ScannedFile)> = scanned
            .iter()
            .filter(|(path, scanned_file)| {
                files.get(*path).is_none_or(|state| {
                    state.unreadable || state.fingerprint != scanned_file.fingerprint
                })
            })
            .collect();
        let retried_files: Vec<(&PathBuf, &ScannedFile)> = if changed || !changed_files.is_empty() {
            scanned
                .iter()
                .filter(|(path, scanned_file)| {
                    files.get(*path).is_some_and(|state| {
                        state.conflict && state.fingerprint == scanned_file.fingerprint
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut candidates: Vec<(PathBuf, Result<Route, ConfigError>)> = Vec::new();
        let to_load = changed_files
            .into_iter()
            .map(|file| (file, false))
            .chain(retried_files.into_iter().map(|file| (file, true)));
        for ((path, scanned_file), retry) in to_load {
            let state = files.entry(path.clone()).or_insert_with(|| FileState {
                fingerprint: scanned_file.fingerprint.clone(),
                content_hash: 0,
                deployed: None,
                error: None,
                conflict: false,
                unreadable: false,
            });
            let (text, hash) = match directory::read(path, scanned_file) {
                Ok(loaded) => loaded,
                Err(error) => {
                    state.unreadable = true;
                    candidates.push((path.clone(), Err(error)));
                    continue;
                }
            };
            let was_unreadable = std::mem::replace(&mut state.unreadable, false);
            if !retry
                && !was_unreadable
                && state.content_hash == hash
                && (state.deployed.is_some() || state.error.is_some())
            {
                state.fingerprint = scanned_file.fingerprint.clone();
                continue;
            }
            state.fingerprint = scanned_file.fingerprint.clone();
            state.content_hash = hash;
            candidates.push((path.clone(), Route::load(self, &parent, path, &text)));
        }
        // Ids and names already serving from files that did not change keep their claim.
        // A set: on the first load every file is a candidate, and a list would make this
        // quadratic in the number of route files.
        let candidate_paths: HashSet<&PathBuf> = candidates.iter().map(|(path, _)| path).collect();
        let mut claimed_ids: HashMap<Arc<str>, PathBuf> = HashMap::new();
        let mut claimed_names: HashMap<Arc<str>, PathBuf> = HashMap::new();
        for (path, state) in files.iter() {
            if candidate_paths.contains(&path) {
                continue;
            }
            if let Some(route) = &state.deployed {
                claimed_ids.insert(route.id.clone(), path.clone());
                claimed_names.insert(route.name.clone(), path.clone());
            }
        }
        for (path, result) in candidates {
            let mut conflict = false;
            let outcome = result.and_then(|route| {
                if let Some(other) = claimed_ids.get(&route.id) {
                    conflict = true;
                    return Err(duplicate_error(&path, "id", &route.id, other));
                }
                if let Some(other) = claimed_names.get(&route.name) {
                    conflict = true;
                    return Err(duplicate_error(&path, "name", &route.name, other));
                }
                Ok(route)
            });
            let Some(state) = files.get_mut(&path) else {
                continue;
            };
            state.conflict = conflict;
            match outcome {
                Ok(route) => {
                    tracing::info!(router = %self.name, route = %route.name, id = %route.id, file = %path.display(), "route loaded");
                    claimed_ids.insert(route.id.clone(), path.clone());
                    claimed_names.insert(route.name.clone(), path.clone());
                    state.deployed = Some(Arc::new(route));
                    state.error = None;
                    changed = true;
                }
                Err(error) => {
                    let keeps = state.deployed.as_ref().filter(|route| {
                        claimed_ids
                            .get(&route.id)
                            .is_none_or(|owner| owner == &path)
                            && claimed_names
                                .get(&route.name)
                                .is_none_or(|owner| owner == &path)
                    });
                    match keeps {
                        Some(route) => {
                            tracing::error!(router = %self.name, file = %path.display(), route = %route.name, error = %error, "route failed to load; its previous version keeps serving");
                            claimed_ids.insert(route.id.clone(), path.clone());
                            claimed_names.insert(route.name.clone(), path.clone());
                        }
                        None => {
                            tracing::error!(router = %self.name, file = %path.display(), error = %error, "route failed to load");
                            if state.deployed.take().is_some() {
                                changed = true;
                            }
                        }
                    }
                    if self.environment.mode == BuildMode::Check {
                        self.environment.report(error.clone());
                    }
                    state.error = Some(error);
                }
            }
        }
        if changed {
            let mut routes: Vec<Arc<Route>> = files
                .values()
                .filter_map(|state| state.deployed.clone())
                .collect();
            routes.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
            tracing::debug!(router = %self.name, routes = routes.len(), "routes deployed");
            self.snapshot.store(Arc::new(Snapshot::new(routes)));
        }
        changed
    }

    async fn dispatch(&self, exchange: &mut Exchange) -> Result<Response, HandlerError> {
        let snapshot = self.snapshot.load_full();
        if snapshot.reads_entity {
            match exchange.buffer_request_entity(DEFAULT_ENTITY_LIMIT).await {
                Ok(_) => {}
                // Conditions see a null entity; the body itself is forwarded whole.
                Err(CollectError::TooLarge { limit }) => {
                    tracing::debug!(router = %self.name, limit, "request body too large for route conditions to read");
                }
                Err(error @ CollectError::Read(_)) => {
                    tracing::debug!(router = %self.name, %error, "request body could not be read");
                    return Err(HandlerError::reading_request_body(&error));
                }
            }
        }
        if let Some(route) = snapshot.select(exchange) {
            tracing::debug!(router = %self.name, route = %route.name, "route matched");
            return route.handle(exchange).await;
        }
        match &self.default_handler {
            Some(handler) => {
                tracing::debug!(router = %self.name, "no route matched; using the default handler");
                handler.handle(exchange).await
            }
            None => {
                tracing::debug!(router = %self.name, path = exchange.request.uri().path(), "no route matched");
                Ok(text_response(http::StatusCode::NOT_FOUND, "Not Found"))
            }
        }
    }
}

fn duplicate_error(path: &Path, what: &str, value: &str, other: &Path) -> ConfigError {
    ConfigError::new(format!(
        "route {what} \"{value}\" is already used by {}",
        other.display()
    ))
    .at_file(path)
    .with_hint(format!(
        "route {what}s must be unique within a router: change the {what} in one of the two files"
    ))
}

/// The heap object: a handle on the shared router state.
pub struct RouterHandler {
    shared: Arc<RouterShared>,
}

impl RouterHandler {
    pub fn shared(&self) -> &Arc<RouterShared> {
        &self.shared
    }

    fn from_declaration<'d>(
        builder: &mut HeapBuilder<'d>,
        declaration: &Declaration<'d>,
    ) -> Result<HeapObject, ConfigError> {
        let at = &declaration.config;
        let config: RouterConfig = builder.decode(at)?;
        let environment = builder.environment().clone();
        let directory = match at.get("directory") {
            Some(directory_at) => {
                let text = builder.config_string(&directory_at)?;
                environment.config_dir.join(text)
            }
            None => environment.config_dir.join("routes"),
        };
        let scan_interval = match at.get("scanInterval") {
            None => Some(DEFAULT_SCAN_INTERVAL),
            Some(interval_at) => match crate::config::duration::duration_from_json(
                interval_at.value,
                Duration::from_secs(1),
            ) {
                Ok(IgDuration::Finite(interval)) if !interval.is_zero() => Some(interval),
                Ok(_) => None,
                Err(reason) => return Err(interval_at.error(reason)),
            },
        };
        let default_handler = match at.get("defaultHandler") {
            Some(handler_at) => Some(builder.resolve_handler(&handler_at)?),
            None => None,
        };
        let _ = config;
        let shared = Arc::new(RouterShared {
            name: declaration.name.clone(),
            directory,
            scan_interval,
            environment: environment.clone(),
            parent: Mutex::new(Weak::new()),
            snapshot: ArcSwap::from_pointee(Snapshot::new(Vec::new())),
            files: Mutex::new(BTreeMap::new()),
            default_handler,
            watcher: Mutex::new(None),
        });
        environment.register_router(&shared);
        let ready = shared.clone();
        builder.on_ready(move |heap| {
            if let Ok(mut parent) = ready.parent.lock() {
                *parent = Arc::downgrade(heap);
            }
            if !ready.directory.is_dir() {
                let error = ConfigError::new(format!(
                    "the routes directory {} does not exist",
                    ready.directory.display()
                ))
                .with_hint("create it, or set the Router's \"directory\"");
                tracing::warn!(router = %ready.name, "{error}");
                if ready.environment.mode == BuildMode::Check {
                    ready.environment.report(error);
                }
            }
            ready.reload();
            if ready.environment.mode == BuildMode::Serve
                && let Some(interval) = ready.scan_interval
            {
                let guard = watch::spawn(&ready, interval);
                if let Ok(mut watcher) = ready.watcher.lock() {
                    *watcher = guard;
                }
            }
        });
        Ok(HeapObject::Handler(Arc::new(RouterHandler { shared })))
    }
}

impl Handler for RouterHandler {
    fn handle<'a>(&'a self, exchange: &'a mut Exchange) -> HandlerFuture<'a> {
        let shared: &'a RouterShared = &self.shared;
        Box::pin(async move { shared.dispatch(exchange).await })
    }
}

pub(crate) fn register_types(registry: &mut TypeRegistry) {
    registry.register_native(
        &["Router", "RouterHandler"],
        ObjectKind::Handler,
        RouterHandler::from_declaration,
    );
}
