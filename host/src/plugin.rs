//! The WebAssembly plugin runtime: filters, handlers and decorators provided by components
//! that implement `sdk/wit/plugin.wit`, registered in the type registry by type name.
//!
//! Configured by the Ferrogate extension key `"plugins"` of config.json:
//! `{"directories": ["plugins"], "deadline": "1 second", "memory": "64 MiB", "instances": "reuse",
//! "instanceSlots": 1000, "logRecordsPerSecond": 100}`.

pub mod bindings;
pub mod embedded;
pub mod engine;
pub mod epoch;
mod imports;
pub mod loader;
pub mod log_budget;
pub mod object;
mod pool;
pub mod run;
pub mod shared;
pub mod state;
mod stderr;
mod wasi_streams;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{ConfigError, Located};
use crate::heap::{Factory, HeapObject, ObjectKind, TypeRegistry};
use bindings::Kind;
use engine::Runtime;
use loader::PluginFile;
use object::{PluginDecorator, PluginFilter, PluginHandler, PluginObject};
use state::ObjectInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceMode {
    /// A small pool of instances per object, state kept between requests.
    #[default]
    Reuse,
    /// A new instance for every request.
    Fresh,
}

/// Limits applied to every plugin call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub deadline: Duration,
    pub memory: usize,
    pub instances: InstanceMode,
    /// Component instances the process may hold at once (`engine::Sizing`).
    pub instance_slots: u32,
    /// Records a plugin object from a folder may log per second.
    pub log_records_per_second: u32,
}

impl Limits {
    /// What the process-wide runtime is sized by, taken from the first configuration loaded.
    pub fn sizing(&self) -> engine::Sizing {
        engine::Sizing {
            memory: self.memory,
            instance_slots: self.instance_slots,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        let sizing = engine::Sizing::default();
        Limits {
            deadline: Duration::from_secs(1),
            memory: sizing.memory,
            instances: InstanceMode::Reuse,
            instance_slots: sizing.instance_slots,
            log_records_per_second: log_budget::DEFAULT_PER_SECOND,
        }
    }
}

/// config.json's `"plugins"`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// Directories whose `*.wasm` files are loaded, relative to the configuration directory.
    #[serde(default)]
    pub directories: Vec<PathBuf>,
    /// Time one call may run, e.g. "1 second".
    pub deadline: Option<String>,
    /// Linear memory cap per instance, e.g. "64 MiB".
    pub memory: Option<String>,
    /// "reuse" or "fresh".
    #[serde(default)]
    pub instances: InstanceMode,
    /// Component instances the process may hold at once, idle ones included.
    #[serde(rename = "instanceSlots")]
    pub instance_slots: Option<u32>,
    /// Records one object of a plugin from a folder may log per second.
    #[serde(rename = "logRecordsPerSecond")]
    pub log_records_per_second: Option<u32>,
}

fn parse_memory(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("invalid size \"{text}\""))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "kb" | "k" => 1 << 10,
        "mib" | "mb" | "m" => 1 << 20,
        "gib" | "gb" | "g" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit \"{other}\" (use KiB, MiB or GiB)"
            ));
        }
    };
    Ok(number.saturating_mul(factor))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    match crate::config::duration::duration_from_json(
        &serde_json::Value::String(text.to_owned()),
        Duration::from_millis(1),
    )? {
        crate::config::duration::IgDuration::Finite(duration) => Ok(duration),
        _ => Err("the plugin deadline must be finite".into()),
    }
}

/// Runs a future to completion on a private current-thread runtime in a scoped thread: works
/// from synchronous code whether or not a runtime is running on this thread.
pub fn block_on<F>(future: F) -> Result<F::Output, String>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .map(|runtime| runtime.block_on(future))
                    .map_err(|error| error.to_string())
            })
            .join()
            .map_err(|_| "plugin initialisation panicked".to_owned())?
    })
}

