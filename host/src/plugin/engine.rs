//! One wasmtime engine per process: epoch interruption driven by a ticker thread, the pooling
//! allocator sized by the memory cap and the instance slots (or, where the process may not
//! reserve the pool's address space, instances allocated on demand under a per-store
//! limiter), the on-disk compilation cache, and on request the names of the compiled code for
//! perf.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
    StoreLimits, StoreLimitsBuilder,
};

use super::epoch::TICKER;
use super::state::StoreState;

/// How often the epoch advances: the granularity of the CPU deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// How long the epoch ticker runs on with no plugin code armed or running before it parks
/// (`epoch.rs`).
const TICKER_IDLE: Duration = Duration::from_secs(1);

pub struct Runtime {
    pub engine: Engine,
    /// What it was sized by (the first configuration's).
    pub sizing: Sizing,
    /// How instances get their memories: from the pool, or on demand with the cap enforced by
    /// each store's limiter.
    pub allocation: Allocation,
    pub linker: Linker<StoreState>,
    /// The same imports with the blocking operations of stdio streams defined as plain
    /// calls, for components that can wait on nothing else (`loader::compile` decides).
    pub immediate_linker: Linker<StoreState>,
}

/// Where the memories and tables of instances come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// The pooling allocator: slots reserved once, kept resident between instances; the cap is
    /// the slot size.
    Pooling,
    /// Allocated per instance, because the pool's reservation (terabytes of address space
    /// for a thousand slots) was refused: an address-space limit (`ulimit -v`), or a tool such
    /// as valgrind. Memories reserve their cap and no more; each store's limiter refuses
    /// growth beyond it.
    OnDemand { memory: usize },
}

impl Runtime {
    /// Limits for a new store: none with the pool (its slots are the cap), the memory cap on
    /// demand. `Store::limiter` is to be set from `StoreState::limits` when this is `Some`.
    pub fn store_limits(&self) -> Option<StoreLimits> {
        store_limits(self.allocation)
    }
}

fn store_limits(allocation: Allocation) -> Option<StoreLimits> {
    match allocation {
        Allocation::Pooling => None,
        Allocation::OnDemand { memory } => Some(
            StoreLimitsBuilder::new()
                .memory_size(memory)
                .trap_on_grow_failure(false)
                .build(),
        ),
    }
}

/// Puts a new store under `limits` (see [`Runtime::store_limits`]), if any.
pub fn limit(store: &mut wasmtime::Store<StoreState>, limits: Option<StoreLimits>) {
    if let Some(limits) = limits {
        store.data_mut().limits = limits;
        store.limiter(|state| &mut state.limits);
    }
}

/// The slots of the process-wide instance pool; `None` before the runtime is made or when
/// instances are allocated on demand (no slot limit).
pub fn instance_slots() -> Option<u32> {
    let runtime = RUNTIME.get()?.as_ref().ok()?;
    (runtime.allocation == Allocation::Pooling).then_some(runtime.sizing.instance_slots)
}

/// The limits of the process-wide runtime for a new store; `None` with the pool.
pub fn current_store_limits() -> Option<StoreLimits> {
    RUNTIME.get()?.as_ref().ok()?.store_limits()
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// What the pooling allocator is sized by: fixed for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    /// The linear memory cap of one instance, in bytes.
    pub memory: usize,
    /// How many component instances may exist at once, idle ones included.
    pub instance_slots: u32,
}

impl Sizing {
    pub const DEFAULT_INSTANCE_SLOTS: u32 = 1000;
}

impl Default for Sizing {
    fn default() -> Self {
        Sizing {
            memory: 64 << 20,
            instance_slots: Self::DEFAULT_INSTANCE_SLOTS,
        }
    }
}

/// The process-wide runtime, created on first use with the sizing of the first configuration
/// that asks (the pooling allocator reserves its slots once per process).
pub fn runtime(sizing: Sizing) -> Result<&'static Runtime, String> {
    RUNTIME
        .get_or_init(|| build(sizing).map_err(|error| format!("{error:#}")))
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

