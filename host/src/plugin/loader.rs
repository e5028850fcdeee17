//! Plugin files: compiled once (through the engine's on-disk cache), asked for their types,
//! and swapped for a new version when the file changes (polled).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use wasmtime::component::Component;

use super::bindings::{FilterPluginPre, HandlerPluginPre, Kind};
use super::engine::Runtime;
use super::state::{ObjectInfo, StoreState};

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// One compiled version of a plugin file.
pub struct Compiled {
    pub generation: u64,
    pub filter: Option<FilterPluginPre<StoreState>>,
    pub handler: Option<HandlerPluginPre<StoreState>>,
    pub types: Vec<(String, Kind)>,
    engine: wasmtime::Engine,
}

impl Compiled {
    pub fn pre_engine(&self) -> &wasmtime::Engine {
        &self.engine
    }
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

/// Compiles a component (through the engine's disk cache) and reads its types by running
/// `plugin.types` in a throwaway instance.
pub fn compile(runtime: &Runtime, origin: &str, wasm: &[u8]) -> Result<Compiled, String> {
    let component = Component::from_binary(&runtime.engine, wasm).map_err(|e| format!("{e:#}"))?;
    let pre = runtime
        .linker
        .instantiate_pre(&component)
        .map_err(|e| format!("{e:#}"))?;
    let filter = FilterPluginPre::new(pre.clone()).ok();
    let handler = if filter.is_none() {
        Some(HandlerPluginPre::new(pre).map_err(|e| {
            format!("exports neither the filter-plugin nor the handler-plugin world: {e:#}")
        })?)
    } else {
        None
    };
    let info = Arc::new(ObjectInfo {
        type_name: String::new(),
        object_name: String::new(),
        route: None,
        file: origin.to_owned(),
        config: "{}".into(),
        declaration: "{}".into(),
        secrets: Vec::new(),
        client: None,
        secrets_provider: None,
        handlers: std::sync::OnceLock::new(),
        filters: std::sync::OnceLock::new(),
        decoration_point: None,
    });
    let types = super::block_on(async {
        let mut store = wasmtime::Store::new(&runtime.engine, StoreState::new(info));
        store.set_epoch_deadline(200);
        let types: Vec<(String, Kind)> = if let Some(pre) = &filter {
            let instance = pre.instantiate_async(&mut store).await?;
            instance
                .ferrogate_plugin_plugin()
                .call_types(&mut store)
                .await?
                .into_iter()
                .map(|info| (info.name, info.kind))
                .collect()
        } else if let Some(pre) = &handler {
            let instance = pre.instantiate_async(&mut store).await?;
            instance
                .ferrogate_plugin_plugin()
                .call_types(&mut store)
                .await?
                .into_iter()
                .map(|info| (info.name, super::bindings::handler_kind(info.kind)))
                .collect()
        } else {
            Vec::new()
        };
        wasmtime::Result::<_>::Ok(types)
    })?
    .map_err(|e| format!("plugin.types failed: {e:#}"))?;
    Ok(Compiled {
        generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        filter,
        handler,
        types,
        engine: runtime.engine.clone(),
    })
}

pub fn open(runtime: &Runtime, path: &Path) -> Result<Arc<PluginFile>, String> {
    let stamp = modified(path);
    let wasm = std::fs::read(path).map_err(|error| format!("cannot read it: {error}"))?;
    let origin = path.display().to_string();
    let compiled = compile(runtime, &origin, &wasm)?;
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
    let compiled = compile(runtime, &origin, wasm)?;
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
        .and_then(|wasm| compile(runtime, &file.origin, &wasm));
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