/// Reads `"plugins"` from config.json in `config_dir`; defaults when absent.
pub fn settings_from_config(config_dir: &Path) -> Result<(PluginSettings, Limits), ConfigError> {
    let path = config_dir.join("config.json");
    let Some((doc, value)) = crate::config::read_optional(&path)? else {
        return Ok((PluginSettings::default(), Limits::default()));
    };
    let root = Located::new(&doc, "", &value);
    let Some(at) = root.get("plugins") else {
        return Ok((PluginSettings::default(), Limits::default()));
    };
    let settings: PluginSettings = crate::config::typed::decode(at.doc, &at.pointer, at.value)?;
    let mut limits = Limits {
        instances: settings.instances,
        ..Limits::default()
    };
    if let Some(deadline) = &settings.deadline {
        limits.deadline = parse_duration(deadline)
            .map_err(|reason| at.error(format!("\"deadline\": {reason}")))?;
    }
    if let Some(memory) = &settings.memory {
        limits.memory =
            parse_memory(memory).map_err(|reason| at.error(format!("\"memory\": {reason}")))?;
        if limits.memory < MIN_MEMORY {
            return Err(at.error(format!(
                "\"memory\": {memory} is too small for a component; use at least 1 MiB"
            )));
        }
    }
    if let Some(slots) = settings.instance_slots {
        if !INSTANCE_SLOTS.contains(&slots) {
            return Err(at.error(format!(
                "\"instanceSlots\": {slots} is out of range; use {} to {} (each slot reserves \
                 about 8 GiB of address space, none of it resident)",
                INSTANCE_SLOTS.start(),
                INSTANCE_SLOTS.end()
            )));
        }
        limits.instance_slots = slots;
    }
    if let Some(per_second) = settings.log_records_per_second {
        if per_second == 0 {
            return Err(at.error(
                "\"logRecordsPerSecond\": 0 would drop every record a plugin logs; use at least 1",
            ));
        }
        limits.log_records_per_second = per_second;
    }
    Ok((settings, limits))
}

/// The smallest memory cap that still fits a component's data and stack.
const MIN_MEMORY: usize = 1 << 20;

/// The instance slots a configuration may ask for. Below 16, a component with many core
/// instances (up to 50, `engine::pooling`) would not fit at all; above 10,000, the pool's
/// reservation (two memories of 4 GiB and their guards per slot) nears the 128 TiB of address
/// space a process has on x86-64.
const INSTANCE_SLOTS: std::ops::RangeInclusive<u32> = 16..=10_000;

