//! Plugin files: compiled once (through the engine's on-disk cache), asked for their types,
//! and swapped for a new version when the file changes (polled).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre};

use super::bindings::{FilterPlugin, FilterPluginPre, HandlerPlugin, HandlerPluginPre, Kind};
use super::engine::Runtime;
use super::state::{ObjectInfo, StoreState};

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// One compiled version of a plugin file.
pub struct Compiled {
    pub generation: u64,
    pub filter: Option<FilterPluginPre<StoreState>>,
    pub handler: Option<HandlerPluginPre<StoreState>>,
    pub types: Vec<(String, Kind)>,
    /// Where the calls of the world it exports are, found once per version.
    pub exports: Exports,
    /// Whether the component can wait on nothing: its instances are then called without a
    /// fiber (see `object::run_call`).
    pub immediate: bool,
    engine: wasmtime::Engine,
}

/// The calls of a component's world.
pub enum Exports {
    Filter {
        init: ComponentExportIndex,
        on_request: ComponentExportIndex,
        on_response: ComponentExportIndex,
        /// The optional `objects` interface: instances serving several objects.
        objects: Option<ObjectsExports>,
    },
    Handler {
        init: ComponentExportIndex,
        handle: ComponentExportIndex,
    },
}

/// Where a component's `objects` calls are.
pub struct ObjectsExports {
    pub init_object: ComponentExportIndex,
    pub on_request_all: ComponentExportIndex,
    pub on_response_all: ComponentExportIndex,
}

const OBJECTS_INTERFACE: &str = "ferrogate:plugin/objects@0.1.0";

fn locate_call(
    component: &Component,
    interface: &str,
    name: &str,
) -> Result<ComponentExportIndex, String> {
    component
        .get_export_index(None, interface)
        .and_then(|interface| component.get_export_index(Some(&interface), name))
        .ok_or_else(|| format!("the component does not export {interface}#{name}"))
}

impl Exports {
    fn locate(component: &Component, filter: bool) -> Result<Exports, String> {
        let interface = if filter {
            "ferrogate:plugin/filter@0.1.0"
        } else {
            "ferrogate:plugin/handler@0.1.0"
        };
        let call = |name: &str| locate_call(component, interface, name);
        Ok(if filter {
            Exports::Filter {
                init: call("init")?,
                on_request: call("on-request")?,
                on_response: call("on-response")?,
                objects: ObjectsExports::locate(component)?,
            }
        } else {
            Exports::Handler {
                init: call("init")?,
                handle: call("handle")?,
            }
        })
    }
}

impl ObjectsExports {
    /// None when the component does not export the interface; an error when it exports only
    /// part of it.
    fn locate(component: &Component) -> Result<Option<ObjectsExports>, String> {
        if component
            .get_export_index(None, OBJECTS_INTERFACE)
            .is_none()
        {
            return Ok(None);
        }
        let call = |name: &str| locate_call(component, OBJECTS_INTERFACE, name);
        Ok(Some(ObjectsExports {
            init_object: call("init-object")?,
            on_request_all: call("on-request-all")?,
            on_response_all: call("on-response-all")?,
        }))
    }
}

impl Compiled {
    /// The `objects` calls, when the component can serve several objects in one instance.
    pub fn objects(&self) -> Option<&ObjectsExports> {
        match &self.exports {
            Exports::Filter { objects, .. } => objects.as_ref(),
            Exports::Handler { .. } => None,
        }
    }

    pub fn pre_engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    pub fn instance_pre(&self) -> Option<&InstancePre<StoreState>> {
        match (&self.filter, &self.handler) {
            (Some(filter), _) => Some(filter.instance_pre()),
            (None, Some(handler)) => Some(handler.instance_pre()),
            (None, None) => None,
        }
    }
}

/// Whether the component imports a source of pollables and streams that may wait: a clock
/// subscription, sockets or files. Its stdio streams are then not all it can wait on.
fn imports_waiting_sources(component: &Component, engine: &wasmtime::Engine) -> bool {
    component
        .component_type()
        .imports(engine)
        .any(|(name, import)| {
            if name.starts_with("wasi:sockets/") || name.starts_with("wasi:filesystem/") {
                return true;
            }
            let ComponentItem::ComponentInstance(instance) = import.ty else {
                return false;
            };
            name.starts_with("wasi:clocks/")
                && instance
                    .exports(engine)
                    .any(|(function, _)| function.starts_with("subscribe"))
        })
}

