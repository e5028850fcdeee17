//! Plugin files: compiled once (through the engine's on-disk cache), asked for their types,
//! and swapped for a new version when the file changes (polled).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

pub struct PluginFile {
    pub path: PathBuf,
    current: ArcSwap<Compiled>,
    modified: std::sync::Mutex<Option<SystemTime>>,
}

impl PluginFile {
    pub fn current(&self) -> Arc<Compiled> {
        self.current.load_full()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Compiles a file and reads its types by running `plugin.types` in a throwaway instance.
pub fn compile(runtime: &Runtime, path: &Path) -> Result<Compiled, String> {
    let component = Component::from_file(&runtime.engine, path).map_err(|e| format!("{e:#}"))?;
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
        file: path.display().to_string(),
        config: "{}".into(),
        secrets: Vec::new(),
        client: None,
        secrets_provider: None,
        handlers: std::sync::OnceLock::new(),
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
    let compiled = compile(runtime, path)?;
    Ok(Arc::new(PluginFile {
        path: path.to_path_buf(),
        modified: std::sync::Mutex::new(modified(path)),
        current: ArcSwap::from_pointee(compiled),
    }))
}

/// Polls the files every `interval`: a changed file is recompiled and new instances use it.
pub fn watch(runtime: &'static Runtime, files: Vec<Arc<PluginFile>>, interval: Duration) {
    if files.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("ferrogate-plugin-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                for file in &files {
                    let now = modified(&file.path);
                    let Ok(mut last) = file.modified.lock() else { continue };
                    if now.is_none() || now == *last {
                        continue;
                    }
                    match compile(runtime, &file.path) {
                        Ok(compiled) => {
                            *last = now;
                            tracing::info!(file = %file.path.display(), "plugin reloaded");
                            file.current.store(Arc::new(compiled));
                        }
                        // Possibly half written: try again at the next poll.
                        Err(error) => tracing::warn!(file = %file.path.display(), %error, "plugin reload failed; the previous version stays"),
                    }
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot watch plugin files");
    }
}