/// The plugins of a gateway: the embedded standard plugins, then every `*.wasm` of the
/// configured directories, their types registered in `registry`. A type name provided twice
/// is an error naming both origins. Changed files are picked up while the returned handle
/// lives.
pub fn register(
    registry: &mut TypeRegistry,
    settings: &PluginSettings,
    limits: Limits,
    config_dir: &Path,
) -> Result<Plugins, ConfigError> {
    let runtime = engine::runtime(limits.sizing())
        .map_err(|e| ConfigError::new(format!("cannot start the plugin runtime: {e}")))?;
    let mut files = Vec::new();
    for file in embedded_files(runtime)? {
        add_types(registry, file, limits)?;
        files.push(file.clone());
    }
    for directory in &settings.directories {
        let directory = config_dir.join(directory);
        let entries = std::fs::read_dir(&directory).map_err(|error| {
            ConfigError::new(format!(
                "cannot read the plugin directory {} (config.json \"plugins\".\"directories\"): {error}",
                directory.display()
            ))
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
            .collect();
        paths.sort();
        for path in paths {
            let file = loader::open(runtime, &path).map_err(|error| {
                ConfigError::new(format!(
                    "plugin {}: {error}; fix or remove the file",
                    path.display()
                ))
            })?;
            add_types(registry, &file, limits)?;
            files.push(file);
        }
    }
    loader::watch(runtime, &files, RELOAD_POLL);
    Ok(Plugins { files })
}

/// The embedded plugins, compiled once per process (they cannot change while it runs).
fn embedded_files(runtime: &Runtime) -> Result<&'static [Arc<PluginFile>], ConfigError> {
    static EMBEDDED: OnceLock<Result<Vec<Arc<PluginFile>>, String>> = OnceLock::new();
    EMBEDDED
        .get_or_init(|| {
            embedded::EMBEDDED
                .iter()
                .map(|plugin| {
                    loader::open_embedded(runtime, plugin.name, plugin.wasm).map_err(|error| {
                        format!("the embedded plugin {} does not load: {error}", plugin.name)
                    })
                })
                .collect()
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(|error| ConfigError::new(error.clone()))
}

/// How often plugin files are checked for a new version.
const RELOAD_POLL: Duration = Duration::from_millis(500);

/// The loaded plugin components; dropping it stops watching their files.
pub struct Plugins {
    files: Vec<Arc<PluginFile>>,
}

impl Plugins {
    /// Each component's origin and the types it provides.
    pub fn components(&self) -> impl Iterator<Item = (&str, Vec<(String, Kind)>)> {
        self.files
            .iter()
            .map(|file| (file.origin.as_str(), file.current().types.clone()))
    }
}

/// The plugin metrics in Prometheus' text format (0.0.4): the instance pool's slots and the
/// waits for them, then the counters of plugin objects (the host's and what plugins add).
pub fn render_metrics(out: &mut String) {
    pool::render_metrics(out, engine::instance_slots());
    shared::render_metrics(out);
}

/// "filter", "handler" or "decorator".
pub fn describe_kind(kind: Kind) -> &'static str {
    match kind {
        Kind::Filter => "filter",
        Kind::Handler => "handler",
        Kind::Decorator => "decorator",
    }
}

fn add_types(
    registry: &mut TypeRegistry,
    file: &Arc<PluginFile>,
    limits: Limits,
) -> Result<(), ConfigError> {
    for (name, kind) in file.current().types.clone() {
        if let Some(existing) = registry.get(&name) {
            return Err(ConfigError::new(format!(
                "plugin type \"{name}\" of {} is already provided by {}; rename one of them",
                file.origin, existing.origin
            )));
        }
        registry.register(&name, factory(file.clone(), name.clone(), kind, limits));
    }
    Ok(())
}

fn collect_secret_ids(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(members) => {
            for (key, value) in members {
                if (key == "secretId" || key.ends_with("SecretId"))
                    && let serde_json::Value::String(id) = value
                {
                    out.push(id.clone());
                }
                collect_secret_ids(value, out);
            }
        }
        serde_json::Value::Array(items) => {
            items.iter().for_each(|item| collect_secret_ids(item, out))
        }
        _ => {}
    }
}

/// Where in the object's config a reference the plugin resolved is written, so that it
/// resolves (and errs) with the position of what the user wrote.
fn referenced_at<'d>(
    builder: &crate::heap::HeapBuilder<'d>,
    config: &Located<'d>,
    reference: &str,
) -> Result<Located<'d>, ConfigError> {
    let wanted: serde_json::Value = serde_json::from_str(reference)
        .unwrap_or_else(|_| serde_json::Value::String(reference.to_owned()));
    // The plugin saw its config with configuration-time expressions evaluated: look for the
    // reference as written first, then as the plugin saw it.
    find(config, &|at| at.value == &wanted)
        .or_else(|| {
            find(config, &|at| {
                builder.plugin_config_value(at).ok().as_ref() == Some(&wanted)
            })
        })
        .ok_or_else(|| {
            config.error(format!(
                "the plugin resolves the reference {reference}, which does not appear in its config"
            ))
        })
}