/// A plugin component and its current compiled version.
pub struct PluginFile {
    /// Where it comes from, for logs and errors: a file path, or `embedded:<crate>`.
    pub origin: String,
    /// The file to watch for a new version; `None` for plugins embedded in the binary.
    pub path: Option<PathBuf>,
    current: ArcSwap<Compiled>,
    /// `current`'s generation, read on every call to tell a pooled instance of an older
    /// version: an atomic load instead of taking a reference to the whole version.
    generation: AtomicU64,
    modified: std::sync::Mutex<Option<SystemTime>>,
}

impl PluginFile {
    /// Whether the component is one of the standard plugins built into the binary: the
    /// gateway's own code, which may be called directly and logs without a budget.
    pub fn is_embedded(&self) -> bool {
        self.path.is_none()
    }

    fn new(
        origin: String,
        path: Option<PathBuf>,
        stamp: Option<SystemTime>,
        compiled: Compiled,
    ) -> Self {
        PluginFile {
            origin,
            path,
            generation: AtomicU64::new(compiled.generation),
            modified: std::sync::Mutex::new(stamp),
            current: ArcSwap::from_pointee(compiled),
        }
    }

    pub fn current(&self) -> Arc<Compiled> {
        self.current.load_full()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn replace(&self, compiled: Compiled) {
        let generation = compiled.generation;
        self.current.store(Arc::new(compiled));
        self.generation.store(generation, Ordering::Release);
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Where a component comes from, which decides how its calls run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The standard library compiled into the binary: the gateway's own code. When it can
    /// wait on nothing its calls are plain calls, which cannot give the worker back while
    /// they run (the deadline still ends one that runs too long).
    Embedded,
    /// A plugin folder: always on a fiber, so that a plugin that spins gives its worker back
    /// to other requests at every epoch tick until its deadline.
    Folder,
}

/// Compiles a component (through the engine's disk cache) and learns from one throwaway
/// instance how its calls run and which plugin types it provides.
pub fn compile(
    runtime: &Runtime,
    origin: &str,
    wasm: &[u8],
    source: Source,
) -> Result<Compiled, String> {
    let component = Component::from_binary(&runtime.engine, wasm).map_err(|e| format!("{e:#}"))?;
    let info = Arc::new(ObjectInfo::probe(origin));
    let new_store = || {
        let mut store = wasmtime::Store::new(&runtime.engine, StoreState::new(info.clone()));
        super::engine::limit(&mut store, runtime.store_limits());
        super::epoch::TICKER.keep_ticking();
        store.set_epoch_deadline(200);
        store
    };
    let direct = match source {
        Source::Embedded => instantiate_direct(runtime, &component, new_store),
        Source::Folder => None,
    };
    let immediate = direct.is_some();
    let (pre, mut store, instance) = match direct {
        Some(direct) => direct,
        None => {
            let pre = runtime
                .linker
                .instantiate_pre(&component)
                .map_err(|e| format!("{e:#}"))?;
            // A plugin reloaded while the instance pool is full of other objects' idle
            // instances makes room as any instantiation does, and waits for a slot as long as
            // a call of an object with the default deadline would.
            let wait = super::Limits::default().deadline;
            let (store, instance) = super::block_on(super::pool::with_room(wait, || async {
                let mut store = new_store();
                let instantiated = pre.instantiate_async(&mut store).await;
                instantiated.map(|instance| (store, instance))
            }))?
            .map_err(|e| format!("instantiation failed: {e:#}"))?;
            (pre, store, instance)
        }
    };
    let filter = FilterPluginPre::new(pre.clone()).ok();
    let handler = if filter.is_none() {
        Some(HandlerPluginPre::new(pre).map_err(|e| {
            format!("exports neither the filter-plugin nor the handler-plugin world: {e:#}")
        })?)
    } else {
        None
    };
    let types = super::block_on(async {
        let types: Vec<(String, Kind)> = if filter.is_some() {
            FilterPlugin::new(&mut store, &instance)?
                .ferrogate_plugin_plugin()
                .call_types(&mut store)
                .await?
                .into_iter()
                .map(|info| (info.name, info.kind))
                .collect()
        } else {
            HandlerPlugin::new(&mut store, &instance)?
                .ferrogate_plugin_plugin()
                .call_types(&mut store)
                .await?
                .into_iter()
                .map(|info| (info.name, super::bindings::handler_kind(info.kind)))
                .collect()
        };
        wasmtime::Result::<_>::Ok(types)
    })?
    .map_err(|e| format!("plugin.types failed: {e:#}"))?;
    let exports = Exports::locate(&component, filter.is_some())?;
    Ok(Compiled {
        generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        filter,
        handler,
        types,
        exports,
        immediate,
        engine: runtime.engine.clone(),
    })
}

/// A component's instance template, and one instance of it in a store of its own.
type Instantiated = (
    InstancePre<StoreState>,
    wasmtime::Store<StoreState>,
    wasmtime::component::Instance,
);

/// The component instantiated on the immediate linker, when it can wait on nothing: it
/// reaches no waiting source, and wasmtime (which refuses a synchronous instantiation exactly
/// when an import the component uses is async) instantiates it synchronously.
fn instantiate_direct(
    runtime: &Runtime,
    component: &Component,
    new_store: impl FnOnce() -> wasmtime::Store<StoreState>,
) -> Option<Instantiated> {
    if imports_waiting_sources(component, &runtime.engine) {
        return None;
    }
    let pre = runtime.immediate_linker.instantiate_pre(component).ok()?;
    let mut store = new_store();
    let instance = pre.instantiate(&mut store).ok()?;
    Some((pre, store, instance))
}

pub fn open(runtime: &Runtime, path: &Path) -> Result<Arc<PluginFile>, String> {
    let stamp = modified(path);
    let wasm = std::fs::read(path).map_err(|error| format!("cannot read it: {error}"))?;
    let origin = path.display().to_string();
    let compiled = compile(runtime, &origin, &wasm, Source::Folder)?;
    Ok(Arc::new(PluginFile::new(
        origin,
        Some(path.to_path_buf()),
        stamp,
        compiled,
    )))
}

/// A plugin compiled into the binary (see host/build.rs).
pub fn open_embedded(
    runtime: &Runtime,
    name: &str,
    wasm: &[u8],
) -> Result<Arc<PluginFile>, String> {
    let origin = format!("embedded:{name}");
    let compiled = compile(runtime, &origin, wasm, Source::Embedded)?;
    Ok(Arc::new(PluginFile::new(origin, None, None, compiled)))
}

/// Polls the files every `interval`: a changed file is recompiled and new instances use it.
/// The watcher holds the files weakly and ends when the gateway that loaded them is gone.
pub fn watch(runtime: &'static Runtime, files: &[Arc<PluginFile>], interval: Duration) {
    let files: Vec<Weak<PluginFile>> = files
        .iter()
        .filter(|file| file.path.is_some())
        .map(Arc::downgrade)
        .collect();
    if files.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("ferrogate-plugin-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let live: Vec<Arc<PluginFile>> = files.iter().filter_map(Weak::upgrade).collect();
                if live.is_empty() {
                    return;
                }
                for file in &live {
                    reload_if_changed(runtime, file);
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot watch plugin files; plugin changes need a restart");
    }
}

fn reload_if_changed(runtime: &Runtime, file: &PluginFile) {
    let Some(path) = &file.path else { return };
    let now = modified(path);
    let Ok(mut last) = file.modified.lock() else {
        return;
    };
    if now.is_none() || now == *last {
        return;
    }
    let compiled = std::fs::read(path)
        .map_err(|error| format!("cannot read it: {error}"))
        .and_then(|wasm| compile(runtime, &file.origin, &wasm, Source::Folder));
    match compiled {
        Ok(compiled) => {
            *last = now;
            tracing::info!(plugin = %file.origin, "plugin reloaded; new requests use the new version");
            file.replace(compiled);
        }
        // Possibly half written (a copy in progress): the next poll tries again.
        Err(error) => tracing::warn!(
            plugin = %file.origin,
            %error,
            "plugin reload failed; the previous version keeps serving"
        ),
    }
}