/// The name of wasmtime's cache worker thread (at most 15 bytes: Linux cuts longer ones).
const CACHE_WORKER: &str = "wasmtime-cache";

/// Makes the cache on a thread of its own, named [`CACHE_WORKER`]: wasmtime spawns its worker
/// thread from there without naming it, and Linux gives an unnamed thread its parent's name.
/// Made on a runtime thread, the worker would show in top and perf as one more
/// `tokio-rt-worker`.
fn named_cache(config: wasmtime::CacheConfig) -> wasmtime::Result<wasmtime::Cache> {
    std::thread::Builder::new()
        .name(CACHE_WORKER.into())
        .spawn(move || wasmtime::Cache::new(config))
        .map_err(|error| wasmtime::format_err!("starting the cache worker: {error}"))?
        .join()
        .map_err(|_| wasmtime::format_err!("the cache worker panicked while starting"))?
}

/// The compilation cache in `dir`, its artifacts kept at the level they were written with.
/// wasmtime's default recompresses an artifact at zstd level 20 once it has been loaded 256
/// times, in a thread of the loading process: every start loads each plugin, so a gateway's
/// 256th start spent 3.7 s of CPU on its serving core and peaked at 204 MiB of RSS (35 MiB
/// after) to save a seventh of the cache's disk space (docs/plugin-runtime.md).
fn cache_config(dir: PathBuf) -> wasmtime::CacheConfig {
    let mut cache = wasmtime::CacheConfig::new();
    let baseline = cache.baseline_compression_level();
    cache
        .with_directory(dir)
        .with_optimized_compression_level(baseline);
    cache
}

/// The pooling allocator's settings. A component instance is a handful of core instances
/// (the main module and the shims between it and its imports), usually one memory and a few
/// tables: every slot brings room for four core instances, two memories, four tables and a
/// fiber stack, so that the component instances run out first and the error names them.
/// A store runs at most one call, on one stack, at a time: one stack per slot.
fn pooling(sizing: Sizing) -> PoolingAllocationConfig {
    let slots = sizing.instance_slots;
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .max_memory_size(sizing.memory)
        .total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(4))
        .total_memories(slots.saturating_mul(2))
        .total_tables(slots.saturating_mul(4))
        .total_stacks(slots)
        .max_core_instances_per_component(50)
        .max_memories_per_component(10)
        .max_tables_per_component(50)
        // Reset a slot in place rather than unmapping it: a fresh instance then costs a
        // memset of what it touched, not page faults (see docs/plugin-runtime.md, measured).
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(2 << 20)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pooling
}

/// Whether `FERROGATE_PERF_MAP` asks for a perf map: set, and neither empty nor `0`.
fn perf_map_requested(value: Option<&OsStr>) -> bool {
    value.is_some_and(|value| !value.is_empty() && value != "0")
}