/// The first place in the config, depth first, that `matches`: references then resolve with
/// the positions of what the user wrote.
fn find<'d>(at: &Located<'d>, matches: &dyn Fn(&Located<'d>) -> bool) -> Option<Located<'d>> {
    if matches(at) {
        return Some(at.clone());
    }
    match at.value {
        serde_json::Value::Object(members) => members
            .keys()
            .filter_map(|key| at.get(key))
            .find_map(|child| find(&child, matches)),
        serde_json::Value::Array(items) => (0..items.len())
            .filter_map(|index| at.index(index))
            .find_map(|child| find(&child, matches)),
        _ => None,
    }
}

fn factory(file: Arc<PluginFile>, type_name: String, kind: Kind, limits: Limits) -> Factory {
    let object_kind = match kind {
        Kind::Filter => ObjectKind::Filter,
        Kind::Handler => ObjectKind::Handler,
        Kind::Decorator => ObjectKind::Decorator,
    };
    let origin: Arc<str> = Arc::from(file.origin.as_str());
    Factory {
        kind: object_kind,
        origin,
        create: Arc::new(move |builder, declaration| {
            let client = match builder.lookup("ClientHandler", &declaration.at)? {
                Some(HeapObject::Handler(handler)) => Some(handler),
                _ => None,
            };
            let config = builder.plugin_config_value(&declaration.config)?;
            if kind == Kind::Decorator {
                let decorator = PluginDecorator {
                    type_name: type_name.clone(),
                    name: declaration.name.clone(),
                    file: file.clone(),
                    limits,
                    client,
                    declaration: config.to_string(),
                };
                // The decorator's own settings are checked where they are written, even if
                // nothing uses the decorator (yet).
                if config
                    .as_object()
                    .is_some_and(|settings| !settings.is_empty())
                {
                    decorator.validate_declaration().map_err(|error| {
                        declaration.config.error(format!(
                            "plugin {} ({}): the config of decorator \"{}\" is invalid: {error}",
                            type_name, file.origin, declaration.name
                        ))
                    })?;
                }
                return Ok(HeapObject::Decorator(Arc::new(decorator)));
            }
            let mut secrets = Vec::new();
            collect_secret_ids(&config, &mut secrets);
            // As for native objects, granted secrets come from the heap's
            // SystemAndEnvSecretStore unless the config names a `secretsProvider`.
            let secrets_provider =
                if secrets.is_empty() && declaration.config.get("secretsProvider").is_none() {
                    None
                } else {
                    Some(crate::secrets::SecretsProvider::for_config(
                        builder,
                        &declaration.config,
                    )?)
                };
            let info = Arc::new(ObjectInfo {
                type_name: type_name.clone(),
                object_name: declaration.name.clone(),
                route: builder.route().map(str::to_owned),
                file: file.origin.clone(),
                config: config.to_string(),
                declaration: config.to_string(),
                secrets,
                client,
                secrets_provider,
                handlers: std::sync::OnceLock::new(),
                filters: std::sync::OnceLock::new(),
                decoration_point: None,
                log_budget: log_budget::LogBudget::for_file(&file, &limits),
            });
            let plugin = Arc::new(PluginObject::new(info.clone(), file.clone(), limits));
            let (instance, refs) = block_on(plugin.instantiate(true))
                .map_err(|e| declaration.at.error(e))?
                .map_err(|error| {
                    declaration.at.error(format!(
                        "plugin {} ({}): init of \"{}\" failed: {}",
                        type_name,
                        file.origin,
                        declaration.name,
                        object::describe(&error)
                    ))
                })?;
            let handlers = refs
                .handlers
                .iter()
                .map(|reference| {
                    let at = referenced_at(builder, &declaration.config, reference)?;
                    builder.resolve_handler(&at)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let filters = refs
                .filters
                .iter()
                .map(|reference| {
                    let at = referenced_at(builder, &declaration.config, reference)?;
                    builder.resolve_filter(&at)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let _ = info.handlers.set(handlers);
            let _ = info.filters.set(filters);
            plugin.checkin(instance);
            Ok(match kind {
                Kind::Handler => HeapObject::Handler(Arc::new(PluginHandler(plugin))),
                _ => HeapObject::Filter(Arc::new(PluginFilter(plugin))),
            })
        }),
    }
}

#[cfg(test)]
mod tests;
