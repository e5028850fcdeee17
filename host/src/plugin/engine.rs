//! One wasmtime engine per process: epoch interruption driven by a ticker thread, the pooling
//! allocator sized by the memory cap, and the on-disk compilation cache.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::epoch::TICKER;
use super::state::StoreState;

/// How often the epoch advances: the granularity of the CPU deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How long the epoch ticker runs on with no plugin code armed or running before it parks
/// (`epoch.rs`).
const TICKER_IDLE: Duration = Duration::from_secs(1);

pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<StoreState>,
    /// The same imports with the blocking operations of stdio streams defined as plain
    /// calls, for components that can wait on nothing else (`loader::compile` decides).
    pub immediate_linker: Linker<StoreState>,
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The process-wide runtime, created on first use with the memory cap of the first
/// configuration that asks (the pooling allocator's slots are sized once per process).
pub fn runtime(memory: usize) -> Result<&'static Runtime, String> {
    RUNTIME
        .get_or_init(|| build(memory).map_err(|error| format!("{error:#}")))
        .as_ref()
        .map_err(Clone::clone)
}

fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FERROGATE_CACHE") {
        return Some(PathBuf::from(dir).join("wasmtime"));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("ferrogate").join("wasmtime"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/ferrogate/wasmtime"))
}

fn build(memory: usize) -> wasmtime::Result<Runtime> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .max_memory_size(memory)
        .total_component_instances(1000)
        .total_core_instances(4000)
        .total_memories(2000)
        .total_tables(4000)
        .max_core_instances_per_component(50)
        .max_memories_per_component(10)
        .max_tables_per_component(50)
        // Reset a slot in place rather than unmapping it: a fresh instance then costs a
        // memset of what it touched, not page faults (see docs/plugin-runtime.md, measured).
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(2 << 20)
        .pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    if let Some(dir) = cache_dir()
        && std::fs::create_dir_all(&dir).is_ok()
    {
        let mut cache = wasmtime::CacheConfig::new();
        cache.with_directory(dir);
        match wasmtime::Cache::new(cache) {
            Ok(cache) => {
                config.cache(Some(cache));
            }
            Err(error) => tracing::warn!(%error, "plugin compilation cache disabled"),
        }
    }
    let engine = Engine::new(&config)?;
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("ferrogate-epoch".into())
        .spawn(move || {
            TICKER.run(EPOCH_TICK, TICKER_IDLE, || {
                let Some(engine) = ticker.upgrade() else {
                    return false;
                };
                engine.increment_epoch();
                true
            });
        })?;
    let linker = imports(&engine)?;
    let mut immediate_linker = imports(&engine)?;
    super::wasi_streams::define_sync(&mut immediate_linker)?;
    Ok(Runtime {
        engine,
        linker,
        immediate_linker,
    })
}

/// WASI (with no files, network or environment; see `StoreState`) and the plugin contract.
fn imports(engine: &Engine) -> wasmtime::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    super::bindings::FilterPlugin::add_to_linker::<_, wasmtime::component::HasSelf<StoreState>>(
        &mut linker,
        |state| state,
    )?;
    Ok(linker)
}