/// Where perf looks for the names of a process's just-in-time compiled code.
fn perf_map_path() -> PathBuf {
    PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// With `FERROGATE_PERF_MAP=1`, wasmtime appends a line to `/tmp/perf-PID.map` for each
/// function it compiles or loads from the cache, and perf then names samples in a plugin's
/// code instead of lumping them under `[perf-PID.map]`. Off by default: the file stays after
/// the process ends and grows with every reload. A map that cannot be written leaves the
/// gateway running without one, since wasmtime would otherwise refuse to build the engine.
fn perf_map() -> bool {
    if !perf_map_requested(std::env::var_os("FERROGATE_PERF_MAP").as_deref()) {
        return false;
    }
    let path = perf_map_path();
    match std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
    {
        Ok(_) => {
            tracing::info!(
                path = %path.display(),
                "FERROGATE_PERF_MAP: the plugins' compiled functions are named for perf in this \
                 file; it is not removed when the gateway stops"
            );
            true
        }
        Err(error) => {
            tracing::warn!(
                path = %path.display(),
                %error,
                "FERROGATE_PERF_MAP: cannot write the perf map; perf will not name the plugins' \
                 compiled code"
            );
            false
        }
    }
}

fn config(
    allocation: Allocation,
    sizing: Sizing,
    perf_map: bool,
    cache: Option<&wasmtime::Cache>,
) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    if perf_map {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    match allocation {
        Allocation::Pooling => {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(sizing)));
        }
        Allocation::OnDemand { memory } => {
            // Each memory reserves its cap (and a guard) instead of 4 GiB: the reason for
            // this mode is an address space too small for large reservations. Bounds checks
            // are then explicit in the compiled code, which is slower but the same sandbox.
            config
                .allocation_strategy(InstanceAllocationStrategy::OnDemand)
                .memory_reservation(memory as u64)
                .memory_guard_size(64 << 10)
                .memory_reservation_for_growth(0);
        }
    }
    config.cache(cache.cloned());
    config
}

/// The on-disk compilation cache, made once: both configurations `engine` may try share it
/// (and its worker thread).
fn compilation_cache() -> Option<wasmtime::Cache> {
    let dir = cache_dir()?;
    std::fs::create_dir_all(&dir).ok()?;
    named_cache(cache_config(dir))
        .inspect_err(|error| tracing::warn!(%error, "plugin compilation cache disabled"))
        .ok()
}

/// The engine with the pooling allocator, or, when its reservation is refused, with instances
/// allocated on demand (logged: plugin instances then cost more to create).
fn engine(
    sizing: Sizing,
    perf_map: bool,
    cache: Option<&wasmtime::Cache>,
) -> wasmtime::Result<(Engine, Allocation)> {
    match Engine::new(&config(Allocation::Pooling, sizing, perf_map, cache)) {
        Ok(engine) => Ok((engine, Allocation::Pooling)),
        Err(pool_error) => {
            let allocation = Allocation::OnDemand {
                memory: sizing.memory,
            };
            let engine =
                Engine::new(&config(allocation, sizing, perf_map, cache)).map_err(|error| {
                    wasmtime::format_err!(
                        "{error:#} (the pooling allocator was refused too: {pool_error:#})"
                    )
                })?;
            tracing::warn!(
                error = %format!("{pool_error:#}"),
                "the plugin instance pool could not reserve its address space (an address-space \
                 limit such as `ulimit -v`, or a tool such as valgrind); plugin instances are \
                 allocated on demand instead, with the same memory cap, at a higher cost per \
                 new instance. Raise the limit to get the pool back."
            );
            Ok((engine, allocation))
        }
    }
}

fn build(sizing: Sizing) -> wasmtime::Result<Runtime> {
    let (engine, allocation) = engine(sizing, perf_map(), compilation_cache().as_ref())?;
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
        sizing,
        allocation,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_perf_map_is_asked_for_by_any_value_but_empty_and_zero() {
        assert!(perf_map_requested(Some(OsStr::new("1"))));
        assert!(perf_map_requested(Some(OsStr::new("yes"))));
        assert!(!perf_map_requested(Some(OsStr::new("0"))));
        assert!(!perf_map_requested(Some(OsStr::new(""))));
        assert!(!perf_map_requested(None));
    }

    #[test]
    fn the_cache_worker_thread_is_named_for_what_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let _cache = named_cache(cache_config(dir.path().to_owned())).unwrap();
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim_end().to_owned())
            .collect();
        assert!(names.iter().any(|name| name == CACHE_WORKER), "{names:?}");
    }

    #[test]
    fn cached_artifacts_are_not_recompressed_however_often_they_are_loaded() {
        let cache = cache_config(PathBuf::from("/nonexistent"));
        assert!(cache.optimized_compression_level() <= cache.baseline_compression_level());
    }
}
